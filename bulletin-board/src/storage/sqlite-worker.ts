/**
 * The worker thread that owns the embedded storage's writer connection (see sqlite.ts). It
 * answers `{ id, method, args }` with `{ id, value }` or `{ id, error: { name, message, pollId } }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteWriter } from './sqlite-writer.ts';

export interface WriterCall {
  readonly id: number;
  readonly method: keyof SqliteWriter;
  readonly args: readonly unknown[];
}

const writer = new SqliteWriter((workerData as { path: string }).path);
parentPort!.on('message', ({ id, method, args }: WriterCall) => {
  try {
    const value = (writer[method] as (...a: readonly unknown[]) => unknown)(...args);
    parentPort!.postMessage({ id, value });
  } catch (error) {
    const { name, message, pollId } = error as Error & { pollId?: string };
    parentPort!.postMessage({ id, error: { name, message, pollId } });
  }
});
