/**
 * The audit's heavy work on every core: entry bundles go to worker threads (bundle-worker.ts),
 * which decode them, hash the leaves and establish each ballot's facts (parsing, ballot rules,
 * token signature); the auditing thread applies the results in log order, so "earlier", the tree,
 * the tiles and every check are decided exactly as without threads. Used once entry 0 (the
 * manifest) is known and valid; the threads are started with it.
 */
import { Worker } from 'node:worker_threads';
import type { BallotFacts } from '@blindvote/crypto';

export interface BundleRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
  /** Index of the bundle's first entry. */
  readonly first: number;
  /** Entries of it the checkpoint covers (the rest, if any, are not checked). */
  readonly width: number;
}

/** One entry: a ballot's facts, a parse error, or its bytes for the auditing thread (manifest, close, tally). */
export type EntryResult =
  | { readonly kind: 'ballot'; readonly facts: BallotFacts }
  | { readonly kind: 'invalid'; readonly error: string }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export type BundleResult =
  | { readonly id: number; readonly ok: true; readonly count: number; readonly leafHashes: Uint8Array; readonly results: readonly EntryResult[] }
  | { readonly id: number; readonly ok: false; readonly error: string };

export class BundleChecker {
  readonly #workers: Worker[];
  readonly #calls = new Map<number, { resolve: (r: BundleResult) => void; reject: (e: Error) => void }>();
  #ids = 0;

  constructor(manifest: Uint8Array, threads: number) {
    this.#workers = Array.from({ length: threads }, () => {
      const worker = new Worker(new URL('./bundle-worker.ts', import.meta.url), { workerData: { manifest } });
      worker.on('message', (result: BundleResult) => {
        const call = this.#calls.get(result.id)!;
        this.#calls.delete(result.id);
        call.resolve(result);
      });
      worker.on('error', (error) => this.#fail(error));
      return worker;
    });
  }

  #fail(error: Error): void {
    for (const call of this.#calls.values()) call.reject(error);
    this.#calls.clear();
  }

  /** Checks bundle bytes whose first entry is `first` (round robin over the threads). */
  check(bytes: Uint8Array, first: number, width: number): Promise<BundleResult> {
    const id = this.#ids++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#workers[id % this.#workers.length]!.postMessage({ id, bytes, first, width } satisfies BundleRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
