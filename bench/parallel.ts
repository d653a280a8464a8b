/**
 * Baselines on several cores: a raw operation on `threads` threads at once (parallel-thread.ts),
 * rates summed; for rows whose subject uses that many cores.
 */
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface ParallelJob {
  /** rsasp1: privateDecrypt with no padding of `data`; pss-verify: RSA-PSS SHA-384 verify of `sig` over `data`. */
  readonly op: 'rsasp1' | 'pss-verify';
  readonly key: KeyObject;
  readonly items: readonly { readonly data: Uint8Array; readonly sig?: Uint8Array }[];
  readonly seconds: number;
}

export async function parallelRate(job: ParallelJob, threads: number): Promise<number> {
  const rates = await Promise.all(
    Array.from({ length: threads }, () => new Promise<number>((resolve, reject) => {
      const worker = new Worker(new URL('./parallel-thread.ts', import.meta.url), { workerData: job });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`bench: a ${job.op} thread exited (${code}) before it reported its rate`)));
    })),
  );
  return rates.reduce((a, b) => a + b, 0);
}
