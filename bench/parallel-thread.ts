/** A thread of `parallelRate` (parallel.ts): one raw operation in a loop for `seconds`, its rate posted back. */
import { constants, privateDecrypt, verify } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { ParallelJob } from './parallel.ts';
import { rateSync } from './timing.ts';

const { op, key, items, seconds } = workerData as ParallelJob;
const run: Record<ParallelJob['op'], (i: number) => void> = {
  rsasp1: (i) => privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, items[i % items.length]!.data),
  'pss-verify': (i) => {
    const t = items[i % items.length]!;
    if (!verify('sha384', t.data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, t.sig!)) throw new Error('bench: a token does not verify');
  },
};
parentPort!.postMessage(rateSync(run[op], seconds));
