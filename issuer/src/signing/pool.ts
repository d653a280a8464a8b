/**
 * BlindSign on worker threads: the RSA private operation (~250 µs for 2048 bits) is most of an
 * issuance's CPU, and on the event loop it capped one issuer process at one core. A pool of
 * threads (default: at most one per core, started as signing needs them) signs while the event
 * loop authenticates, rate-limits and records; `blindSign` itself (the RFC 9474 §4.3 checks and
 * the RSAVP1 fault check) is unchanged.
 *
 * Keys: each poll's private key goes to a thread with its first request there (a KeyObject,
 * cloned by postMessage inside the process) and is kept by poll id; `forget` drops it everywhere.
 * Errors keep their class: FormatError (the client's message) and SigningFailureError.
 *
 * A thread that dies fails its calls in flight and leaves the pool; the next call starts another.
 * One that dies before it is ready (its code cannot load) would die again: the pool then refuses
 * every call, naming the cause.
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FormatError } from '@blindvote/crypto';
import { SigningFailureError } from '@blindvote/crypto/issuer';
import type { SignReply, SignRequest } from './worker.ts';

interface Call {
  readonly resolve: (sig: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly worker: Worker;
  readonly keys: Set<string>;
  readonly calls: Map<number, Call>;
  /** Its code loaded (worker.ts posts `{ ready: true }` first). */
  ready: boolean;
}

const ERRORS: Record<string, new (message: string) => Error> = { FormatError, SigningFailureError };

export interface SigningPoolOptions {
  /** Most threads (0: one per core). */
  readonly threads?: number;
  /** The thread's code (tests start threads that crash). */
  readonly worker?: URL;
}

export class SigningPool {
  readonly #limit: number;
  readonly #workerUrl: URL;
  readonly #threads: Thread[] = [];
  #next = 0;
  #ids = 0;
  #closed = false;
  /** Why the pool cannot sign: a thread died before it was ready. */
  #broken: Error | null = null;

  constructor(options: SigningPoolOptions = {}) {
    this.#limit = (options.threads ?? 0) > 0 ? options.threads! : availableParallelism();
    this.#workerUrl = options.worker ?? new URL('./worker.ts', import.meta.url);
  }

  #spawn(): Thread {
    const worker = new Worker(this.#workerUrl);
    worker.unref(); // referenced only while a call is pending
    const thread: Thread = { worker, keys: new Set(), calls: new Map(), ready: false };
    worker.on('message', (reply: SignReply | { ready: true }) => {
      if ('ready' in reply) {
        thread.ready = true;
        return;
      }
      const { id, sig, error } = reply;
      const call = thread.calls.get(id)!;
      thread.calls.delete(id);
      if (thread.calls.size === 0) worker.unref();
      if (error === undefined) return call.resolve(sig!);
      call.reject(new (ERRORS[error.name] ?? Error)(error.message));
    });
    const fail = (error: Error) => {
      for (const call of thread.calls.values()) call.reject(error);
      thread.calls.clear();
      const i = this.#threads.indexOf(thread);
      if (i < 0) return; // 'error' and then 'exit': handled once
      this.#threads.splice(i, 1);
      if (!thread.ready && !this.#closed) this.#broken ??= error;
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('signing: a BlindSign thread exited')));
    return thread;
  }

  /** An idle thread; else a new one while there are fewer than the limit; else the next, round robin. */
  #thread(): Thread {
    const idle = this.#threads.find((t) => t.calls.size === 0);
    if (idle !== undefined) return idle;
    if (this.#threads.length < this.#limit) {
      const thread = this.#spawn();
      this.#threads.push(thread);
      return thread;
    }
    return this.#threads[this.#next++ % this.#threads.length]!;
  }

  /** Threads started and alive (the tests read it). */
  get size(): number {
    return this.#threads.length;
  }

  /** RFC 9474 BlindSign of `blindedMsg` with the poll's `key`, on a thread of the pool. */
  sign(pollId: string, key: KeyObject, blindedMsg: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('signing: the pool is closed'));
    if (this.#broken !== null) return Promise.reject(new Error(`signing: a BlindSign thread could not start: ${this.#broken.message}`));
    const thread = this.#thread();
    const id = this.#ids++;
    const request: SignRequest = { id, pollId, blindedMsg, ...(thread.keys.has(pollId) ? {} : { key }) };
    thread.keys.add(pollId);
    return new Promise((resolve, reject) => {
      if (thread.calls.size === 0) thread.worker.ref();
      thread.calls.set(id, { resolve, reject });
      thread.worker.postMessage(request);
    });
  }

  /** Drops a poll's key from every thread. */
  forget(pollId: string): void {
    for (const thread of this.#threads) {
      if (thread.keys.delete(pollId)) thread.worker.postMessage({ forget: pollId });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }
}
