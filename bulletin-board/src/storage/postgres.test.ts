/**
 * The storage contract against the real PostgreSQL server (never a mock). Each test gets a
 * fresh database; BLINDVOTE_TEST_PG_URL names the server (default: local, user postgres).
 */
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { storageContract } from '../storage-contract.ts';
import { PostgresLogStorage } from './postgres.ts';

const admin = process.env.BLINDVOTE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const created: string[] = [];

async function freshDatabase(): Promise<string> {
  const name = `blindvote_board_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  created.push(name);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

after(async () => {
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  for (const name of created) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
});

storageContract('postgres', {
  open: async () => PostgresLogStorage.open({ connectionString: await freshDatabase(), max: 4 }),
  scale: Number(process.env.BLINDVOTE_SCALE ?? 1_000_000),
});
