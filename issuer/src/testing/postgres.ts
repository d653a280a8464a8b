/**
 * Throwaway databases on the real PostgreSQL server for tests and benchmarks (never a mock).
 * BLINDVOTE_TEST_PG_URL names a user that may create databases and roles (default: local
 * `postgres`). Names start with the prefix given, so leftovers of a killed run are easy to find.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = process.env.BLINDVOTE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connects as the admin user, or as the database's own role (`ownRole`). */
  readonly url: string;
  readonly name: string;
  /** Drops the database (closing whatever is still connected to it) and its role. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /**
   * A new LOGIN role, neither superuser nor allowed to create databases or roles, owns the
   * database and is the only one (with superusers) that may connect to it, as in production
   * (deploy/postgres-init.sql). The URL logs in as that role, with its password.
   */
  readonly ownRole?: boolean;
}

async function asAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`test database: cannot connect to ${ADMIN_URL} (set BLINDVOTE_TEST_PG_URL): ${(error as Error).message}`, { cause: error });
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new, empty database named `<prefix>_<random>`. */
export async function createTestDatabase(prefix: string, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`test database: prefix "${prefix}" must match [a-z][a-z0-9_]{0,40}`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  if (options.ownRole !== true) {
    await asAdmin(`CREATE DATABASE ${name}`);
    return { url: url.toString(), name, drop: () => asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
  }
  const password = randomBytes(18).toString('hex');
  await asAdmin(`CREATE ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
  await asAdmin(`CREATE DATABASE ${name} OWNER ${name}`);
  await asAdmin(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
  url.username = name;
  url.password = password;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await asAdmin(`DROP ROLE IF EXISTS ${name}`);
    },
  };
}
