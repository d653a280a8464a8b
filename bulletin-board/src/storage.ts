/**
 * The storage a poll's log needs, declared by the code that uses it (the sequencer and the
 * reader). Two native implementations, no shared base class: `storage/sqlite.ts` (embedded,
 * `npm start`) and `storage/postgres.ts` (at scale). Both pass `storage-contract.ts`.
 *
 * Layout, per poll (C2SP tlog-tiles shapes, so serving is a lookup):
 * - head: size, compact range, latest signed checkpoint (one row, the writer's lock);
 * - spent: token id → leaf index and leaf hash, UNIQUE(poll, token id) — DESIGN.md promise 2 —
 *   indexed by leaf hash too (receipts and proofs by leaf hash);
 * - entry chunks: consecutive entries in bundle encoding, never crossing a 256-entry bundle;
 * - tiles: hash tiles, rewritten only while partial, append-only in content;
 * - checkpoints: every signed checkpoint, by size (consistency proofs between any two).
 */

import { decodeBundle } from '@blindvote/crypto';

export interface LogHead {
  readonly pollId: string;
  /** Checkpoint origin: the board prefix URL without its scheme (DESIGN.md wire formats). */
  readonly origin: string;
  readonly size: number;
  /** Perfect-subtree roots of [0, size), left to right (RFC 9162 compact range). */
  readonly compact: readonly Uint8Array[];
  /** Signed note text of the checkpoint at `size`. */
  readonly checkpoint: string;
}

export interface SpendRow {
  readonly tokenId: Uint8Array;
  readonly index: number;
  /** Leaf hash of the entry spending the token: stored on insert, kept when the row moves. */
  readonly leafHash: Uint8Array;
}

/** New hashes for one tile: they go at position `start`, after the tile's existing hashes. */
export interface TileWrite {
  readonly level: number;
  readonly index: number;
  /** 0 for a new tile; else the tile MUST hold exactly `start` hashes (else: abort, never truncate). */
  readonly start: number;
  /** Concatenated 32-byte hashes. */
  readonly hashes: Uint8Array;
}

export interface ChunkWrite {
  readonly firstIndex: number;
  readonly count: number;
  /** Bundle encoding (uint16 length ‖ bytes)*; MUST NOT cross a 256-entry bundle boundary. */
  readonly data: Uint8Array;
}

/** One transaction on one poll's log. */
export interface LogTx {
  /**
   * The transaction's first call (an implementation may start the transaction again inside it,
   * as PostgreSQL's does when its fast spend meets a spent token). Spends the token ids of `rows` (`INSERT … ON CONFLICT DO
   * NOTHING` in effect), THEN takes the log's writer lock (at most one writer per log at a time)
   * and returns its committed head with the indexes of the rows NOT inserted (their tokens were
   * already spent and keep their original leaf index). Spending before locking lets it overlap the
   * previous writer's commit (the UNIQUE constraint, not the lock, guards tokens), and a writer
   * holding the lock never waits on another's spent rows. Whatever depends on the head MUST
   * come after.
   */
  spendThenLock(rows: readonly SpendRow[]): Promise<{ lost: ReadonlySet<number>; head: LogHead }>;
  /** Moves freshly spent rows of this transaction to their final leaf indexes. */
  respend(rows: readonly SpendRow[]): Promise<void>;
  /** Leaf index of each already spent token id (keyed by `hexKey`). */
  spentIndexes(tokenIds: readonly Uint8Array[]): Promise<Map<string, number>>;
  /** Committed entries at these indexes (each chunk read once), absent where there is none. */
  entriesAt(indexes: readonly number[]): Promise<Map<number, Uint8Array>>;
  /**
   * Writes the integrated batch and the new head; visible to readers only at commit. It may
   * resolve before the write is done (the embedded storage pipelines it): a failed write then
   * fails the commit, and nothing of the transaction is kept.
   */
  write(chunks: readonly ChunkWrite[], tiles: readonly TileWrite[], head: LogHead): Promise<void>;
}

export interface LogStorage {
  /** Creates an empty log; false (and nothing changed) if the poll already has one. */
  createLog(head: LogHead): Promise<boolean>;
  head(pollId: string): Promise<LogHead | null>;
  /** Runs `fn` in one transaction on the poll's log; commits iff it resolves. */
  transact<T>(pollId: string, fn: (tx: LogTx) => Promise<T>): Promise<T>;
  /** Current content of a hash tile, or null. Readers slice it to the width they need. */
  readTile(pollId: string, level: number, index: number): Promise<Uint8Array | null>;
  /** Committed entries [from, to) (fewer if the log is shorter). */
  readEntries(pollId: string, from: number, to: number): Promise<Uint8Array[]>;
  /** The signed checkpoint the log published at exactly `size`, or null. */
  checkpointAt(pollId: string, size: number): Promise<string | null>;
  /** Leaf index where the token id was spent, or null. */
  spentIndex(pollId: string, tokenId: Uint8Array): Promise<number | null>;
  /**
   * Lowest leaf index of a committed entry with this leaf hash (RFC 9162 §2.1.1), or null. Only
   * entries appended with a token id are found (the hash is kept on their spent row).
   */
  leafIndex(pollId: string, leafHash: Uint8Array): Promise<number | null>;
  /** Every poll id that has a log, in byte order. */
  logs(): Promise<string[]>;
  close(): Promise<void>;
}

export class UnknownLogError extends Error {
  override name = 'UnknownLogError';
  readonly pollId: string;
  constructor(pollId: string) {
    super(`no log for poll "${pollId}"`);
    this.pollId = pollId;
  }
}

/** A stored chunk: the index of its first entry and its bundle-encoded bytes. */
export type Chunk = readonly [first: number, data: Uint8Array];

/** The entries of `chunks` whose index `wanted` accepts, in index order of the chunks given. */
export function chunkEntries(chunks: Iterable<Chunk>, wanted: (index: number) => boolean): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const [first, data] of chunks) {
    decodeBundle(data).forEach((entry, k) => {
      if (wanted(first + k)) out.set(first + k, entry);
    });
  }
  return out;
}

/** Map key for a token id (native hex: this is per ballot on the hot path). */
export const hexKey = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
