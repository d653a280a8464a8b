/** A BlindSign thread of SigningPool (pool.ts): keys by poll id, one signature per request. */
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { blindSign } from '@blindvote/crypto/issuer';

export interface SignRequest {
  readonly id: number;
  readonly pollId: string;
  /** Sent with the first request of a poll on this thread. */
  readonly key?: KeyObject;
  readonly blindedMsg: Uint8Array;
}

export interface SignReply {
  readonly id: number;
  readonly sig?: Uint8Array;
  readonly error?: { readonly name: string; readonly message: string };
}

const keys = new Map<string, KeyObject>();

parentPort?.on('message', (message: SignRequest | { forget: string }) => {
  if ('forget' in message) {
    keys.delete(message.forget);
    return;
  }
  const { id, pollId, key, blindedMsg } = message;
  if (key !== undefined) keys.set(pollId, key);
  let reply: SignReply;
  try {
    reply = { id, sig: blindSign(keys.get(pollId)!, blindedMsg) };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    reply = { id, error: { name: e.name, message: e.message } };
  }
  parentPort!.postMessage(reply);
});
parentPort?.postMessage({ ready: true }); // this code loaded: the pool may replace this thread if it dies
