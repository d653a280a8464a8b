/**
 * SequencerOptions.onBatch: one call per committed batch with its size, what it appended and
 * how long it took; a hook that throws changes nothing for the appends.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256, utf8 } from '@blindvote/crypto';
import { Sequencer } from './sequencer.ts';
import type { SequencerOptions } from './sequencer.ts';
import { testSigner } from './storage-contract.ts';
import { SqliteLogStorage } from './storage/sqlite.ts';

type BatchInfo = Parameters<NonNullable<SequencerOptions['onBatch']>>[0];

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function sequencer(options: SequencerOptions): Promise<Sequencer> {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-hook-'));
  const storage = new SqliteLogStorage(join(dir, 'board.db'));
  cleanups.push(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const s = new Sequencer(storage, [testSigner()], options);
  await s.createLog('p', 'board.test/poll/p');
  return s;
}

const entry = (i: number) => utf8(`{"n":${i}}`);
const token = (i: number) => sha256(utf8(`token ${i}`));

test('onBatch: once per committed batch, sizes within maxBatch, adding up to the entries; duplicates and spends are not appended', async () => {
  const calls: BatchInfo[] = [];
  const s = await sequencer({ maxBatch: 8, onBatch: (info) => calls.push({ ...info }) });

  const n = 50;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => s.append('p', entry(i), token(i))));
  assert.ok(results.every((r) => r.status === 'appended'));
  assert.ok(calls.length >= Math.ceil(n / 8), `${calls.length} batches for ${n} entries of at most 8`);
  assert.equal(calls.reduce((sum, c) => sum + c.entries, 0), n);
  assert.equal(calls.reduce((sum, c) => sum + c.appended, 0), n);
  for (const c of calls) {
    assert.equal(c.pollId, 'p');
    assert.ok(c.entries >= 1 && c.entries <= 8, `batch of ${c.entries}`);
    assert.equal(c.appended, c.entries);
    assert.ok(Number.isFinite(c.seconds) && c.seconds >= 0 && c.seconds < 60, `seconds ${c.seconds}`);
  }

  // One batch: a byte-identical resubmission (duplicate), a double spend, and one new entry.
  calls.length = 0;
  const [duplicate, spent, fresh] = await Promise.all([s.append('p', entry(0), token(0)), s.append('p', entry(999), token(1)), s.append('p', entry(n), token(n))]);
  assert.deepEqual([duplicate.status, spent.status, fresh.status], ['duplicate', 'spent', 'appended']);
  assert.deepEqual(calls.map(({ entries, appended }) => ({ entries, appended })), [{ entries: 3, appended: 1 }]);
});

test('onBatch: a hook that throws breaks no append, now or later', async () => {
  let calls = 0;
  const s = await sequencer({
    maxBatch: 4,
    onBatch: () => {
      calls++;
      throw new Error('hook failed');
    },
  });
  const first = await Promise.all(Array.from({ length: 10 }, (_, i) => s.append('p', entry(i), token(i))));
  assert.deepEqual(first.map((r) => r.index), [...Array(10).keys()]);
  assert.ok(first.every((r) => r.status === 'appended'));
  const later = await s.append('p', entry(10), token(10));
  assert.equal(later.status, 'appended');
  assert.equal(later.index, 10);
  assert.ok(calls >= 4, `hook called ${calls} times`);
});
