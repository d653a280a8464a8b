/**
 * The embedded IssuerStore on `node:sqlite`: one file (or ':memory:'), WAL, `synchronous=FULL`,
 * so every commit is on disk before the method returns (an issuance MUST be durable before its
 * signature is sent). One connection; each method runs synchronously inside one transaction, so
 * calls never interleave in this process, and `BEGIN IMMEDIATE` plus the busy timeout order
 * them against other processes on the same file.
 */
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { formatTime } from '@blindvote/crypto';
import type {
  AccountRecord, Frozen, IssueOutcome, IssuerStore, NewAccount, NewRoll, PollDraft, PollRecord, PollState, TokenKeyMaterial,
} from '../store.ts';


const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value BLOB NOT NULL
   ) STRICT;
   CREATE TABLE accounts (
     username TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     admin INTEGER NOT NULL,
     session_version INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL
   ) STRICT;
   CREATE TABLE polls (
     poll_id TEXT PRIMARY KEY,
     draft TEXT NOT NULL,
     closes_at TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('draft', 'published', 'closed')),
     created_at TEXT NOT NULL,
     revision INTEGER NOT NULL DEFAULT 0,
     roll_size INTEGER,
     roll_commitment BLOB,
     roll_salt BLOB,
     token_key_pkcs8 BLOB,
     token_key_spki BLOB,
     manifest BLOB,
     closed_at TEXT,
     issued INTEGER
   ) STRICT;
   CREATE TABLE roll (
     poll_id TEXT NOT NULL,
     account_id TEXT NOT NULL,
     PRIMARY KEY (poll_id, account_id)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE issuance (
     poll_id TEXT NOT NULL,
     account_id TEXT NOT NULL,
     blinded_msg_sha256 BLOB NOT NULL,
     PRIMARY KEY (poll_id, account_id)
   ) STRICT, WITHOUT ROWID;`,
];

type Row = Record<string, unknown>;

/** A draft with no manifest: the only polls whose draft and roll may change. */
const EDITABLE = "state = 'draft' AND manifest IS NULL";

/** Every statement the store runs, prepared once. */
function statements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    metaGet: p('SELECT value FROM meta WHERE key = ?'),
    metaPut: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    accountInsert: p(
      'INSERT INTO accounts (username, password_hash, admin, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    account: p('SELECT * FROM accounts WHERE username = ?'),
    setPassword: p('UPDATE accounts SET password_hash = ?, session_version = session_version + 1 WHERE username = ?'),
    accountIds: p('SELECT username FROM accounts ORDER BY username'),
    pollInsert: p(
      "INSERT INTO polls (poll_id, draft, closes_at, state, created_at) VALUES (?, ?, ?, 'draft', ?) ON CONFLICT DO NOTHING",
    ),
    poll: p('SELECT * FROM polls WHERE poll_id = ?'),
    polls: p('SELECT * FROM polls ORDER BY poll_id'),
    updateDraft: p(`UPDATE polls SET draft = ?, closes_at = ?, revision = revision + 1 WHERE poll_id = ? AND ${EDITABLE}`),
    editable: p(`SELECT 1 FROM polls WHERE poll_id = ? AND ${EDITABLE}`),
    deletePoll: p('DELETE FROM polls WHERE poll_id = ?'),
    deleteRoll: p('DELETE FROM roll WHERE poll_id = ?'),
    rollInsert: p('INSERT INTO roll (poll_id, account_id) VALUES (?, ?)'),
    rollSummary: p('UPDATE polls SET roll_size = ?, roll_commitment = ?, roll_salt = ?, revision = revision + 1 WHERE poll_id = ?'),
    beginPublish: p(
      `UPDATE polls SET token_key_pkcs8 = ?, token_key_spki = ?, manifest = ? WHERE poll_id = ? AND revision = ? AND ${EDITABLE}`,
    ),
    markPublished: p("UPDATE polls SET state = 'published' WHERE poll_id = ? AND state = 'draft' AND manifest IS NOT NULL"),
    tokenKey: p('SELECT token_key_pkcs8 FROM polls WHERE poll_id = ?'),
    freeze: p(
      `UPDATE polls SET closed_at = ?1, issued = (SELECT count(*) FROM issuance WHERE poll_id = ?2)
        WHERE poll_id = ?2 AND state = 'published' AND closed_at IS NULL`,
    ),
    markClosed: p("UPDATE polls SET state = 'closed' WHERE poll_id = ? AND state = 'published' AND closed_at IS NOT NULL"),
    toClose: p("SELECT poll_id FROM polls WHERE state = 'published' AND (closed_at IS NOT NULL OR closes_at <= ?) ORDER BY poll_id"),
    onRoll: p('SELECT 1 FROM roll WHERE poll_id = ? AND account_id = ?'),
    issuance: p('SELECT blinded_msg_sha256 FROM issuance WHERE poll_id = ? AND account_id = ?'),
    issuedCount: p('SELECT count(*) AS n FROM issuance WHERE poll_id = ?'),
    issueInsert: p('INSERT INTO issuance (poll_id, account_id, blinded_msg_sha256) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
  };
}
type Statements = ReturnType<typeof statements>;

export class SqliteIssuerStore implements IssuerStore {
  readonly #db: DatabaseSync;
  readonly #q: Statements;

  /** Opens (creating and migrating as needed) the database at `path`, or ':memory:'. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#migrate();
    this.#q = statements(this.#db);
  }

  #migrate(): void {
    const { user_version: applied } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
    for (let v = applied; v < MIGRATIONS.length; v++) {
      this.#tx(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  /** Issuances waiting for the next group commit (`issue`). */
  readonly #issues: {
    readonly pollId: string;
    readonly accountId: string;
    readonly blindedHash: Uint8Array;
    resolve(outcome: IssueOutcome): void;
    reject(error: unknown): void;
  }[] = [];

  /** Runs `body` in one write transaction (BEGIN IMMEDIATE: the write lock first, so no upgrade deadlock). */
  #tx<T>(body: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      // A failed COMMIT may have ended the transaction already; the first error is the one to report.
      try {
        this.#db.exec('ROLLBACK');
      } catch {}
      throw error;
    }
  }

  async metaIfAbsent(key: string, value: Uint8Array): Promise<Uint8Array> {
    return this.#tx(() => {
      this.#q.metaPut.run(key, value);
      return bytes((this.#q.metaGet.get(key) as Row).value);
    });
  }

  async createAccount(account: NewAccount): Promise<boolean> {
    const { changes } = this.#q.accountInsert.run(account.username, account.passwordHash, account.admin ? 1 : 0, account.createdAt.toISOString());
    return changes === 1;
  }

  async account(username: string): Promise<AccountRecord | null> {
    const row = this.#q.account.get(username) as Row | undefined;
    if (row === undefined) return null;
    return {
      username: row.username as string,
      passwordHash: row.password_hash as string,
      admin: row.admin === 1,
      sessionVersion: Number(row.session_version),
      createdAt: new Date(row.created_at as string),
    };
  }

  async setPassword(username: string, passwordHash: string): Promise<boolean> {
    return this.#q.setPassword.run(passwordHash, username).changes === 1;
  }

  async accountIds(): Promise<string[]> {
    return (this.#q.accountIds.all() as Row[]).map((r) => r.username as string);
  }

  async createPoll(pollId: string, draft: PollDraft, createdAt: Date): Promise<boolean> {
    return this.#q.pollInsert.run(pollId, JSON.stringify(draft), draft.closes_at, createdAt.toISOString()).changes === 1;
  }

  async poll(pollId: string): Promise<PollRecord | null> {
    const row = this.#q.poll.get(pollId) as Row | undefined;
    return row === undefined ? null : pollOf(row);
  }

  async polls(): Promise<PollRecord[]> {
    return (this.#q.polls.all() as Row[]).map(pollOf);
  }

  async updateDraft(pollId: string, draft: PollDraft): Promise<boolean> {
    return this.#q.updateDraft.run(JSON.stringify(draft), draft.closes_at, pollId).changes === 1;
  }

  async deleteDraft(pollId: string): Promise<boolean> {
    return this.#tx(() => {
      if (this.#q.editable.get(pollId) === undefined) return false;
      this.#q.deleteRoll.run(pollId);
      this.#q.deletePoll.run(pollId);
      return true;
    });
  }

  async replaceRoll(pollId: string, roll: NewRoll): Promise<boolean> {
    return this.#tx(() => {
      if (this.#q.editable.get(pollId) === undefined) return false;
      this.#q.deleteRoll.run(pollId);
      for (const id of roll.accountIds) this.#q.rollInsert.run(pollId, id);
      this.#q.rollSummary.run(roll.accountIds.length, roll.commitment, roll.salt, pollId);
      return true;
    });
  }

  async beginPublish(pollId: string, revision: number, key: TokenKeyMaterial, manifest: Uint8Array): Promise<boolean> {
    return this.#q.beginPublish.run(key.pkcs8, key.spki, manifest, pollId, revision).changes === 1;
  }

  async markPublished(pollId: string): Promise<boolean> {
    return this.#q.markPublished.run(pollId).changes === 1;
  }

  async tokenKey(pollId: string): Promise<Uint8Array | null> {
    const row = this.#q.tokenKey.get(pollId) as Row | undefined;
    return row?.token_key_pkcs8 == null ? null : bytes(row.token_key_pkcs8);
  }

  async freeze(pollId: string, closedAt: string): Promise<Frozen | null> {
    return this.#tx(() => {
      this.#q.freeze.run(closedAt, pollId);
      const row = this.#q.poll.get(pollId) as Row | undefined;
      return row === undefined || row.state !== 'published' ? null : frozenOf(row);
    });
  }

  async markClosed(pollId: string): Promise<boolean> {
    return this.#q.markClosed.run(pollId).changes === 1;
  }

  async pollsToClose(now: Date): Promise<string[]> {
    // closes_at is `YYYY-MM-DDTHH:MM:SSZ`: its byte order is its time order.
    return (this.#q.toClose.all(formatTime(now)) as Row[]).map((r) => r.poll_id as string);
  }

  async onRoll(pollId: string, accountId: string): Promise<boolean> {
    return this.#q.onRoll.get(pollId, accountId) !== undefined;
  }

  async issuance(pollId: string, accountId: string): Promise<Uint8Array | null> {
    const row = this.#q.issuance.get(pollId, accountId) as Row | undefined;
    return row === undefined ? null : bytes(row.blinded_msg_sha256);
  }

  async issuedCount(pollId: string): Promise<number> {
    return Number((this.#q.issuedCount.get(pollId) as Row).n);
  }

  /**
   * Group commit: every issuance that arrives while the event loop is busy goes into ONE
   * transaction (one fsync) at the next check phase; each caller resolves only after that
   * COMMIT. One commit per token capped issuance at the disk's fsync rate (docs/performance.md).
   */
  issue(pollId: string, accountId: string, blindedHash: Uint8Array): Promise<IssueOutcome> {
    return new Promise((resolve, reject) => {
      this.#issues.push({ pollId, accountId, blindedHash, resolve, reject });
      if (this.#issues.length === 1) setImmediate(() => this.#commitIssues());
    });
  }

  #commitIssues(): void {
    const batch = this.#issues.splice(0);
    let outcomes: IssueOutcome[];
    try {
      outcomes = this.#tx(() => batch.map((item) => this.#issueOne(item.pollId, item.accountId, item.blindedHash)));
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => item.resolve(outcomes[i]!));
  }

  /** Inside a transaction. A second request of the same voter in one batch reads the first's row. */
  #issueOne(pollId: string, accountId: string, blindedHash: Uint8Array): IssueOutcome {
    const poll = this.#q.poll.get(pollId) as Row | undefined;
    if (poll === undefined || poll.state !== 'published' || poll.closed_at !== null) return { status: 'not_open' };
    if (this.#q.onRoll.get(pollId, accountId) === undefined) return { status: 'not_on_roll' };
    this.#q.issueInsert.run(pollId, accountId, blindedHash);
    return { status: 'recorded', blindedHash: bytes((this.#q.issuance.get(pollId, accountId) as Row).blinded_msg_sha256) };
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

function bytes(value: unknown): Uint8Array {
  const b = value as Uint8Array;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function frozenOf(row: Row): Frozen | null {
  return row.closed_at === null ? null : { closedAt: row.closed_at as string, issued: Number(row.issued) };
}

function pollOf(row: Row): PollRecord {
  return {
    pollId: row.poll_id as string,
    draft: JSON.parse(row.draft as string) as PollDraft,
    state: row.state as PollState,
    createdAt: new Date(row.created_at as string),
    roll: row.roll_size === null ? null : { size: Number(row.roll_size), commitment: bytes(row.roll_commitment) },
    manifest: row.manifest === null ? null : bytes(row.manifest),
    frozen: frozenOf(row),
    revision: Number(row.revision),
  };
}
