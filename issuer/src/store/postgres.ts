/**
 * The IssuerStore on PostgreSQL via `pg` (distributed mode). The issuer's database MUST be its
 * own, never the board's (DESIGN.md promise 5): `open` refuses a database that holds the board's
 * tables. It runs as a role that owns only its database; no superuser privilege is needed.
 *
 * Durability: `synchronous_commit=on` on every connection, so a method returns only after its
 * COMMIT is flushed (an issuance MUST be on disk before its signature is sent), whatever the
 * server's default.
 *
 * `issue` against `freeze` (store.ts: "every issuance that returned before is counted, none is
 * recorded after"): a per-poll advisory lock, taken before anything is read and held to COMMIT.
 * An issuance transaction holds it shared; `freeze` takes it exclusive, so it waits for every
 * issuance in flight and then counts in a new statement, whose READ COMMITTED snapshot sees all
 * of them; an issuance that comes later waits for the freeze and then reads the poll frozen.
 * Not a row lock: row share locks do not queue behind a waiting FOR UPDATE, so under sustained
 * issuance a freeze waited until issuance dried up (measured: 1.5 s, and unbounded in principle);
 * advisory locks queue fairly, so a freeze waits for the batches in flight only.
 *
 * Group commit: every `issue` that arrives while a batch is committing joins the next batch, up
 * to `maxBatch`; a batch is ONE transaction (one WAL flush) of a fixed number of statements,
 * whatever its size. Rows are inserted in (poll, account) order, so batches of several
 * processes that overlap wait on each other in one order and never deadlock. Inside a batch the
 * rows keep no arrival order; between batches, heap position and xmin still order issuances
 * coarsely (as in any PostgreSQL table), which someone reading the database files could try to
 * line up with ballots on the board: store.ts forbids storing a time, and this is the residue.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type {
  AccountRecord, Frozen, IssueOutcome, IssuerStore, NewAccount, NewRoll, PollDraft, PollRecord, PollState, TokenKeyMaterial,
} from '../store.ts';

/** pg_advisory_xact_lock key of the migrations (the board's is 7419001). */
const MIGRATION_LOCK = 7419002;
/** Account ids per INSERT when a roll is replaced (a roll may hold millions). */
const ROLL_CHUNK = 20_000;
/** First key of the per-poll advisory locks (the second is `pollLockKey`). */
const POLL_LOCK = 7419003;
/** SHA-256: the only hash `issue` accepts (the rows pack hashes at fixed offsets). */
const HASH_LENGTH = 32;

/** Each entry is one schema version; all pending ones apply in ONE transaction. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (
     key text COLLATE "C" PRIMARY KEY,
     value bytea NOT NULL
   );
   CREATE TABLE accounts (
     username text COLLATE "C" PRIMARY KEY,
     password_hash text NOT NULL,
     admin boolean NOT NULL,
     session_version integer NOT NULL DEFAULT 0,
     created_at timestamptz NOT NULL
   );
   CREATE TABLE polls (
     poll_id text COLLATE "C" PRIMARY KEY,
     -- json, not jsonb: the text as given, keys in their order (as the embedded store keeps it).
     draft json NOT NULL,
     closes_at timestamptz NOT NULL,
     state text NOT NULL CHECK (state IN ('draft', 'published', 'closed')),
     created_at timestamptz NOT NULL,
     revision integer NOT NULL DEFAULT 0,
     roll_size integer,
     roll_commitment bytea,
     roll_salt bytea,
     token_key_pkcs8 bytea,
     token_key_spki bytea,
     manifest bytea,
     -- RFC 3339 as given (the close entry's closed_at), returned byte for byte.
     closed_at text,
     issued integer,
     CONSTRAINT polls_roll_whole CHECK ((roll_size IS NULL) = (roll_commitment IS NULL) AND (roll_size IS NULL) = (roll_salt IS NULL)),
     CONSTRAINT polls_key_with_manifest CHECK ((manifest IS NULL) = (token_key_pkcs8 IS NULL) AND (manifest IS NULL) = (token_key_spki IS NULL)),
     CONSTRAINT polls_published_has_manifest CHECK (state = 'draft' OR manifest IS NOT NULL),
     CONSTRAINT polls_frozen_whole CHECK ((closed_at IS NULL) = (issued IS NULL)),
     CONSTRAINT polls_closed_was_frozen CHECK (state <> 'closed' OR closed_at IS NOT NULL)
   );
   CREATE TABLE roll (
     poll_id text COLLATE "C" NOT NULL REFERENCES polls ON DELETE CASCADE,
     account_id text COLLATE "C" NOT NULL,
     PRIMARY KEY (poll_id, account_id)
   );
   -- DESIGN.md promise 1: one row per (poll, voter), and only for a voter on the roll. No time,
   -- no blinded message, no signature (store.ts).
   CREATE TABLE issuance (
     poll_id text COLLATE "C" NOT NULL,
     account_id text COLLATE "C" NOT NULL,
     blinded_msg_sha256 bytea NOT NULL CHECK (length(blinded_msg_sha256) = 32),
     CONSTRAINT issuance_one_per_voter PRIMARY KEY (poll_id, account_id),
     CONSTRAINT issuance_on_roll FOREIGN KEY (poll_id, account_id) REFERENCES roll
   );`,
];

/** Tables whose presence means this is the board's database (bulletin-board/src/storage/postgres.ts). */
const BOARD_TABLES = ['board_migrations', 'spent', 'entry_chunks'];

export interface PostgresIssuerStoreOptions {
  /** Connections in the pool (default 10). Each in-flight batch of issuances holds one. */
  readonly poolSize?: number;
  /** Most issuances in one transaction (default 1000). */
  readonly maxBatch?: number;
  /** Batches of issuances committing at once (default 2: the next batch fills while one commits). */
  readonly issueConcurrency?: number;
}

interface PendingIssue {
  readonly pollId: string;
  readonly accountId: string;
  readonly blindedHash: Uint8Array;
  resolve(outcome: IssueOutcome): void;
  reject(error: unknown): void;
}

/** Errors of this store: say which operation failed; the driver's error is the cause. */
export class IssuerStoreError extends Error {
  override readonly name = 'IssuerStoreError';
}

interface PollRow {
  poll_id: string;
  draft: PollDraft;
  state: PollState;
  created_at: Date;
  revision: number;
  roll_size: number | null;
  roll_commitment: Buffer | null;
  manifest: Buffer | null;
  closed_at: string | null;
  issued: number | null;
}

/** The columns `pollOf` reads (never the key or the roll's salt). */
const POLL_COLUMNS = 'poll_id, draft, state, created_at, revision, roll_size, roll_commitment, manifest, closed_at, issued';
/** A draft with no manifest: the only polls whose draft and roll may change. */
const EDITABLE = "state = 'draft' AND manifest IS NULL";

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** A copy: a Buffer from the driver may be a view of a larger pooled allocation. */
const bytes = (value: Buffer): Uint8Array => new Uint8Array(value);

/** The URL with its password hidden, for messages. */
function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return '(a connection string that is not a URL)';
  }
}

export class PostgresIssuerStore implements IssuerStore {
  readonly #pool: pg.Pool;
  readonly #maxBatch: number;
  readonly #issueConcurrency: number;
  /** Issuances waiting for a batch. */
  readonly #issues: PendingIssue[] = [];
  /** Batches committing now. */
  readonly #batches = new Set<Promise<void>>();
  #closed = false;

  private constructor(pool: pg.Pool, maxBatch: number, issueConcurrency: number) {
    this.#pool = pool;
    this.#maxBatch = maxBatch;
    this.#issueConcurrency = issueConcurrency;
  }

  /**
   * Connects, applies pending migrations (under an advisory lock: safe when several processes
   * start at once) and returns the store. Bounded waits: a waiting lock gives up after
   * `lock_timeout`, a stuck transaction ends after `idle_in_transaction_session_timeout`, dead
   * peers are found by TCP keepalive.
   */
  static async open(connectionString: string, options: PostgresIssuerStoreOptions = {}): Promise<PostgresIssuerStore> {
    const poolSize = options.poolSize ?? 10;
    const maxBatch = options.maxBatch ?? 1000;
    const issueConcurrency = options.issueConcurrency ?? 2;
    for (const [name, value] of [['poolSize', poolSize], ['maxBatch', maxBatch], ['issueConcurrency', issueConcurrency]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`PostgresIssuerStore: ${name} must be a positive integer, got ${value}`);
    }
    const pool = new pg.Pool({
      connectionString,
      max: poolSize,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      options: '-c synchronous_commit=on -c lock_timeout=10s -c idle_in_transaction_session_timeout=30s -c statement_timeout=120s',
    });
    // A connection lost by the server (restart, failover) MUST NOT crash the process: idle
    // clients are discarded by the pool, and one in use fails its query, whose error goes to its caller.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw new IssuerStoreError(`issuer store: cannot open ${redact(connectionString)}: ${(error as Error).message}`, { cause: error });
    }
    return new PostgresIssuerStore(pool, maxBatch, issueConcurrency);
  }

  /**
   * One statement: PostgreSQL runs it as one transaction. Prepared once per connection under
   * the method's name (each method has one fixed text), so a repeated call skips parsing.
   */
  async #query<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>({ name: what, text: sql, values: params });
    } catch (error) {
      throw failed(what, error);
    }
  }

  /** Runs `body` in one transaction on one connection. */
  async #tx<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw failed(what, error);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
      throw failed(what, error);
    } finally {
      client.release(broken); // a connection that cannot roll back is discarded, not reused
    }
  }

  async metaIfAbsent(key: string, value: Uint8Array): Promise<Uint8Array> {
    return this.#tx('metaIfAbsent', async (client) => {
      await client.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING', [key, buf(value)]);
      // A new statement: its snapshot sees a row that a racing transaction committed meanwhile.
      const { rows } = await client.query<{ value: Buffer }>('SELECT value FROM meta WHERE key = $1', [key]);
      return bytes(rows[0]!.value);
    });
  }

  async createAccount(account: NewAccount): Promise<boolean> {
    const { rowCount } = await this.#query(
      'createAccount',
      'INSERT INTO accounts (username, password_hash, admin, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [account.username, account.passwordHash, account.admin, account.createdAt],
    );
    return rowCount === 1;
  }

  async account(username: string): Promise<AccountRecord | null> {
    const { rows } = await this.#query<{ username: string; password_hash: string; admin: boolean; session_version: number; created_at: Date }>(
      'account',
      'SELECT username, password_hash, admin, session_version, created_at FROM accounts WHERE username = $1',
      [username],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return { username: row.username, passwordHash: row.password_hash, admin: row.admin, sessionVersion: row.session_version, createdAt: row.created_at };
  }

  async setPassword(username: string, passwordHash: string): Promise<boolean> {
    const { rowCount } = await this.#query(
      'setPassword',
      'UPDATE accounts SET password_hash = $2, session_version = session_version + 1 WHERE username = $1',
      [username, passwordHash],
    );
    return rowCount === 1;
  }

  async accountIds(): Promise<string[]> {
    const { rows } = await this.#query<{ username: string }>('accountIds', 'SELECT username FROM accounts ORDER BY username', []);
    return rows.map((r) => r.username);
  }

  async createPoll(pollId: string, draft: PollDraft, createdAt: Date): Promise<boolean> {
    const { rowCount } = await this.#query(
      'createPoll',
      `INSERT INTO polls (poll_id, draft, closes_at, state, created_at) VALUES ($1, $2::json, $3::timestamptz, 'draft', $4)
       ON CONFLICT DO NOTHING`,
      [pollId, JSON.stringify(draft), draft.closes_at, createdAt],
    );
    return rowCount === 1;
  }

  async poll(pollId: string): Promise<PollRecord | null> {
    const { rows } = await this.#query<PollRow>('poll', `SELECT ${POLL_COLUMNS} FROM polls WHERE poll_id = $1`, [pollId]);
    return rows[0] === undefined ? null : pollOf(rows[0]);
  }

  async polls(): Promise<PollRecord[]> {
    const { rows } = await this.#query<PollRow>('polls', `SELECT ${POLL_COLUMNS} FROM polls ORDER BY poll_id`, []);
    return rows.map(pollOf);
  }

  async updateDraft(pollId: string, draft: PollDraft): Promise<boolean> {
    const { rowCount } = await this.#query(
      'updateDraft',
      `UPDATE polls SET draft = $2::json, closes_at = $3::timestamptz, revision = revision + 1 WHERE poll_id = $1 AND ${EDITABLE}`,
      [pollId, JSON.stringify(draft), draft.closes_at],
    );
    return rowCount === 1;
  }

  async deleteDraft(pollId: string): Promise<boolean> {
    // The roll goes with the poll (ON DELETE CASCADE).
    const { rowCount } = await this.#query('deleteDraft', `DELETE FROM polls WHERE poll_id = $1 AND ${EDITABLE}`, [pollId]);
    return rowCount === 1;
  }

  async replaceRoll(pollId: string, roll: NewRoll): Promise<boolean> {
    return this.#tx('replaceRoll', async (client) => {
      // FOR UPDATE: a beginPublish waits for this transaction, then finds the revision changed.
      const { rowCount } = await client.query(`SELECT 1 FROM polls WHERE poll_id = $1 AND ${EDITABLE} FOR UPDATE`, [pollId]);
      if (rowCount !== 1) return false;
      await client.query('DELETE FROM roll WHERE poll_id = $1', [pollId]);
      for (let from = 0; from < roll.accountIds.length; from += ROLL_CHUNK) {
        await client.query('INSERT INTO roll (poll_id, account_id) SELECT $1, unnest($2::text[])', [
          pollId,
          roll.accountIds.slice(from, from + ROLL_CHUNK),
        ]);
      }
      await client.query(
        'UPDATE polls SET roll_size = $2, roll_commitment = $3, roll_salt = $4, revision = revision + 1 WHERE poll_id = $1',
        [pollId, roll.accountIds.length, buf(roll.commitment), buf(roll.salt)],
      );
      return true;
    });
  }

  async beginPublish(pollId: string, revision: number, key: TokenKeyMaterial, manifest: Uint8Array): Promise<boolean> {
    const { rowCount } = await this.#query(
      'beginPublish',
      `UPDATE polls SET token_key_pkcs8 = $3, token_key_spki = $4, manifest = $5 WHERE poll_id = $1 AND revision = $2 AND ${EDITABLE}`,
      [pollId, revision, buf(key.pkcs8), buf(key.spki), buf(manifest)],
    );
    return rowCount === 1;
  }

  async markPublished(pollId: string): Promise<boolean> {
    const { rowCount } = await this.#query(
      'markPublished',
      "UPDATE polls SET state = 'published' WHERE poll_id = $1 AND state = 'draft' AND manifest IS NOT NULL",
      [pollId],
    );
    return rowCount === 1;
  }

  async tokenKey(pollId: string): Promise<Uint8Array | null> {
    const { rows } = await this.#query<{ token_key_pkcs8: Buffer | null }>('tokenKey', 'SELECT token_key_pkcs8 FROM polls WHERE poll_id = $1', [pollId]);
    const key = rows[0]?.token_key_pkcs8;
    return key == null ? null : bytes(key);
  }

  async freeze(pollId: string, closedAt: string): Promise<Frozen | null> {
    return this.#tx('freeze', async (client) => {
      // Waits for the issuance batches in flight, and holds later ones back (see the header).
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [POLL_LOCK, pollLockKey(pollId)]);
      const { rows } = await client.query<{ state: PollState; closed_at: string | null; issued: number | null }>(
        'SELECT state, closed_at, issued FROM polls WHERE poll_id = $1 FOR UPDATE',
        [pollId],
      );
      const row = rows[0];
      if (row === undefined || row.state !== 'published') return null;
      if (row.closed_at !== null) return { closedAt: row.closed_at, issued: row.issued! };
      // A new statement, so a new snapshot: it counts every issuance committed before the locks were ours.
      const counted = await client.query<{ issued: number }>(
        'UPDATE polls SET closed_at = $2, issued = (SELECT count(*) FROM issuance WHERE poll_id = $1) WHERE poll_id = $1 RETURNING issued',
        [pollId, closedAt],
      );
      return { closedAt, issued: counted.rows[0]!.issued };
    });
  }

  async markClosed(pollId: string): Promise<boolean> {
    const { rowCount } = await this.#query(
      'markClosed',
      "UPDATE polls SET state = 'closed' WHERE poll_id = $1 AND state = 'published' AND closed_at IS NOT NULL",
      [pollId],
    );
    return rowCount === 1;
  }

  async pollsToClose(now: Date): Promise<string[]> {
    const { rows } = await this.#query<{ poll_id: string }>(
      'pollsToClose',
      "SELECT poll_id FROM polls WHERE state = 'published' AND (closed_at IS NOT NULL OR closes_at <= $1) ORDER BY poll_id",
      [now],
    );
    return rows.map((r) => r.poll_id);
  }

  async onRoll(pollId: string, accountId: string): Promise<boolean> {
    const { rowCount } = await this.#query('onRoll', 'SELECT 1 FROM roll WHERE poll_id = $1 AND account_id = $2', [pollId, accountId]);
    return rowCount === 1;
  }

  async issuance(pollId: string, accountId: string): Promise<Uint8Array | null> {
    const { rows } = await this.#query<{ blinded_msg_sha256: Buffer }>(
      'issuance',
      'SELECT blinded_msg_sha256 FROM issuance WHERE poll_id = $1 AND account_id = $2',
      [pollId, accountId],
    );
    return rows[0] === undefined ? null : bytes(rows[0].blinded_msg_sha256);
  }

  async issuedCount(pollId: string): Promise<number> {
    const { rows } = await this.#query<{ n: number }>('issuedCount', 'SELECT count(*)::int AS n FROM issuance WHERE poll_id = $1', [pollId]);
    return rows[0]!.n;
  }

  /** Group commit (see the header): resolves after the COMMIT of the batch it joined. */
  issue(pollId: string, accountId: string, blindedHash: Uint8Array): Promise<IssueOutcome> {
    if (blindedHash.length !== HASH_LENGTH) {
      return Promise.reject(new RangeError(`issue: blindedHash must be the ${HASH_LENGTH}-byte SHA-256 of the blinded message, got ${blindedHash.length} bytes`));
    }
    if (this.#closed) return Promise.reject(new IssuerStoreError('issuer store: issue: the store is closed'));
    return new Promise((resolve, reject) => {
      this.#issues.push({ pollId, accountId, blindedHash, resolve, reject });
      this.#startBatches();
    });
  }

  #startBatches(): void {
    while (this.#batches.size < this.#issueConcurrency && this.#issues.length > 0) {
      const committing: Promise<void> = this.#commitIssues(this.#issues.splice(0, this.#maxBatch)).finally(() => {
        this.#batches.delete(committing);
        this.#startBatches();
      });
      this.#batches.add(committing);
    }
  }

  async #commitIssues(batch: readonly PendingIssue[]): Promise<void> {
    let outcomes: IssueOutcome[];
    try {
      outcomes = await this.#tx('issue', (client) => issueBatch(client, batch));
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => item.resolve(outcomes[i]!));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Issuances already accepted finish first: their callers are waiting for the COMMIT.
    while (this.#batches.size > 0) await Promise.all(this.#batches);
    await this.#pool.end();
  }
}

/**
 * One batch in one transaction: take the polls' locks shared (in key order: with freezes queued
 * exclusive, two batches taking them in different orders could wait on each other), find the
 * open polls, insert the rows of voters on their roll (the first request of a voter in the batch
 * wins, then the existing row wins), and read every (poll, voter) row back in a new statement
 * (its snapshot sees rows that racing batches committed).
 */
async function issueBatch(client: pg.PoolClient, batch: readonly PendingIssue[]): Promise<IssueOutcome[]> {
  const pollIds = [...new Set(batch.map((item) => item.pollId))];
  for (const key of [...new Set(pollIds.map(pollLockKey))].sort((a, b) => a - b)) {
    await client.query({ name: 'issue-lock', text: 'SELECT pg_advisory_xact_lock_shared($1, $2)', values: [POLL_LOCK, key] });
  }
  // After the locks: a new snapshot, which sees any freeze that committed before them.
  const { rows: open } = await client.query<{ poll_id: string }>({
    name: 'issue-open',
    text: "SELECT poll_id FROM polls WHERE poll_id = ANY($1::text[]) AND state = 'published' AND closed_at IS NULL",
    values: [pollIds],
  });
  const openIds = new Set(open.map((r) => r.poll_id));
  const firstOf = new Map<string, PendingIssue>();
  for (const item of batch) {
    if (!openIds.has(item.pollId)) continue;
    const key = JSON.stringify([item.pollId, item.accountId]);
    if (!firstOf.has(key)) firstOf.set(key, item);
  }
  const rows = [...firstOf.values()].sort((a, b) => compareBytes(a.pollId, b.pollId) || compareBytes(a.accountId, b.accountId));
  if (rows.length === 0) return batch.map(() => ({ status: 'not_open' }));

  const polls = rows.map((r) => r.pollId);
  const accounts = rows.map((r) => r.accountId);
  // Hashes travel as ONE bytea cut by substring (no bytea[] literal to hex-encode and parse).
  await client.query({
    name: 'issue-insert',
    text: `INSERT INTO issuance (poll_id, account_id, blinded_msg_sha256)
     SELECT v.p, v.a, substring($3::bytea FROM (v.n::int - 1) * ${HASH_LENGTH} + 1 FOR ${HASH_LENGTH})
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(p, a, n)
       JOIN roll r ON r.poll_id = v.p AND r.account_id = v.a
      ORDER BY v.p COLLATE "C", v.a COLLATE "C"
     ON CONFLICT DO NOTHING`,
    values: [polls, accounts, Buffer.concat(rows.map((r) => buf(r.blindedHash)))],
  });
  const { rows: recorded } = await client.query<{ n: string; hash: Buffer | null; on_roll: boolean }>({
    name: 'issue-read',
    text: `SELECT v.n, i.blinded_msg_sha256 AS hash, r.account_id IS NOT NULL AS on_roll
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(p, a, n)
       LEFT JOIN roll r ON r.poll_id = v.p AND r.account_id = v.a
       LEFT JOIN issuance i ON i.poll_id = v.p AND i.account_id = v.a`,
    values: [polls, accounts],
  });
  const outcomeOf = new Map<string, IssueOutcome>();
  for (const row of recorded) {
    const item = rows[Number(row.n) - 1]!;
    let outcome: IssueOutcome;
    if (!row.on_roll) outcome = { status: 'not_on_roll' };
    else if (row.hash === null) throw new Error(`no issuance row for an account on the roll of poll "${item.pollId}" after inserting it`);
    else outcome = { status: 'recorded', blindedHash: bytes(row.hash) };
    outcomeOf.set(JSON.stringify([item.pollId, item.accountId]), outcome);
  }
  return batch.map((item) => outcomeOf.get(JSON.stringify([item.pollId, item.accountId])) ?? { status: 'not_open' });
}

/** The second key of a poll's advisory lock: polls whose keys collide only share a lock. */
function pollLockKey(pollId: string): number {
  return createHash('sha256').update(pollId).digest().readInt32BE(0);
}

/** Byte order of UTF-8 strings, as COLLATE "C" sorts them. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function failed(what: string, error: unknown): Error {
  if (error instanceof IssuerStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new IssuerStoreError(`issuer store: ${what}: ${message}`, { cause: error });
}

/**
 * Applies pending migrations in ONE transaction, under a transaction-scoped advisory lock: a
 * second process starting at the same time waits, then finds nothing left to do.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const { rows: board } = await client.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relnamespace = 'public'::regnamespace",
      [BOARD_TABLES],
    );
    if (board.length > 0) {
      throw new Error(
        `this database holds the bulletin board's tables (${board.map((r) => r.name).join(', ')}): ` +
          'the issuer needs a database of its own (DESIGN.md promise 5)',
      );
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS issuer_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM issuer_migrations');
    const applied = rows[0]?.v ?? 0;
    if (applied > MIGRATIONS.length) {
      throw new Error(`the schema is at version ${applied}, newer than this code knows (${MIGRATIONS.length}): run a newer blindvote`);
    }
    for (let v = applied; v < MIGRATIONS.length; v++) {
      try {
        await client.query(MIGRATIONS[v]!);
      } catch (error) {
        throw new Error(`migration ${v + 1} failed: ${(error as Error).message}`, { cause: error });
      }
      await client.query('INSERT INTO issuer_migrations (version) VALUES ($1)', [v + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch((lost: Error) => (broken = lost));
    throw error;
  } finally {
    client.release(broken);
  }
}

function pollOf(row: PollRow): PollRecord {
  return {
    pollId: row.poll_id,
    draft: row.draft,
    state: row.state,
    createdAt: row.created_at,
    roll: row.roll_size === null ? null : { size: row.roll_size, commitment: bytes(row.roll_commitment!) },
    manifest: row.manifest === null ? null : bytes(row.manifest),
    frozen: row.closed_at === null ? null : { closedAt: row.closed_at, issued: row.issued! },
    revision: row.revision,
  };
}
