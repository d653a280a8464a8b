/**
 * Reading a poll's log: entries, checkpoints, and inclusion / consistency proofs computed from
 * the stored hash tiles in O(log n) node reads (the same `tileNodeReader` a client runs over
 * HTTP, so server and verifier share one proof code path).
 */
import { CompactRange, compactRangeIds, consistencyProof, inclusionProof, TILE_WIDTH, tileNodeReader } from '@blindvote/crypto';
import type { NodeReader } from '@blindvote/crypto';
import type { LogStorage } from './storage.ts';

/** Inclusion proofs in one tree that share tile reads. */
export interface TreeProofs {
  readonly size: number;
  inclusionProof(index: number): Promise<Uint8Array[]>;
}

/** Most entries one `entries` call returns. */
export const MAX_READ = 4096;

export class LogReader {
  readonly #storage: LogStorage;

  constructor(storage: LogStorage) {
    this.#storage = storage;
  }

  #nodes(pollId: string, size: number, cache?: Map<string, Promise<Uint8Array>>) {
    const read = async (level: number, index: number, width: number) => {
      const tile = await this.#storage.readTile(pollId, level, index);
      if (tile === null || tile.length < width * 32) {
        throw new Error(`storage: tile ${level}/${index} has fewer than ${width} hashes`);
      }
      return tile.subarray(0, width * 32);
    };
    if (cache === undefined) return tileNodeReader(size, read);
    return tileNodeReader(size, (level: number, index: number, width: number) => {
      const key = `${level}/${index}`;
      let tile = cache.get(key);
      if (tile === undefined) {
        tile = read(level, index, width);
        cache.set(key, tile);
        tile.catch(() => cache.delete(key));
      }
      return tile;
    });
  }

  /**
   * Inclusion proofs in the tree of `size` that read each tile once (a batch's receipts share
   * one tree). The first `width` hashes of a tile never change, so sharing is always safe.
   */
  tree(pollId: string, size: number): TreeProofs {
    const read = this.#nodes(pollId, size, new Map());
    // Node hashes too: a node inside a tile is hashed up from up to 128 tile hashes, and a batch's
    // leaves are neighbours, so their proofs share most nodes (without this, ~250 SHA-256 per receipt).
    const known = new Map<string, Promise<Uint8Array>>();
    const nodes: NodeReader = (ids) =>
      Promise.all(
        ids.map((id) => {
          const key = `${id.level}/${id.index}`;
          let node = known.get(key);
          if (node === undefined) {
            node = read([id]).then(([hash]) => hash!);
            known.set(key, node);
            node.catch(() => known.delete(key));
          }
          return node;
        }),
      );
    return { size, inclusionProof: (index) => inclusionProof(index, size, nodes) };
  }

  /** RFC 9162 root of the tree of `size`, from its stored compact range nodes. */
  async root(pollId: string, size: number): Promise<Uint8Array> {
    const ids = compactRangeIds(size);
    return CompactRange.fromHashes(size, ids.length === 0 ? [] : await this.#nodes(pollId, size)(ids)).root();
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
   * The first `width` hashes of hash tile (level, index), or null when storage holds fewer (the
   * tree has not grown that far). Callers MUST take `width` from a tree size the log published.
   */
  async tile(pollId: string, level: number, index: number, width: number): Promise<Uint8Array | null> {
    const tile = await this.#storage.readTile(pollId, level, index);
    return tile === null || tile.length < width * 32 ? null : tile.subarray(0, width * 32);
  }

  /** The signed checkpoint the log published at exactly `size`, or null. */
  checkpointAt(pollId: string, size: number): Promise<string | null> {
    return this.#storage.checkpointAt(pollId, size);
  }

  /** Lowest index of an entry with this leaf hash, or null (LogStorage.leafIndex). */
  leafIndex(pollId: string, leafHash: Uint8Array): Promise<number | null> {
    return this.#storage.leafIndex(pollId, leafHash);
  }

  /**
   * Entry bundle `index`: its first `width` entries (C2SP tlog-tiles `.p/<width>`), or all it
   * holds (up to 256) when no width is given.
   */
  bundle(pollId: string, index: number, width = TILE_WIDTH): Promise<Uint8Array[]> {
    return this.#storage.readEntries(pollId, index * TILE_WIDTH, index * TILE_WIDTH + Math.min(width, TILE_WIDTH));
  }
}
