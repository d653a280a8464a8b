/** A thread of the issuer row's baseline: raw RSASP1 (privateDecrypt, no padding) for `seconds`, its rate posted back. */
import { constants, privateDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { rateSync } from './timing.ts';

const { key, messages, seconds } = workerData as { key: KeyObject; messages: Uint8Array[]; seconds: number };
parentPort!.postMessage(rateSync((i) => privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, messages[i % messages.length]!), seconds));
