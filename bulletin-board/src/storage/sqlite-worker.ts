/**
 * The worker thread that owns the embedded storage's writer connection (see sqlite.ts). It
 * answers `{ id, method, args }` with `{ id, value }` or `{ id, error: { name, message, pollId } }`.
 *
 * Calls arrive pipelined (sqlite.ts posts `begin` and `write` without waiting for their answers),
 * so a transaction is aborted by its first failure, as in PostgreSQL: from then until `rollback`
 * every call, `commit` included, fails and names that first failure. Nothing after a failed
 * `begin` can run outside a transaction, and nothing after a failed `write` can be committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteWriter } from './sqlite-writer.ts';

export interface WriterCall {
  readonly id: number;
  readonly method: keyof SqliteWriter;
  readonly args: readonly unknown[];
}

const writer = new SqliteWriter((workerData as { path: string }).path);
/** Between `begin` and `commit`/`rollback`. */
let open = false;
/** The first failure of the open transaction. */
let aborted: string | null = null;

parentPort!.on('message', ({ id, method, args }: WriterCall) => {
  if (method === 'begin') {
    open = true;
    aborted = null;
  }
  if (aborted !== null && method !== 'rollback') {
    parentPort!.postMessage({ id, error: { name: 'Error', message: `storage: the transaction was aborted by an earlier failure: ${aborted}` } });
    return;
  }
  if (method === 'rollback') aborted = null; // the transaction ends here, failed or not
  try {
    const value = (writer[method] as (...a: readonly unknown[]) => unknown)(...args);
    if (method === 'commit' || method === 'rollback') open = false;
    parentPort!.postMessage({ id, value });
  } catch (error) {
    const { name, message, pollId } = error as Error & { pollId?: string };
    if (method === 'rollback') open = false;
    else if (open) aborted = message;
    parentPort!.postMessage({ id, error: { name, message, pollId } });
  }
});
