/**
 * Log storage on PostgreSQL via `pg` (distributed mode). The board's database MUST be its
 * own: never the issuer's (DESIGN.md promise 5).
 *
 * A transaction takes the poll's `logs` row `FOR UPDATE`: at most one writer appends to a log
 * at a time, even with several sequencer processes, and each batch builds on the committed
 * head it locked. Token ids are spent with one `INSERT … SELECT FROM unnest(…)` per batch (no
 * parameter-count limit, one round trip): a plain INSERT first, and only when it meets a spent
 * token, the batch again with ON CONFLICT DO NOTHING (`spendThenLock`). A failed attempt shows in
 * the server's log as two errors, a unique violation on `spent_pkey` and "current transaction is
 * aborted" for the lock queued behind it, and leaves its rows to vacuum: that is a resubmission
 * or a double spend being sorted out, not a fault.
 */
import pg from 'pg';
import { leafHash } from '@blindvote/crypto';
import { chunkEntries, hexKey, UnknownLogError } from '../storage.ts';
import type { Chunk, ChunkWrite, LogHead, LogStorage, LogTx, SpendRow, TileWrite } from '../storage.ts';

/** Entries read at a time when migration 2 hashes the existing ones. */
const BACKFILL_PAGE = 4096;

/** SQL, or a step that needs code; each runs in its own transaction. */
type Migration = string | ((client: pg.PoolClient) => Promise<void>);

const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE logs (
     poll_id text COLLATE "C" PRIMARY KEY,
     origin text NOT NULL,
     size bigint NOT NULL,
     compact bytea NOT NULL,
     checkpoint text NOT NULL
   );
   CREATE TABLE spent (
     poll_id text COLLATE "C" NOT NULL,
     token_id bytea NOT NULL,
     leaf_index bigint NOT NULL,
     PRIMARY KEY (poll_id, token_id)
   );
   CREATE TABLE entry_chunks (
     poll_id text COLLATE "C" NOT NULL,
     first_index bigint NOT NULL,
     count integer NOT NULL,
     data bytea NOT NULL,
     PRIMARY KEY (poll_id, first_index)
   );
   -- Chunks are written once by the one writer per poll: no compression on that hot path.
   ALTER TABLE entry_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
   CREATE TABLE tiles (
     poll_id text COLLATE "C" NOT NULL,
     level integer NOT NULL,
     idx bigint NOT NULL,
     hashes bytea NOT NULL,
     PRIMARY KEY (poll_id, level, idx)
   );
   CREATE TABLE checkpoints (
     poll_id text COLLATE "C" NOT NULL,
     size bigint NOT NULL,
     note text NOT NULL,
     PRIMARY KEY (poll_id, size)
   );`,
  // 2: the leaf hash of each spent row, indexed (inclusion proofs by leaf hash). Rows written
  // before it get the hash of the entry at their index. A hash index: equality is all a leaf
  // lookup needs, and on 100k appends it cost the sequencer ~1.4 µs of PostgreSQL CPU per entry
  // where a B-tree on (poll_id, leaf_hash) cost ~3.4 µs (random 32-byte keys split pages).
  async (client) => {
    await client.query('ALTER TABLE spent ADD COLUMN leaf_hash bytea');
    await client.query('CREATE INDEX spent_backfill ON spent (poll_id, leaf_index)');
    const { rows: logs } = await client.query<{ poll_id: string; size: string }>('SELECT poll_id, size FROM logs');
    for (const log of logs) {
      for (let from = 0; from < Number(log.size); from += BACKFILL_PAGE) {
        const entries = await readEntries(client, log.poll_id, from, Math.min(Number(log.size), from + BACKFILL_PAGE));
        await client.query(
          `UPDATE spent SET leaf_hash = substring($3::bytea FROM (leaf_index - $2)::int * 32 + 1 FOR 32)
            WHERE poll_id = $1 AND leaf_index >= $2 AND leaf_index < $2 + $4`,
          [log.poll_id, from, joinHashes(entries.map(leafHash)), entries.length],
        );
      }
    }
    await client.query('DROP INDEX spent_backfill');
    await client.query('CREATE INDEX spent_leaf_hash ON spent USING hash (leaf_hash)');
  },
  // 3: spent rows name their log by a 4-byte id instead of the poll id's text. The spend is the
  // sequencer's critical path (the next batch spends while this one writes) and its cost is its
  // indexes: with (integer, 32 bytes) keys a 4096-token spend was ~11 % cheaper than with
  // (text, 32 bytes) keys here, the sequencer ~7 % faster (bench/sequencer.ts).
  `ALTER TABLE logs ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY UNIQUE;
   CREATE TABLE spent_by_log (
     log_id integer NOT NULL,
     token_id bytea NOT NULL,
     leaf_index bigint NOT NULL,
     leaf_hash bytea NOT NULL,
     PRIMARY KEY (log_id, token_id)
   );
   INSERT INTO spent_by_log SELECT l.id, s.token_id, s.leaf_index, s.leaf_hash FROM spent s JOIN logs l USING (poll_id);
   DROP TABLE spent;
   ALTER TABLE spent_by_log RENAME TO spent;
   ALTER INDEX spent_by_log_pkey RENAME TO spent_pkey;
   CREATE INDEX spent_leaf_hash ON spent USING hash (leaf_hash);`,
];

/** The log id of `poll_id = $1`, for the spent table (migration 3). */
const LOG_ID = '(SELECT id FROM logs WHERE poll_id = $1)';

/** Spend rows ($2 token ids, $3 leaf indexes, $4 leaf hashes), in token order, of log $1. */
const SPEND_ROWS = `SELECT l.id, substring($2::bytea FROM (n::int - 1) * 32 + 1 FOR 32) AS t, i, substring($4::bytea FROM (n::int - 1) * 32 + 1 FOR 32)
  FROM logs l, unnest($3::bigint[]) WITH ORDINALITY AS u(i, n) WHERE l.poll_id = $1 ORDER BY t`;
/** Spends every row or fails with a unique violation on `spent_pkey`. */
const SPEND = `INSERT INTO spent (log_id, token_id, leaf_index, leaf_hash) ${SPEND_ROWS}`;
/**
 * Spends the rows whose token is not spent yet; returns the leaf indexes of the others. Rows go
 * in token order, so two writers spending overlapping tokens wait on each other in one order and
 * never in a cycle.
 */
const SPEND_SOME = `WITH inserted AS (
    INSERT INTO spent (log_id, token_id, leaf_index, leaf_hash) ${SPEND_ROWS} ON CONFLICT DO NOTHING RETURNING leaf_index
  )
  SELECT coalesce(array_agg(i), '{}') AS lost FROM unnest($3::bigint[]) AS i WHERE i NOT IN (SELECT leaf_index FROM inserted)`;
const NONE: ReadonlySet<number> = new Set();
/** How every log transaction starts, the spend's restart included. */
const BEGIN = 'BEGIN';
/** After a batch met a spent token, this many of the poll's next batches spend the careful way straight away. */
const CAREFUL_BATCHES = 16;

const isSpentConflict = (error: unknown): boolean =>
  error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === 'spent_pkey';

/** Applies pending migrations under an advisory lock (safe with many processes starting). */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7419001)');
    await client.query('CREATE TABLE IF NOT EXISTS board_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM board_migrations');
    for (let v = rows[0]?.v ?? 0; v < MIGRATIONS.length; v++) {
      await client.query('BEGIN');
      try {
        const migration = MIGRATIONS[v]!;
        await (typeof migration === 'string' ? client.query(migration) : migration(client));
        await client.query('INSERT INTO board_migrations (version) VALUES ($1)', [v + 1]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7419001)').catch(() => undefined);
    client.release();
  }
}

interface HeadRow {
  poll_id: string;
  origin: string;
  size: string;
  compact: Buffer;
  checkpoint: string;
}

function headOf(row: HeadRow): LogHead {
  const hashes: Uint8Array[] = [];
  for (let o = 0; o < row.compact.length; o += 32) hashes.push(new Uint8Array(row.compact.subarray(o, o + 32)));
  return { pollId: row.poll_id, origin: row.origin, size: Number(row.size), compact: hashes, checkpoint: row.checkpoint };
}

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function joinHashes(hashes: readonly Uint8Array[]): Buffer {
  return Buffer.concat(hashes);
}

/** Values packed into one bytea, with their offsets and lengths. */
function packed(values: readonly Uint8Array[]): [Buffer, number[], number[]] {
  const offsets: number[] = [];
  let o = 0;
  for (const v of values) {
    offsets.push(o);
    o += v.length;
  }
  // Parameter order in the query: data, offsets, lengths.
  return [Buffer.concat(values), offsets, values.map((v) => v.length)];
}

type Queryable = pg.Pool | pg.PoolClient;

async function readEntries(db: Queryable, pollId: string, from: number, to: number): Promise<Uint8Array[]> {
  const { rows } = await db.query<{ first_index: string; data: Buffer }>(
    `SELECT first_index, data FROM entry_chunks
      WHERE poll_id = $1 AND first_index < $3
        AND first_index >= (SELECT coalesce(max(first_index), 0) FROM entry_chunks WHERE poll_id = $1 AND first_index <= $2)
      ORDER BY first_index`,
    [pollId, from, to],
  );
  const chunks = rows.map((r): Chunk => [Number(r.first_index), new Uint8Array(r.data)]);
  return [...chunkEntries(chunks, (i) => i >= from && i < to).values()];
}

export class PostgresLogStorage implements LogStorage {
  readonly #pool: pg.Pool;
  /** Per poll, after a conflict: how many more batches spend with ON CONFLICT DO NOTHING straight away. */
  readonly #careful = new Map<string, number>();

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Connects, applies migrations, and returns the storage. `synchronous_commit=on` on every
   * connection: a commit is durable before any caller hears of it (promise 3), whatever the
   * server's default. Defaults bound every wait: a stuck
   * writer holding a log loses it after `idle_in_transaction_session_timeout`, a waiting one
   * gives up after `lock_timeout`; dead peers are found by TCP keepalive.
   */
  static async open(config: pg.PoolConfig): Promise<PostgresLogStorage> {
    const pool = new pg.Pool({
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      options: '-c synchronous_commit=on -c lock_timeout=10s -c idle_in_transaction_session_timeout=30s -c statement_timeout=120s',
      ...config,
    });
    // A connection lost by the server (restart, failover) MUST NOT crash the process: idle
    // clients are discarded by the pool, and one in use fails its query, whose error goes to
    // the callers of that batch.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresLogStorage(pool);
  }

  async createLog(head: LogHead): Promise<boolean> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query(
        'INSERT INTO logs (poll_id, origin, size, compact, checkpoint) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [head.pollId, head.origin, head.size, joinHashes(head.compact), head.checkpoint],
      );
      if (rowCount === 1) {
        await client.query('INSERT INTO checkpoints (poll_id, size, note) VALUES ($1, $2, $3)', [head.pollId, head.size, head.checkpoint]);
      }
      await client.query('COMMIT');
      return rowCount === 1;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async head(pollId: string): Promise<LogHead | null> {
    const { rows } = await this.#pool.query<HeadRow>('SELECT * FROM logs WHERE poll_id = $1', [pollId]);
    return rows[0] === undefined ? null : headOf(rows[0]);
  }

  async transact<T>(pollId: string, fn: (tx: LogTx) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(BEGIN);
      const result = await fn(this.#tx(client, pollId));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
      throw error;
    } finally {
      client.release(broken); // a connection that cannot roll back is discarded, not reused
    }
  }

  #tx(client: pg.PoolClient, pollId: string): LogTx {
    // Binary parameters: many values of one column travel as ONE bytea (sent in binary by
    // `pg`) cut by `substring`, instead of a bytea[] literal that both sides must hex-code.
    const moveParams = (rows: readonly SpendRow[]) => [pollId, joinHashes(rows.map((r) => r.tokenId)), rows.map((r) => r.index)];
    /** Nothing has run in the transaction yet (but BEGIN). */
    let fresh = true;
    return {
      spendThenLock: async (rows) => {
        if (!fresh) throw new Error('storage: spendThenLock must be the first call of its transaction');
        fresh = false;
        const lock = async () => {
          const { rows: heads } = await client.query<HeadRow>('SELECT * FROM logs WHERE poll_id = $1 FOR UPDATE', [pollId]);
          if (heads[0] === undefined) throw new UnknownLogError(pollId);
          return headOf(heads[0]);
        };
        if (rows.length === 0) return { lost: NONE, head: await lock() };
        const params = [...moveParams(rows), joinHashes(rows.map((r) => r.leafHash))];
        let restart = false;
        if (!this.#careful.has(pollId)) {
          // Usually no token was spent before, so first a plain INSERT: a spent token aborts it,
          // where ON CONFLICT DO NOTHING costs a second index probe per row even when nothing
          // conflicts (4,096 rows: ~24 ms against ~36 ms here). The lock is queued right behind
          // it, with no round trip through JS in between.
          const [spent, locked] = await Promise.allSettled([client.query(SPEND, params), lock()]);
          if (spent.status === 'fulfilled') {
            if (locked.status === 'rejected') throw locked.reason;
            return { lost: NONE, head: locked.value };
          }
          if (!isSpentConflict(spent.reason)) throw spent.reason;
          // A token was spent before. Nothing else has run in this transaction: start it again,
          // queued with the careful spend so that nothing can run between.
          restart = true;
        }
        const [, , some, head] = await Promise.all([
          restart ? client.query('ROLLBACK') : null,
          restart ? client.query(BEGIN) : null,
          // ON CONFLICT DO NOTHING names the rows it did not insert.
          client.query<{ lost: string[] }>(SPEND_SOME, params),
          lock(),
        ]);
        const lost = some.rows[0]!.lost.map(Number);
        // Resubmissions come in waves (clients retrying after an outage): while they last, the
        // poll's batches skip the attempt that would likely fail.
        const left = lost.length > 0 ? CAREFUL_BATCHES : (this.#careful.get(pollId) ?? 1) - 1;
        if (left > 0) this.#careful.set(pollId, left);
        else this.#careful.delete(pollId);
        return { lost: new Set(lost), head };
      },
      respend: async (rows) => {
        fresh = false;
        await client.query(
          `UPDATE spent SET leaf_index = u.i
             FROM (SELECT substring($2::bytea FROM (n::int - 1) * 32 + 1 FOR 32) AS t, i FROM unnest($3::bigint[]) WITH ORDINALITY AS v(i, n)) AS u
            WHERE spent.log_id = ${LOG_ID} AND spent.token_id = u.t`,
          moveParams(rows),
        );
      },
      spentIndexes: async (tokenIds) => {
        fresh = false;
        const result = await client.query<{ token_id: Buffer; leaf_index: string }>(
          `SELECT token_id, leaf_index FROM spent
            WHERE log_id = ${LOG_ID} AND token_id IN (SELECT substring($2::bytea FROM n * 32 + 1 FOR 32) FROM generate_series(0, $3::int - 1) AS n)`,
          [pollId, joinHashes(tokenIds), tokenIds.length],
        );
        return new Map(result.rows.map((r) => [hexKey(r.token_id), Number(r.leaf_index)]));
      },
      entriesAt: async (indexes) => {
        fresh = false;
        const { rows } = await client.query<{ first_index: string; data: Buffer }>(
          `SELECT DISTINCT c.first_index, c.data FROM unnest($2::bigint[]) AS i
             CROSS JOIN LATERAL (SELECT first_index, data FROM entry_chunks
                                  WHERE poll_id = $1 AND first_index <= i ORDER BY first_index DESC LIMIT 1) AS c`,
          [pollId, indexes],
        );
        const wanted = new Set(indexes);
        return chunkEntries(rows.map((r): Chunk => [Number(r.first_index), new Uint8Array(r.data)]), (i) => wanted.has(i));
      },
      write: async (chunks: readonly ChunkWrite[], tiles: readonly TileWrite[], next: LogHead) => {
        fresh = false;
        const grown = tiles.filter((t) => t.start > 0).length;
        const { rows } = await client.query<{ grown: string }>(
          `WITH chunk_rows AS (
             INSERT INTO entry_chunks (poll_id, first_index, count, data)
             SELECT $1, f, c, substring($4::bytea FROM o + 1 FOR l)
               FROM unnest($2::bigint[], $3::integer[], $5::integer[], $6::integer[]) AS u(f, c, o, l)
           ), cells AS (
             SELECT lv, ix, st, substring($10::bytea FROM o + 1 FOR l) AS h
               FROM unnest($7::integer[], $8::bigint[], $9::integer[], $11::integer[], $12::integer[]) AS u(lv, ix, st, o, l)
           ), new_tiles AS (
             INSERT INTO tiles (poll_id, level, idx, hashes) SELECT $1, lv, ix, h FROM cells WHERE st = 0
           ), grown_tiles AS (
             UPDATE tiles t SET hashes = substring(t.hashes FROM 1 FOR c.st * 32) || c.h
               FROM cells c
              WHERE c.st > 0 AND t.poll_id = $1 AND t.level = c.lv AND t.idx = c.ix AND length(t.hashes) = c.st * 32
             RETURNING 1
           ), head_row AS (
             UPDATE logs SET size = $13, compact = $14, checkpoint = $15 WHERE poll_id = $1
           ), checkpoint_row AS (
             INSERT INTO checkpoints (poll_id, size, note) VALUES ($1, $13, $15)
           )
           SELECT count(*) AS grown FROM grown_tiles`,
          [
            pollId,
            chunks.map((c) => c.firstIndex), chunks.map((c) => c.count), ...packed(chunks.map((c) => c.data)),
            tiles.map((t) => t.level), tiles.map((t) => t.index), tiles.map((t) => t.start), ...packed(tiles.map((t) => t.hashes)),
            next.size, joinHashes(next.compact), next.checkpoint,
          ],
        );
        if (Number(rows[0]?.grown) !== grown) throw new Error(`storage: ${grown} partial tiles to grow, found ${rows[0]?.grown} with their prefix`);
      },
    };
  }

  async readTile(pollId: string, level: number, index: number): Promise<Uint8Array | null> {
    const { rows } = await this.#pool.query<{ hashes: Buffer }>(
      'SELECT hashes FROM tiles WHERE poll_id = $1 AND level = $2 AND idx = $3',
      [pollId, level, index],
    );
    return rows[0] === undefined ? null : new Uint8Array(rows[0].hashes);
  }

  readEntries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    return readEntries(this.#pool, pollId, from, to);
  }

  async checkpointAt(pollId: string, size: number): Promise<string | null> {
    const { rows } = await this.#pool.query<{ note: string }>('SELECT note FROM checkpoints WHERE poll_id = $1 AND size = $2', [pollId, size]);
    return rows[0]?.note ?? null;
  }

  async spentIndex(pollId: string, tokenId: Uint8Array): Promise<number | null> {
    const { rows } = await this.#pool.query<{ leaf_index: string }>(
      `SELECT leaf_index FROM spent WHERE log_id = ${LOG_ID} AND token_id = $2`,
      [pollId, buf(tokenId)],
    );
    return rows[0] === undefined ? null : Number(rows[0].leaf_index);
  }

  async leafIndex(pollId: string, hash: Uint8Array): Promise<number | null> {
    const { rows } = await this.#pool.query<{ leaf_index: string | null }>(
      `SELECT min(leaf_index) AS leaf_index FROM spent WHERE log_id = ${LOG_ID} AND leaf_hash = $2`,
      [pollId, buf(hash)],
    );
    return rows[0]?.leaf_index == null ? null : Number(rows[0].leaf_index);
  }

  async logs(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ poll_id: string }>('SELECT poll_id FROM logs ORDER BY poll_id');
    return rows.map((r) => r.poll_id);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
