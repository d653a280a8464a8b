import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leafHash, sha256, utf8 } from '@blindvote/crypto';
import { Sequencer } from '../sequencer.ts';
import { storageContract, testSigner } from '../storage-contract.ts';
import { open } from './sqlite-db.ts';
import { SqliteLogStorage } from './sqlite.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

storageContract('sqlite', {
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindvote-board-'));
    dirs.push(dir);
    return new SqliteLogStorage(join(dir, 'board.db'));
  },
  scale: Number(process.env.BLINDVOTE_SCALE ?? 1_000_000),
});

test('sqlite: migration 2 gives the spent rows of an existing log their leaf hashes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-board-'));
  dirs.push(dir);
  const path = join(dir, 'board.db');
  const n = 600;
  let storage = new SqliteLogStorage(path);
  try {
    const sequencer = new Sequencer(storage, [testSigner()], { maxBatch: 50 });
    for (const id of ['p1', 'p2']) await sequencer.createLog(id, `board.test/poll/${id}`);
    await Promise.all(Array.from({ length: n }, (_, i) => sequencer.append('p1', utf8(`{"n":${i}}`), sha256(utf8(`m${i}`)))));
    await sequencer.append('p2', utf8('{"n":0}'), sha256(utf8('m0')));
  } finally {
    await storage.close();
  }
  // Back to the schema of version 1, as a database written before migration 2 has it.
  const db = open(path);
  db.exec('DROP INDEX spent_leaf_hash; ALTER TABLE spent DROP COLUMN leaf_hash; PRAGMA user_version = 1;');
  db.close();
  storage = new SqliteLogStorage(path);
  try {
    const entries = await storage.readEntries('p1', 0, n);
    for (let index = 0; index < n; index++) assert.equal(await storage.leafIndex('p1', leafHash(entries[index]!)), index);
    assert.equal(await storage.leafIndex('p2', leafHash(utf8('{"n":0}'))), 0);
  } finally {
    await storage.close();
  }
});

test('sqlite: a write that fails aborts its pipelined transaction: the commit fails naming it, nothing is kept, the next one works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-sqlite-'));
  const storage = new SqliteLogStorage(join(dir, 'board.db'));
  try {
    const sequencer = new Sequencer(storage, [testSigner()]);
    await sequencer.createLog('p1', 'board.test/poll/p1');
    await sequencer.append('p1', utf8('{"n":0}'), sha256(utf8('t0')));
    const before = await storage.head('p1');
    // A tile grown from a prefix it does not have: the writer thread throws inside the transaction.
    await assert.rejects(
      storage.transact('p1', async (tx) => {
        await tx.spendThenLock([{ tokenId: sha256(utf8('t1')), index: 1, leafHash: leafHash(utf8('{"n":1}')) }]);
        await tx.write([], [{ level: 0, index: 0, start: 7, hashes: new Uint8Array(32) }], { ...before!, size: 2 });
      }),
      /aborted by an earlier failure: storage: tile 0\/0 lacks its first 7 hashes/,
    );
    assert.deepEqual(await storage.head('p1'), before);
    assert.equal(await storage.spentIndex('p1', sha256(utf8('t1'))), null);
    const next = await sequencer.append('p1', utf8('{"n":1}'), sha256(utf8('t1')));
    assert.equal(next.status, 'appended');
    assert.equal(next.index, 1);
    // Calls outside a transaction are not refused after a failed one either.
    await assert.rejects(storage.transact('nope', (tx) => tx.spendThenLock([])), /no log for poll "nope"/);
    assert.equal(await sequencer.createLog('p2', 'board.test/poll/p2'), true);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
