/**
 * Embedded log storage on `node:sqlite` (the all-in-one default; why this engine:
 * docs/decisions.md). One file, WAL, `synchronous=FULL`: a commit is on disk before any
 * caller is told (DESIGN.md promise 3).
 *
 * Two connections: the writer runs transactions (serialised here: SQLite has one writer),
 * the reader serves everything else from the last committed snapshot, so a reader can never
 * see a batch that might still roll back.
 */
import type { DatabaseSync as Database, StatementSync } from 'node:sqlite';
import { toHex } from '@blindvote/crypto';
import { chunkEntries, UnknownLogError } from '../storage.ts';
import type { Chunk, ChunkWrite, LogHead, LogStorage, LogTx, SpendRow, TileWrite } from '../storage.ts';

/**
 * `node:sqlite` is flagged experimental in Node 22 and says so once, at load. Drop exactly that
 * warning (not every ExperimentalWarning) while loading it.
 */
function loadSqlite(): typeof import('node:sqlite') {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const message = typeof warning === 'string' ? warning : warning.message;
    if (message.startsWith('SQLite is an experimental feature')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
}

const { DatabaseSync } = loadSqlite();
type DatabaseSync = Database;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE logs (
     poll_id TEXT PRIMARY KEY,
     origin TEXT NOT NULL,
     size INTEGER NOT NULL,
     compact BLOB NOT NULL,
     checkpoint TEXT NOT NULL
   ) STRICT;
   CREATE TABLE spent (
     poll_id TEXT NOT NULL,
     token_id BLOB NOT NULL,
     leaf_index INTEGER NOT NULL,
     PRIMARY KEY (poll_id, token_id)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE entry_chunks (
     poll_id TEXT NOT NULL,
     first_index INTEGER NOT NULL,
     count INTEGER NOT NULL,
     data BLOB NOT NULL,
     PRIMARY KEY (poll_id, first_index)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE tiles (
     poll_id TEXT NOT NULL,
     level INTEGER NOT NULL,
     idx INTEGER NOT NULL,
     hashes BLOB NOT NULL,
     PRIMARY KEY (poll_id, level, idx)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE checkpoints (
     poll_id TEXT NOT NULL,
     size INTEGER NOT NULL,
     note TEXT NOT NULL,
     PRIMARY KEY (poll_id, size)
   ) STRICT, WITHOUT ROWID;`,
];

function open(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
  return db;
}

function migrate(db: DatabaseSync): void {
  const { user_version: applied } = db.prepare('PRAGMA user_version').get() as { user_version: number };
  for (let v = applied; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

type Row = Record<string, unknown>;

function headOf(row: Row): LogHead {
  const compact = row.compact as Uint8Array;
  const hashes: Uint8Array[] = [];
  for (let o = 0; o < compact.length; o += 32) hashes.push(compact.slice(o, o + 32));
  return {
    pollId: row.poll_id as string,
    origin: row.origin as string,
    size: Number(row.size),
    compact: hashes,
    checkpoint: row.checkpoint as string,
  };
}

function joinHashes(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => out.set(h, i * 32));
  return out;
}

export class SqliteLogStorage implements LogStorage {
  readonly #writer: DatabaseSync;
  readonly #reader: DatabaseSync;
  readonly #lockHead: StatementSync;
  readonly #readHead: StatementSync;
  readonly #readChunks: StatementSync;
  readonly #readTile: StatementSync;
  readonly #spend: StatementSync;
  readonly #respend: StatementSync;
  readonly #spentIndexes: StatementSync;
  readonly #spentIndex: StatementSync;
  readonly #putChunk: StatementSync;
  readonly #newTile: StatementSync;
  readonly #chunkAt: StatementSync;
  readonly #growTile: StatementSync;
  readonly #putHead: StatementSync;
  readonly #putCheckpoint: StatementSync;
  readonly #checkpointAt: StatementSync;
  readonly #createLog: StatementSync;
  #queue: Promise<unknown> = Promise.resolve();

  /** Opens (creating and migrating as needed) the database file at `path`. */
  constructor(path: string) {
    this.#writer = open(path);
    migrate(this.#writer);
    this.#reader = open(path);
    this.#lockHead = this.#writer.prepare('SELECT * FROM logs WHERE poll_id = ?');
    this.#readHead = this.#reader.prepare('SELECT * FROM logs WHERE poll_id = ?');
    this.#readChunks = this.#reader.prepare(
      `SELECT first_index, data FROM entry_chunks
        WHERE poll_id = ?1 AND first_index < ?3
          AND first_index >= (SELECT coalesce(max(first_index), 0) FROM entry_chunks WHERE poll_id = ?1 AND first_index <= ?2)
        ORDER BY first_index`,
    );
    this.#readTile = this.#reader.prepare('SELECT hashes FROM tiles WHERE poll_id = ? AND level = ? AND idx = ?');
    const w = this.#writer;
    this.#spend = w.prepare(
      `INSERT INTO spent (poll_id, token_id, leaf_index)
       SELECT ?1, unhex(j.value ->> 0), j.value ->> 1 FROM json_each(?2) AS j WHERE true
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
    this.#spentIndex = this.#reader.prepare('SELECT leaf_index FROM spent WHERE poll_id = ? AND token_id = ?');
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
    this.#checkpointAt = this.#reader.prepare('SELECT note FROM checkpoints WHERE poll_id = ? AND size = ?');
  }

  /** Serialises writer work: SQLite has one writer, and a transaction spans awaits. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  createLog(head: LogHead): Promise<boolean> {
    return this.#exclusive(async () => {
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        const { changes } = this.#createLog.run(head.pollId, head.origin, head.size, joinHashes(head.compact), head.checkpoint);
        if (changes > 0) this.#putCheckpoint.run(head.pollId, head.size, head.checkpoint);
        this.#writer.exec('COMMIT');
        return changes > 0;
      } catch (error) {
        if (this.#writer.isTransaction) this.#writer.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async head(pollId: string): Promise<LogHead | null> {
    const row = this.#readHead.get(pollId) as Row | undefined;
    return row === undefined ? null : headOf(row);
  }

  transact<T>(pollId: string, fn: (tx: LogTx) => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.#tx(pollId));
        this.#writer.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#writer.isTransaction) this.#writer.exec('ROLLBACK');
        throw error;
      }
    });
  }

  #tx(pollId: string): LogTx {
    const pairs = (rows: readonly SpendRow[]) => JSON.stringify(rows.map((r) => [toHex(r.tokenId), r.index]));
    return {
      // BEGIN IMMEDIATE already holds SQLite's one write lock.
      lock: async () => {
        const row = this.#lockHead.get(pollId) as Row | undefined;
        if (row === undefined) throw new UnknownLogError(pollId);
        return headOf(row);
      },
      spend: async (rows) => {
        const lost = new Set(rows.map((r) => r.index));
        for (const row of this.#spend.all(pollId, pairs(rows)) as Row[]) lost.delete(Number(row.leaf_index));
        return lost;
      },
      respend: async (rows) => {
        this.#respend.run(pollId, pairs(rows));
      },
      spentIndexes: async (tokenIds) => {
        const out = new Map<string, number>();
        const ids = JSON.stringify(tokenIds.map(toHex));
        for (const row of this.#spentIndexes.all(pollId, ids) as Row[]) out.set(row.id as string, Number(row.leaf_index));
        return out;
      },
      entriesAt: async (indexes) => {
        const chunks = new Map<number, Uint8Array>();
        for (const index of indexes) {
          const row = this.#chunkAt.get(pollId, index) as Row | undefined;
          if (row !== undefined) chunks.set(Number(row.first_index), row.data as Uint8Array);
        }
        const wanted = new Set(indexes);
        return chunkEntries(chunks, (i) => wanted.has(i));
      },
      write: async (chunks: readonly ChunkWrite[], tiles: readonly TileWrite[], next: LogHead) => {
        for (const c of chunks) this.#putChunk.run(pollId, c.firstIndex, c.count, c.data);
        for (const t of tiles) {
          if (t.start === 0) this.#newTile.run(pollId, t.level, t.index, t.hashes);
          else if (this.#growTile.run(t.start * 32, t.hashes, pollId, t.level, t.index).changes !== 1) {
            throw new Error(`storage: tile ${t.level}/${t.index} lacks its first ${t.start} hashes`);
          }
        }
        this.#putHead.run(next.size, joinHashes(next.compact), next.checkpoint, pollId);
        this.#putCheckpoint.run(pollId, next.size, next.checkpoint);
      },
    };
  }

  async readTile(pollId: string, level: number, index: number): Promise<Uint8Array | null> {
    const row = this.#readTile.get(pollId, level, index) as Row | undefined;
    return row === undefined ? null : (row.hashes as Uint8Array);
  }

  async readEntries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    const chunks = (this.#readChunks.all(pollId, from, to) as Row[]).map((r): Chunk => [Number(r.first_index), r.data as Uint8Array]);
    return [...chunkEntries(chunks, (i) => i >= from && i < to).values()];
  }

  async checkpointAt(pollId: string, size: number): Promise<string | null> {
    const row = this.#checkpointAt.get(pollId, size) as Row | undefined;
    return row === undefined ? null : (row.note as string);
  }

  async spentIndex(pollId: string, tokenId: Uint8Array): Promise<number | null> {
    const row = this.#spentIndex.get(pollId, tokenId) as Row | undefined;
    return row === undefined ? null : Number(row.leaf_index);
  }

  async close(): Promise<void> {
    await this.#queue;
    this.#reader.close();
    this.#writer.close();
  }
}
