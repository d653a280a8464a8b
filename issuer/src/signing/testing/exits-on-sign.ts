/** A BlindSign thread that loads, says it is ready, and exits at its first request (pool.test.ts). */
import { parentPort } from 'node:worker_threads';

parentPort!.on('message', () => process.exit(3));
parentPort!.postMessage({ ready: true });
