/**
 * The storage contract against the real PostgreSQL server (never a mock). Each test gets a
 * fresh database; BLINDVOTE_TEST_PG_URL names the server (default: local, user postgres).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { CompactRange, leafHash, openCheckpoint, sha256, utf8 } from '@blindvote/crypto';
import { Sequencer } from '../sequencer.ts';
import { storageContract, testSigner } from '../storage-contract.ts';
import { PostgresLogStorage } from './postgres.ts';
import { UnknownLogError } from '../storage.ts';
import { createTestDatabase } from '../testing/postgres.ts';
import type { TestDatabase } from '../testing/postgres.ts';

const created: TestDatabase[] = [];

async function freshDatabase(): Promise<string> {
  const db = await createTestDatabase('blindvote_board_test');
  created.push(db);
  return db.url;
}

after(() => Promise.all(created.map((db) => db.drop())));

/** A fresh database with log "p1", its storage and sequencer, and two other connections to it. */
async function withLog(
  fn: (t: { storage: PostgresLogStorage; sequencer: Sequencer; peers: readonly [pg.Client, pg.Client] }) => Promise<void>,
): Promise<void> {
  const url = await freshDatabase();
  const storage = await PostgresLogStorage.open({ connectionString: url, max: 2 });
  const sequencer = new Sequencer(storage, [testSigner()]);
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })] as const;
  try {
    await Promise.all(clients.map((c) => c.connect()));
    await sequencer.createLog('p1', 'board.test/poll/p1');
    await fn({ storage, sequencer, peers: clients });
  } finally {
    await Promise.all(clients.map((c) => c.end()));
    await storage.close();
  }
}

storageContract('postgres', {
  open: async () => PostgresLogStorage.open({ connectionString: await freshDatabase(), max: 4 }),
  scale: Number(process.env.BLINDVOTE_SCALE ?? 1_000_000),
});

test('postgres: an append resolves only after its batch committed', () =>
  withLog(async ({ sequencer, peers: [blocker, observer] }) => {
    // Another writer holds the log: the batch can spend (uncommitted) but not lock and commit.
    await blocker.query('BEGIN');
    await blocker.query("SELECT * FROM logs WHERE poll_id = 'p1' FOR UPDATE");
    let settled = false;
    const append = sequencer.append('p1', utf8('{"n":1}'), sha256(utf8('t1'))).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(settled, false);
    assert.equal((await observer.query('SELECT count(*)::int AS n FROM spent')).rows[0].n, 0);
    await blocker.query('COMMIT');
    assert.equal((await append).status, 'appended');
    assert.equal((await observer.query('SELECT count(*)::int AS n FROM spent')).rows[0].n, 1);
    assert.equal((await observer.query('SELECT size FROM logs')).rows[0].size, '1');
  }));

test('postgres: two sequencer processes on one log, every token sent to both, never deadlock or duplicate', async () => {
  const url = await freshDatabase();
  const signer = testSigner();
  const [a, b] = await Promise.all([1, 2].map(() => PostgresLogStorage.open({ connectionString: url, max: 3 })));
  try {
    const sequencers = [a!, b!].map((s) => new Sequencer(s, [signer], { maxBatch: 64 }));
    await sequencers[0]!.createLog('p1', 'board.test/poll/p1');
    const tokens = Array.from({ length: 3000 }, (_, i) => sha256(utf8(`two writers ${i}`)));
    // Each token goes to both writers; for every third token the second copy differs.
    const results = await Promise.all(tokens.flatMap((token, i) => [
      sequencers[0]!.append('p1', utf8(`{"n":${i}}`), token).then((r) => ({ i, r })),
      sequencers[1]!.append('p1', utf8(i % 3 === 0 ? `{"n":${i},"other":true}` : `{"n":${i}}`), token).then((r) => ({ i, r })),
    ]));
    const head = (await a!.head('p1'))!;
    assert.equal(head.size, tokens.length);
    const entries = await a!.readEntries('p1', 0, head.size);
    const range = new CompactRange();
    for (const entry of entries) range.append(leafHash(entry));
    assert.deepEqual(range.root(), openCheckpoint(head.checkpoint, [signer.verifierKey]).checkpoint.root);
    const appended = results.filter(({ r }) => r.status === 'appended');
    assert.equal(appended.length, tokens.length, 'one entry per token');
    for (const { i, r } of results) {
      assert.equal(await a!.spentIndex('p1', tokens[i]!), r.index);
      assert.equal(await b!.leafIndex('p1', leafHash(entries[r.index]!)), r.index);
      assert.equal(JSON.parse(new TextDecoder().decode(entries[r.index]!)).n, i);
    }
  } finally {
    await Promise.all([a!.close(), b!.close()]);
  }
});

test('postgres: a spend that meets a spent token starts its transaction again, names the row and holds the lock', () =>
  withLog(async ({ storage, sequencer, peers: [other] }) => {
    const row = (token: string, index: number) => ({ tokenId: sha256(utf8(token)), index, leafHash: leafHash(utf8(token)) });
    await sequencer.append('p1', utf8('{"n":0}'), sha256(utf8('a')));
    const head = await storage.head('p1');
    // First the plain INSERT fails and the transaction starts again; after that the poll's next
    // batches spend the careful way at once. Either way: one transaction, holding the log.
    for (const attempt of ['restarted', 'careful']) {
      const abort = new Error('abort');
      await assert.rejects(
        storage.transact('p1', async (tx) => {
          const { lost, head: locked } = await tx.spendThenLock([row('a', 1), row(`b ${attempt}`, 2)]);
          assert.deepEqual([...lost], [1], attempt);
          assert.deepEqual(locked, head);
          await assert.rejects(other.query("SELECT 1 FROM logs WHERE poll_id = 'p1' FOR UPDATE NOWAIT"), /could not obtain lock/, attempt);
          assert.equal((await other.query('SELECT count(*)::int AS n FROM spent')).rows[0].n, 1, `${attempt}: nothing visible before commit`);
          throw abort;
        }),
        (error) => error === abort,
      );
      assert.equal(await storage.spentIndex('p1', sha256(utf8(`b ${attempt}`))), null, `${attempt}: the rolled-back spend left nothing`);
      assert.deepEqual(await storage.head('p1'), head);
    }
    await assert.rejects(storage.transact('nope', (tx) => tx.spendThenLock([row('c', 0)])), UnknownLogError);
    await assert.rejects(storage.transact('p1', async (tx) => {
      await tx.spentIndexes([]);
      await tx.spendThenLock([row('c', 1)]);
    }), /must be the first call/);
  }));

test('postgres: a connection killed mid-batch rejects that batch, crashes nothing, and the log goes on', () =>
  withLog(async ({ storage, sequencer, peers: [blocker] }) => {
    await blocker.query('BEGIN');
    await blocker.query("SELECT * FROM logs WHERE poll_id = 'p1' FOR UPDATE");
    const doomed = sequencer.append('p1', utf8('{"n":1}'), sha256(utf8('t1')));
    // Wait until the batch waits for the lock, then kill its connection (a server restart, a failover).
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
    await assert.rejects(doomed);
    await blocker.query('COMMIT');
    const retried = await sequencer.append('p1', utf8('{"n":1}'), sha256(utf8('t1')));
    assert.deepEqual([retried.status, retried.index], ['appended', 0]);
    assert.equal((await storage.head('p1'))?.size, 1);
  }));

test('postgres: migrations 2 and 3 give the spent rows of an existing log their leaf hashes and log ids', async () => {
  const url = await freshDatabase();
  const signer = testSigner();
  let storage = await PostgresLogStorage.open({ connectionString: url, max: 2 });
  const n = 5000; // more than one backfill page
  try {
    const sequencer = new Sequencer(storage, [signer]);
    for (const id of ['p1', 'p2']) await sequencer.createLog(id, `board.test/poll/${id}`);
    await Promise.all(Array.from({ length: n }, (_, i) => sequencer.append('p1', utf8(`{"n":${i}}`), sha256(utf8(`m${i}`)))));
    await sequencer.append('p2', utf8('{"n":0}'), sha256(utf8('m0')));
  } finally {
    await storage.close();
  }
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // Back to the schema of version 1, as a database written before migrations 2 and 3 has it.
    await admin.query(`CREATE TABLE spent_v1 AS SELECT l.poll_id, s.token_id, s.leaf_index FROM spent s JOIN logs l ON l.id = s.log_id;
                       DROP TABLE spent;
                       ALTER TABLE spent_v1 RENAME TO spent;
                       ALTER TABLE spent ALTER COLUMN poll_id SET NOT NULL, ALTER COLUMN token_id SET NOT NULL, ALTER COLUMN leaf_index SET NOT NULL,
                         ADD PRIMARY KEY (poll_id, token_id);
                       ALTER TABLE logs DROP COLUMN id;
                       DELETE FROM board_migrations WHERE version >= 2`);
  } finally {
    await admin.end();
  }
  storage = await PostgresLogStorage.open({ connectionString: url, max: 2 });
  try {
    const entries = await storage.readEntries('p1', 0, n);
    for (const index of [0, 1, 4095, 4096, 4097, n - 1]) assert.equal(await storage.leafIndex('p1', leafHash(entries[index]!)), index);
    assert.equal(await storage.leafIndex('p2', leafHash(utf8('{"n":0}'))), 0);
    assert.equal(await storage.spentIndex('p2', sha256(utf8('m0'))), 0);
    assert.equal(await storage.spentIndex('p2', sha256(utf8('m1'))), null);
    for (const i of [0, 4096, n - 1]) assert.equal(await storage.spentIndex('p1', sha256(utf8(`m${i}`))), i);
    // Tokens spent before the migrations stay spent: a different entry is refused, naming the first.
    const again = await new Sequencer(storage, [signer]).append('p1', utf8('{"n":"other"}'), sha256(utf8('m7')));
    assert.deepEqual([again.status, again.index], ['spent', 7]);
  } finally {
    await storage.close();
  }
  const check = new pg.Client({ connectionString: url });
  await check.connect();
  try {
    assert.equal((await check.query('SELECT count(*)::int AS n FROM spent')).rows[0].n, n + 1, 'every spent row carried over');
    assert.equal((await check.query('SELECT count(*)::int AS n FROM spent WHERE leaf_hash IS NULL')).rows[0].n, 0);
  } finally {
    await check.end();
  }
});
