import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issuerStoreContract } from '../store-contract.ts';
import { SqliteIssuerStore } from './sqlite.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-issuer-'));
  dirs.push(dir);
  return join(dir, 'issuer.db');
}

issuerStoreContract('sqlite', async () => new SqliteIssuerStore(tempPath()));
issuerStoreContract('sqlite :memory:', async () => new SqliteIssuerStore(':memory:'));

test('sqlite: a reopened file has every committed row, in WAL mode', async () => {
  const path = tempPath();
  const store = new SqliteIssuerStore(path);
  assert.equal(await store.createAccount({ username: 'bob', passwordHash: 'h', admin: false, createdAt: new Date() }), true);
  const key = await store.metaIfAbsent('k', Uint8Array.of(1));
  assert.ok(existsSync(`${path}-wal`), 'WAL journal');
  await store.close();
  const reopened = new SqliteIssuerStore(path);
  try {
    assert.equal((await reopened.account('bob'))?.username, 'bob');
    assert.deepEqual(await reopened.metaIfAbsent('k', Uint8Array.of(2)), key);
  } finally {
    await reopened.close();
  }
});
