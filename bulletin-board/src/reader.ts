/**
 * Reading a poll's log: entries, checkpoints, and inclusion / consistency proofs computed from
 * the stored hash tiles in O(log n) node reads (the same `tileNodeReader` a client runs over
 * HTTP, so server and verifier share one proof code path).
 */
import { consistencyProof, inclusionProof, TILE_WIDTH, tileNodeReader } from '@blindvote/crypto';
import type { LogStorage } from './storage.ts';

/** Most entries one `entries` call returns. */
export const MAX_READ = 4096;

export class LogReader {
  readonly #storage: LogStorage;

  constructor(storage: LogStorage) {
    this.#storage = storage;
  }

  #nodes(pollId: string, size: number) {
    return tileNodeReader(size, async (level: number, index: number, width: number) => {
      const tile = await this.#storage.readTile(pollId, level, index);
      if (tile === null || tile.length < width * 32) {
        throw new Error(`storage: tile ${level}/${index} has fewer than ${width} hashes`);
      }
      return tile.subarray(0, width * 32);
    });
  }

  /** Inclusion proof of leaf `index` in the tree of `size` (RFC 9162 §2.1.3.1). */
  inclusionProof(pollId: string, index: number, size: number): Promise<Uint8Array[]> {
    return inclusionProof(index, size, this.#nodes(pollId, size));
  }

  /** Consistency proof from `size1` to `size2` (RFC 9162 §2.1.4.1). */
  consistencyProof(pollId: string, size1: number, size2: number): Promise<Uint8Array[]> {
    return consistencyProof(size1, size2, this.#nodes(pollId, size2));
  }

  /** Entries [from, to), at most MAX_READ at a time (serve more as bundles). */
  entries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && 0 <= from && from <= to && to - from <= MAX_READ)) {
      return Promise.reject(new RangeError(`entries: [${from}, ${to}) is not a range of at most ${MAX_READ}`));
    }
    return this.#storage.readEntries(pollId, from, to);
  }

  /**
   * Entry bundle `index`: its first `width` entries (C2SP tlog-tiles `.p/<width>`), or all it
   * holds (up to 256) when no width is given.
   */
  bundle(pollId: string, index: number, width = TILE_WIDTH): Promise<Uint8Array[]> {
    return this.#storage.readEntries(pollId, index * TILE_WIDTH, index * TILE_WIDTH + Math.min(width, TILE_WIDTH));
  }
}
