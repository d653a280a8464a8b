/**
 * DESIGN.md promise 5 at the database level: the issuer's and the board's databases are separate,
 * and each service's role cannot even connect to the other's, as the test deployment
 * (`testing/postgres.ts`) and the production script (deploy/postgres-init.sql, run here through
 * psql as docker's entrypoint runs it) set them up. On the real PostgreSQL server: connect
 * privileges hold even where it trusts local connections.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresLogStorage } from '@blindvote/bulletin-board';
import { PostgresIssuerStore } from '@blindvote/issuer';
import { ADMIN_URL, createServiceDatabases } from './testing/postgres.ts';

const INIT_SQL = fileURLToPath(new URL('../../deploy/postgres-init.sql', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function admin<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** `url`'s role, on `database`. */
function as(url: string, database: string): string {
  const crossed = new URL(url);
  crossed.pathname = `/${database}`;
  return crossed.toString();
}

const nameOf = (url: string): string => new URL(url).pathname.slice(1);

async function whoAmI(url: string): Promise<{ user: string; database: string; superuser: boolean; createdb: boolean; createrole: boolean }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT current_user AS user, current_database() AS database, rolsuper AS superuser, rolcreatedb AS createdb, rolcreaterole AS createrole
         FROM pg_roles WHERE rolname = current_user`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

async function assertNoConnect(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await assert.rejects(client.connect(), (error: Error & { code?: string }) => {
    assert.equal(error.code, '42501', error.message);
    assert.match(error.message, /permission denied for database/);
    return true;
  });
}

/** Both roles log into their own database only; neither holds a privilege beyond it. */
async function assertSeparated(issuerUrl: string, boardUrl: string): Promise<void> {
  const [issuerDb, boardDb] = [nameOf(issuerUrl), nameOf(boardUrl)];
  assert.notEqual(issuerDb, boardDb);
  const issuerRole = decodeURIComponent(new URL(issuerUrl).username);
  const boardRole = decodeURIComponent(new URL(boardUrl).username);
  assert.deepEqual(await whoAmI(issuerUrl), { user: issuerRole, database: issuerDb, superuser: false, createdb: false, createrole: false });
  assert.deepEqual(await whoAmI(boardUrl), { user: boardRole, database: boardDb, superuser: false, createdb: false, createrole: false });
  await assertNoConnect(as(issuerUrl, boardDb));
  await assertNoConnect(as(boardUrl, issuerDb));
  const owners = await admin<{ datname: string; owner: string }>(
    'SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY($1) ORDER BY datname',
    [[issuerDb, boardDb]],
  );
  assert.deepEqual(owners.map((r) => [r.datname, r.owner]).sort(), [[boardDb, boardRole], [issuerDb, issuerRole]]);
}

/** The real stores migrate and work as these roles; neither opens the other's database. */
async function assertStoresRun(issuerUrl: string, boardUrl: string): Promise<void> {
  const store = await PostgresIssuerStore.open(issuerUrl, { poolSize: 1 });
  try {
    assert.deepEqual(await store.metaIfAbsent('k', Uint8Array.of(1)), Uint8Array.of(1));
  } finally {
    await store.close();
  }
  const storage = await PostgresLogStorage.open({ connectionString: boardUrl, max: 1 });
  try {
    assert.deepEqual(await storage.logs(), []);
  } finally {
    await storage.close();
  }
  await assert.rejects(PostgresIssuerStore.open(as(issuerUrl, nameOf(boardUrl)), { poolSize: 1 }), /permission denied for database/);
  await assert.rejects(PostgresLogStorage.open({ connectionString: as(boardUrl, nameOf(issuerUrl)), max: 1 }), /permission denied for database/);
}

test('service databases: each role reaches its own database only, where its store runs; drop removes both', async () => {
  const dbs = await createServiceDatabases('svc_test');
  cleanups.push(dbs.drop);
  await assertSeparated(dbs.issuerUrl, dbs.boardUrl);

  await assertStoresRun(dbs.issuerUrl, dbs.boardUrl);

  const again = await createServiceDatabases('svc_test');
  cleanups.push(again.drop);
  assert.notEqual(nameOf(again.issuerUrl), nameOf(dbs.issuerUrl), 'every call gets new databases');
  await again.drop();
  await dbs.drop();
  const names = [dbs.issuerUrl, dbs.boardUrl, again.issuerUrl, again.boardUrl].map(nameOf);
  assert.deepEqual(await admin('SELECT datname FROM pg_database WHERE datname = ANY($1)', [names]), []);
  assert.deepEqual(await admin('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [names]), []);
});

/** deploy/postgres-init.sql through psql, with fresh names; `env` adds to the environment. */
function runInitSql(variables: Record<string, string>, env: Record<string, string> = {}) {
  const args = ['-X', '-q', '-d', ADMIN_URL, '-f', INIT_SQL];
  for (const [name, value] of Object.entries(variables)) args.push('-v', `${name}=${value}`);
  const run = spawnSync('psql', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (run.error !== undefined) throw new Error(`psql (the PostgreSQL client) must be on PATH to run deploy/postgres-init.sql: ${run.error.message}`);
  return run;
}

function scriptNames(): { issuer_db: string; board_db: string } {
  const suffix = randomBytes(4).toString('hex');
  const names = { issuer_db: `init_test_issuer_${suffix}`, board_db: `init_test_board_${suffix}` };
  cleanups.push(async () => {
    for (const name of Object.values(names)) {
      await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
    }
  });
  return names;
}

/** The role's stored SCRAM-SHA-256 verifier is that of `password` (RFC 5802 StoredKey): trust auth would not tell. */
async function assertPassword(role: string, password: string): Promise<void> {
  const [row] = await admin<{ verifier: string | null }>('SELECT rolpassword AS verifier FROM pg_authid WHERE rolname = $1', [role]);
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):/.exec(row?.verifier ?? '');
  assert.ok(match !== null, `${role}: a SCRAM-SHA-256 password`);
  const salted = pbkdf2Sync(password, Buffer.from(match[2]!, 'base64'), Number(match[1]), 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64');
  assert.equal(storedKey, match[3], `${role}: the password given`);
}

function urlOf(name: string, password: string): string {
  const url = new URL(ADMIN_URL);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  return url.toString();
}

test('deploy/postgres-init.sql: two roles, two databases, each role reaching its own only', async () => {
  // shared_cluster: this test server is not blindvote's alone, so `postgres` and `template1` stay open.
  const names = scriptNames();
  const passwords = { issuer_password: randomBytes(12).toString('hex'), board_password: randomBytes(12).toString('hex') };
  const run = runInitSql({ ...names, ...passwords, shared_cluster: 'on' });
  assert.equal(run.status, 0, run.stderr);
  await assertSeparated(urlOf(names.issuer_db, passwords.issuer_password), urlOf(names.board_db, passwords.board_password));
  await assertPassword(names.issuer_db, passwords.issuer_password);
  await assertPassword(names.board_db, passwords.board_password);
  await assertStoresRun(urlOf(names.issuer_db, passwords.issuer_password), urlOf(names.board_db, passwords.board_password));
  const acl = await admin<{ datacl: string }>('SELECT datacl::text FROM pg_database WHERE datname = $1', [names.issuer_db]);
  assert.equal(acl[0]?.datacl, `{${names.issuer_db}=CTc/${names.issuer_db}}`, 'PUBLIC holds nothing on the database');
});

test('deploy/postgres-init.sql: passwords from the environment (docker-entrypoint-initdb.d); none given, nothing created', async () => {
  const names = scriptNames();
  const run = runInitSql({ ...names, shared_cluster: 'on' }, { BLINDVOTE_ISSUER_DB_PASSWORD: 'from-env-1', BLINDVOTE_BOARD_DB_PASSWORD: 'from-env-2' });
  assert.equal(run.status, 0, run.stderr);
  await assertSeparated(urlOf(names.issuer_db, 'from-env-1'), urlOf(names.board_db, 'from-env-2'));
  await assertPassword(names.issuer_db, 'from-env-1');
  await assertPassword(names.board_db, 'from-env-2');

  const missing = scriptNames();
  const refused = runInitSql({ ...missing, shared_cluster: 'on', board_password: 'only-one' }, { BLINDVOTE_ISSUER_DB_PASSWORD: '' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /set both passwords/);
  assert.deepEqual(await admin('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [Object.values(missing)]), []);
});
