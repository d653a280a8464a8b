/**
 * The embedded storage's writer: every statement of a transaction, synchronously, on its own
 * connection. It runs in a worker thread (`sqlite-worker.ts`), so a batch's inserts and its
 * fsync never stall the event loop that serves voters.
 */
import type { StatementSync } from 'node:sqlite';
import { hexKey, UnknownLogError } from '../storage.ts';
import type { ChunkWrite, LogHead, SpendRow, TileWrite } from '../storage.ts';
import { headOf, joinHashes, migrate, open } from './sqlite-db.ts';
import type { DatabaseSync, Row } from './sqlite-db.ts';

const pairs = (rows: readonly SpendRow[]) => JSON.stringify(rows.map((r) => [hexKey(r.tokenId), r.index]));
const triples = (rows: readonly SpendRow[]) => JSON.stringify(rows.map((r) => [hexKey(r.tokenId), r.index, hexKey(r.leafHash)]));

export class SqliteWriter {
  readonly #db: DatabaseSync;
  readonly #lockHead: StatementSync;
  readonly #spend: StatementSync;
  readonly #respend: StatementSync;
  readonly #spentIndexes: StatementSync;
  readonly #putChunk: StatementSync;
  readonly #chunkAt: StatementSync;
  readonly #newTile: StatementSync;
  readonly #growTile: StatementSync;
  readonly #putHead: StatementSync;
  readonly #putCheckpoint: StatementSync;
  readonly #createLog: StatementSync;

  constructor(path: string) {
    const w = (this.#db = open(path));
    migrate(w);
    this.#lockHead = w.prepare('SELECT * FROM logs WHERE poll_id = ?');
    this.#spend = w.prepare(
      `INSERT INTO spent (poll_id, token_id, leaf_index, leaf_hash)
       SELECT ?1, unhex(j.value ->> 0), j.value ->> 1, unhex(j.value ->> 2) FROM json_each(?2) AS j WHERE true
       ON CONFLICT DO NOTHING RETURNING leaf_index`,
    );
    this.#respend = w.prepare(
      `UPDATE spent SET leaf_index = j.value ->> 1
         FROM json_each(?2) AS j WHERE poll_id = ?1 AND token_id = unhex(j.value ->> 0)`,
    );
    this.#spentIndexes = w.prepare(
      `SELECT lower(hex(token_id)) AS id, leaf_index FROM spent
        WHERE poll_id = ?1 AND token_id IN (SELECT unhex(value) FROM json_each(?2))`,
    );
    this.#putChunk = w.prepare('INSERT INTO entry_chunks (poll_id, first_index, count, data) VALUES (?, ?, ?, ?)');
    this.#chunkAt = w.prepare(
      'SELECT first_index, data FROM entry_chunks WHERE poll_id = ? AND first_index <= ? ORDER BY first_index DESC LIMIT 1',
    );
    this.#newTile = w.prepare('INSERT INTO tiles (poll_id, level, idx, hashes) VALUES (?, ?, ?, ?)');
    this.#growTile = w.prepare(
      `UPDATE tiles SET hashes = unhex(hex(substr(hashes, 1, ?1)) || hex(?2))
        WHERE poll_id = ?3 AND level = ?4 AND idx = ?5 AND length(hashes) = ?1`,
    );
    this.#putHead = w.prepare('UPDATE logs SET size = ?, compact = ?, checkpoint = ? WHERE poll_id = ?');
    this.#putCheckpoint = w.prepare('INSERT INTO checkpoints (poll_id, size, note) VALUES (?, ?, ?)');
    this.#createLog = w.prepare(
      'INSERT INTO logs (poll_id, origin, size, compact, checkpoint) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
  }

  /** BEGIN IMMEDIATE takes SQLite's one write lock (so `spendThenLock` needs no more). */
  begin(): void {
    this.#db.exec('BEGIN IMMEDIATE');
  }

  commit(): void {
    this.#db.exec('COMMIT');
  }

  rollback(): void {
    if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
  }

  createLog(head: LogHead): boolean {
    this.begin();
    try {
      const { changes } = this.#createLog.run(head.pollId, head.origin, head.size, joinHashes(head.compact), head.checkpoint);
      if (changes > 0) this.#putCheckpoint.run(head.pollId, head.size, head.checkpoint);
      this.commit();
      return changes > 0;
    } catch (error) {
      this.rollback();
      throw error;
    }
  }

  /** Indexes of the rows NOT inserted (their token was spent before), and the head. */
  spendThenLock(pollId: string, rows: readonly SpendRow[]): [number[], LogHead] {
    // BEGIN IMMEDIATE took SQLite's one write lock: the head needs reading only, and the order
    // of spending and locking does not matter with one writer.
    const head = this.#lockHead.get(pollId) as Row | undefined;
    if (head === undefined) throw new UnknownLogError(pollId);
    const lost = new Set(rows.map((r) => r.index));
    if (rows.length > 0) for (const row of this.#spend.all(pollId, triples(rows)) as Row[]) lost.delete(Number(row.leaf_index));
    return [[...lost], headOf(head)];
  }

  respend(pollId: string, rows: readonly SpendRow[]): void {
    this.#respend.run(pollId, pairs(rows));
  }

  spentIndexes(pollId: string, tokenIds: readonly Uint8Array[]): [string, number][] {
    const rows = this.#spentIndexes.all(pollId, JSON.stringify(tokenIds.map(hexKey))) as Row[];
    return rows.map((row) => [row.id as string, Number(row.leaf_index)]);
  }

  /** The chunks (first index, bytes) holding these entry indexes, each once. */
  chunksAt(pollId: string, indexes: readonly number[]): [number, Uint8Array][] {
    const chunks = new Map<number, Uint8Array>();
    for (const index of indexes) {
      const row = this.#chunkAt.get(pollId, index) as Row | undefined;
      if (row !== undefined) chunks.set(Number(row.first_index), row.data as Uint8Array);
    }
    return [...chunks];
  }

  write(pollId: string, chunks: readonly ChunkWrite[], tiles: readonly TileWrite[], next: LogHead): void {
    for (const c of chunks) this.#putChunk.run(pollId, c.firstIndex, c.count, c.data);
    for (const t of tiles) {
      if (t.start === 0) this.#newTile.run(pollId, t.level, t.index, t.hashes);
      else if (this.#growTile.run(t.start * 32, t.hashes, pollId, t.level, t.index).changes !== 1) {
        throw new Error(`storage: tile ${t.level}/${t.index} lacks its first ${t.start} hashes`);
      }
    }
    this.#putHead.run(next.size, joinHashes(next.compact), next.checkpoint, pollId);
    this.#putCheckpoint.run(pollId, next.size, next.checkpoint);
  }

  close(): void {
    this.#db.close();
  }
}
