/**
 * The issuer's and the board's databases for a test deployment, on the real PostgreSQL server
 * (never a mock), set up as deploy/postgres-init.sql sets up production: one role per service,
 * neither superuser nor allowed to create databases or roles, owning its database, which no one
 * else may connect to (DESIGN.md promise 5). Names are new on every call, so runs never meet.
 * BLINDVOTE_TEST_PG_URL names a user that may create databases and roles (default: local
 * `postgres`); the URLs returned log in as the service roles, with their passwords, on the same
 * host and port (even where the server trusts local connections: connect privileges still hold).
 * A test with a server of its own (testing/postgres-server.ts) passes that server's admin URL.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = process.env.BLINDVOTE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ServiceDatabases {
  /** The issuer's database, as its role. */
  readonly issuerUrl: string;
  /** The board's database, as its role. */
  readonly boardUrl: string;
  /** Drops both databases (closing whatever is still connected) and both roles. */
  drop(): Promise<void>;
}

async function asAdmin(adminUrl: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`service databases: cannot connect to ${adminUrl} (set BLINDVOTE_TEST_PG_URL): ${(error as Error).message}`, { cause: error });
  }
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Role and database `name`, as deploy/postgres-init.sql creates each (shared_cluster: the maintenance databases stay open). */
async function createServiceDatabase(adminUrl: string, name: string): Promise<string> {
  const password = randomBytes(24).toString('hex');
  const id = pg.escapeIdentifier(name);
  await asAdmin(adminUrl, [
    `CREATE ROLE ${id} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${pg.escapeLiteral(password)}`,
    `CREATE DATABASE ${id} OWNER ${id} ENCODING 'UTF8' TEMPLATE template0`,
    `REVOKE ALL ON DATABASE ${id} FROM PUBLIC`,
  ]);
  const url = new URL(adminUrl);
  url.username = name;
  url.password = password;
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropServiceDatabase(adminUrl: string, name: string): Promise<void> {
  const id = pg.escapeIdentifier(name);
  await asAdmin(adminUrl, [`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`, `DROP ROLE IF EXISTS ${id}`]);
}

/**
 * `<prefix>_issuer_<random>` and `<prefix>_board_<random>`, each a role owning the database of its
 * name, on the server `adminUrl` logs in to (a superuser, or a role that may create databases
 * and roles; default ADMIN_URL, the shared test server).
 */
export async function createServiceDatabases(prefix: string, adminUrl: string = ADMIN_URL): Promise<ServiceDatabases> {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`service databases: prefix "${prefix}" must match [a-z][a-z0-9_]{0,40}`);
  const suffix = randomBytes(4).toString('hex');
  const names = [`${prefix}_issuer_${suffix}`, `${prefix}_board_${suffix}`] as const;
  const drop = async () => {
    for (const name of names) await dropServiceDatabase(adminUrl, name);
  };
  try {
    const issuerUrl = await createServiceDatabase(adminUrl, names[0]);
    const boardUrl = await createServiceDatabase(adminUrl, names[1]);
    return { issuerUrl, boardUrl, drop };
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
}
