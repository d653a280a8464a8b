/**
 * The issuer store contract against the real PostgreSQL server (never a mock), plus what only
 * PostgreSQL has: migrations and concurrent start-ups, a role that owns only its database, several
 * processes on one database. Each test gets a fresh database; BLINDVOTE_TEST_PG_URL names the
 * server (default: local, user postgres).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { draft, hash, issuerStoreContract } from '../store-contract.ts';
import type { IssueOutcome, IssuerStore } from '../store.ts';
import { createTestDatabase } from '../testing/postgres.ts';
import type { TestDatabase, TestDatabaseOptions } from '../testing/postgres.ts';
import { IssuerStoreError, PostgresIssuerStore } from './postgres.ts';

const created: TestDatabase[] = [];
after(() => Promise.all(created.map((db) => db.drop())));

async function freshDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const db = await createTestDatabase(options.ownRole === true ? 'blindvote_issuer_role_test' : 'blindvote_issuer_test', options);
  created.push(db);
  return db;
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

issuerStoreContract('postgres', async () => PostgresIssuerStore.open((await freshDatabase()).url, { poolSize: 4 }));
issuerStoreContract('postgres, as a role that owns only its database', async () =>
  PostgresIssuerStore.open((await freshDatabase({ ownRole: true })).url, { poolSize: 4 }));
issuerStoreContract('postgres, one issuance per transaction', async () =>
  PostgresIssuerStore.open((await freshDatabase()).url, { poolSize: 4, maxBatch: 1, issueConcurrency: 4 }));

/** A published poll `pollId` whose roll is `voters`. */
async function published(store: IssuerStore, pollId: string, voters: string[]): Promise<void> {
  assert.equal(await store.createPoll(pollId, draft, new Date()), true);
  assert.equal(await store.replaceRoll(pollId, { accountIds: voters, salt: new Uint8Array(randomBytes(32)), commitment: hash(voters.join('\n')) }), true);
  const key = { pkcs8: Uint8Array.of(1, 2, 3), spki: Uint8Array.of(4, 5, 6) };
  assert.equal(await store.beginPublish(pollId, (await store.poll(pollId))!.revision, key, Uint8Array.of(7)), true);
  assert.equal(await store.markPublished(pollId), true);
}

test('postgres: migrations apply once; reopening keeps every committed row', async () => {
  const { url } = await freshDatabase();
  const store = await PostgresIssuerStore.open(url, { poolSize: 2 });
  let stored: Uint8Array;
  try {
    assert.equal(await store.createAccount({ username: 'bob', passwordHash: 'h', admin: false, createdAt: new Date() }), true);
    stored = await store.metaIfAbsent('k', Uint8Array.of(1));
  } finally {
    await store.close();
  }
  for (let i = 0; i < 2; i++) {
    const reopened = await PostgresIssuerStore.open(url, { poolSize: 2 });
    try {
      assert.equal((await reopened.account('bob'))?.username, 'bob');
      assert.deepEqual(await reopened.metaIfAbsent('k', Uint8Array.of(2)), stored);
    } finally {
      await reopened.close();
    }
  }
  const versions = await sql<{ version: number }>(url, 'SELECT version FROM issuer_migrations ORDER BY version');
  assert.deepEqual(versions.map((r) => r.version), [1]);
});

test('postgres: eight processes starting at once on an empty database all open it, and migrate it once', async () => {
  const { url } = await freshDatabase({ ownRole: true });
  const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresIssuerStore.open(url, { poolSize: 1 })));
  try {
    await Promise.all(stores.map((s, i) => s.createAccount({ username: `u${i}`, passwordHash: 'h', admin: false, createdAt: new Date() })));
    for (const s of stores) assert.equal((await s.accountIds()).length, 8);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  assert.deepEqual((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM issuer_migrations'))[0]?.n, 1);
});

test('postgres: the own-role database: not a superuser, and no connection to another database', async () => {
  const mine = await freshDatabase({ ownRole: true });
  const other = await freshDatabase({ ownRole: true });
  const [me] = await sql<{ rolsuper: boolean; rolcreatedb: boolean; owner: string; user: string }>(
    mine.url,
    'SELECT rolsuper, rolcreatedb, pg_get_userbyid(d.datdba) AS owner, current_user AS user FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()',
  );
  assert.deepEqual(me, { rolsuper: false, rolcreatedb: false, owner: mine.name, user: mine.name });
  const crossing = new URL(mine.url);
  crossing.pathname = `/${other.name}`;
  await assert.rejects(
    PostgresIssuerStore.open(crossing.toString(), { poolSize: 1 }),
    (error: Error) => error instanceof IssuerStoreError && /permission denied for database/.test(error.message) && !error.message.includes(crossing.password),
  );
});

test('postgres: refuses a schema newer than the code, and the board\'s database', async () => {
  const newer = await freshDatabase();
  await (await PostgresIssuerStore.open(newer.url, { poolSize: 1 })).close();
  await sql(newer.url, 'INSERT INTO issuer_migrations (version) VALUES (99)');
  await assert.rejects(PostgresIssuerStore.open(newer.url, { poolSize: 1 }), /schema is at version 99, newer than this code knows/);

  const board = await freshDatabase();
  await sql(board.url, 'CREATE TABLE board_migrations (version integer PRIMARY KEY)');
  await assert.rejects(PostgresIssuerStore.open(board.url, { poolSize: 1 }), /holds the bulletin board's tables \(board_migrations\).*database of its own/);
  assert.deepEqual(await sql(board.url, "SELECT 1 FROM pg_class WHERE relname = 'issuer_migrations'"), [], 'nothing created');

  await assert.rejects(PostgresIssuerStore.open(newer.url, { maxBatch: 0 }), /maxBatch must be a positive integer, got 0/);
});

test('postgres: issuance rows hold (poll, account, hash) and nothing else; the hash must be 32 bytes', async () => {
  const { url } = await freshDatabase();
  const store = await PostgresIssuerStore.open(url, { poolSize: 2 });
  try {
    const columns = await sql<{ column_name: string }>(
      url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'issuance' ORDER BY ordinal_position",
    );
    assert.deepEqual(columns.map((c) => c.column_name), ['poll_id', 'account_id', 'blinded_msg_sha256']);
    await published(store, 'p1', ['alice']);
    await assert.rejects(store.issue('p1', 'alice', new Uint8Array(31)), /blindedHash must be the 32-byte SHA-256 of the blinded message, got 31 bytes/);
    assert.equal(await store.issuedCount('p1'), 0);
  } finally {
    await store.close();
  }
});

test('postgres: three processes issuing and one freezing at once: the freeze waits only for the batches in flight, and counts exactly the rows recorded', async () => {
  const { url } = await freshDatabase();
  const stores = await Promise.all([1, 2, 3].map(() => PostgresIssuerStore.open(url, { poolSize: 4, maxBatch: 50 })));
  try {
    const voters = Array.from({ length: 30_000 }, (_, i) => `voter-${i}`);
    await published(stores[0]!, 'p1', voters);
    // Every voter asks twice, through two processes; every other one with a different message.
    const requests = voters.flatMap((v, i) => [[v, `a ${v}`], [v, i % 2 === 0 ? `a ${v}` : `b ${v}`]] as const);
    const outcomes: { voter: string; outcome: IssueOutcome }[] = [];
    let next = 0;
    const issuing = Promise.all(stores.flatMap((store) => Array.from({ length: 200 }, async () => {
      while (next < requests.length) {
        const [voter, message] = requests[next++]!;
        outcomes.push({ voter, outcome: await store.issue('p1', voter, hash(message)) });
      }
    })));
    while ((await stores[2]!.issuedCount('p1')) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    const frozen = await stores[2]!.freeze('p1', '2026-03-01T12:00:00Z');
    const waited = performance.now() - started;
    await issuing;
    assert.ok(frozen !== null);
    assert.ok(waited < 2000, `the freeze waited ${Math.round(waited)} ms: it queued behind issuance instead of the batches in flight`);
    assert.ok(frozen.issued > 0 && frozen.issued < voters.length, `frozen mid-issuance (${frozen.issued} of ${voters.length})`);
    assert.equal(frozen.issued, await stores[0]!.issuedCount('p1'));
    const recorded = new Map<string, string>();
    for (const { voter, outcome } of outcomes) {
      if (outcome.status === 'not_open') continue;
      assert.equal(outcome.status, 'recorded');
      const hex = Buffer.from(outcome.blindedHash).toString('hex');
      assert.equal(recorded.get(voter) ?? hex, hex, `${voter}: both processes got the same row`);
      recorded.set(voter, hex);
    }
    assert.equal(recorded.size, frozen.issued, 'every issuance that returned is counted, none recorded after');
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

test('postgres: a connection killed mid-batch rejects that batch with an IssuerStoreError, and issuance goes on', async () => {
  const { url } = await freshDatabase();
  const store = await PostgresIssuerStore.open(url, { poolSize: 2 });
  const blocker = new pg.Client({ connectionString: url });
  await blocker.connect();
  try {
    await published(store, 'p1', ['alice', 'bob']);
    // Another transaction holds the issuance table: the batch waits for it.
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE issuance IN EXCLUSIVE MODE');
    const doomed = store.issue('p1', 'alice', hash('m1'));
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const { rows } = await blocker.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
      );
      pid = rows[0]?.pid;
    }
    assert.ok(pid !== undefined, 'the batch never waited for the lock');
    await blocker.query('SELECT pg_terminate_backend($1)', [pid]);
    await assert.rejects(doomed, (error: Error) => error instanceof IssuerStoreError && /^issuer store: issue: /.test(error.message));
    await blocker.query('COMMIT');
    assert.deepEqual(await store.issue('p1', 'alice', hash('m1')), { status: 'recorded', blindedHash: hash('m1') });
    assert.equal(await store.issuedCount('p1'), 1);
  } finally {
    await blocker.end();
    await store.close();
  }
});

test('postgres: close waits for the issuances it accepted, then refuses new ones', async () => {
  const { url } = await freshDatabase();
  const store = await PostgresIssuerStore.open(url, { poolSize: 2, maxBatch: 10, issueConcurrency: 1 });
  const voters = Array.from({ length: 100 }, (_, i) => `voter-${i}`);
  await published(store, 'p1', voters);
  const pending = voters.map((v) => store.issue('p1', v, hash(v)));
  await store.close();
  assert.ok((await Promise.all(pending)).every((o) => o.status === 'recorded'));
  await assert.rejects(store.issue('p1', 'voter-0', hash('voter-0')), /the store is closed/);
  assert.equal((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM issuance'))[0]?.n, voters.length);
});

test('postgres: a roll of 50,000 voters is replaced in one transaction, and deleted with its draft', async () => {
  const { url } = await freshDatabase();
  const store = await PostgresIssuerStore.open(url, { poolSize: 2 });
  try {
    const voters = Array.from({ length: 50_000 }, (_, i) => `voter-${i}`);
    assert.equal(await store.createPoll('p1', draft, new Date()), true);
    assert.equal(await store.replaceRoll('p1', { accountIds: voters, salt: new Uint8Array(32), commitment: hash('r') }), true);
    assert.equal((await store.poll('p1'))?.roll?.size, voters.length);
    assert.equal(await store.onRoll('p1', 'voter-49999'), true);
    assert.equal(await store.deleteDraft('p1'), true);
    assert.equal((await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM roll'))[0]?.n, 0);
  } finally {
    await store.close();
  }
});

/**
 * The store's share of POST /v1/polls/:id/tokens (`poll` then `issue`, as routes/tokens.ts calls
 * them), 256 requests in flight: group commit against one transaction per issuance. A figure,
 * reported, not asserted (it depends on the machine); docs/performance.md has the runs.
 */
test('postgres: tokens-path store throughput (reported)', async (t) => {
  const n = Number(process.env.BLINDVOTE_ISSUER_PG_TOKENS ?? 4000);
  const inFlight = 256;
  for (const [label, options] of [
    ['group commit', { poolSize: 10 }],
    ['one transaction per issuance', { poolSize: 10, maxBatch: 1, issueConcurrency: 10 }],
  ] as const) {
    const { url } = await freshDatabase();
    const store = await PostgresIssuerStore.open(url, options);
    try {
      const voters = Array.from({ length: n }, (_, i) => `voter-${i}`);
      await published(store, 'p1', voters);
      let next = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < n) {
          const voter = voters[next++]!;
          assert.equal((await store.poll('p1'))?.state, 'published');
          assert.equal((await store.issue('p1', voter, hash(voter))).status, 'recorded');
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      assert.equal(await store.issuedCount('p1'), n);
      t.diagnostic(`${label}: ${n} tokens in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} tokens/s (${inFlight} in flight)`);
    } finally {
      await store.close();
    }
  }
});
