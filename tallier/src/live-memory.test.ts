/**
 * MemoryLiveStore: the LiveStore contract (live-contract.ts), then what only the in-process store
 * promises: synchronous delivery of every snapshot that became current.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveStoreContract, snapshotAt } from './live-contract.ts';
import { MemoryLiveStore } from './live-memory.ts';
import type { ResultsSnapshot } from './snapshot.ts';

liveStoreContract('memory', {
  open: async () => {
    const store = new MemoryLiveStore();
    return { writer: store, reader: store, close: async () => {} };
  },
});

test('memory: every snapshot that became current is delivered before publish resolves; clear() forgets snapshots, not listeners', async () => {
  const store = new MemoryLiveStore();
  const got: ResultsSnapshot[] = [];
  const off = store.subscribe('p', (s) => got.push(s));
  const twice = store.subscribe('p', (s) => got.push(s));
  assert.equal(store.subscribers('p'), 2);
  twice();
  assert.equal(store.subscribers('p'), 1);
  for (let size = 1; size <= 50; size++) {
    const published = store.publish(snapshotAt('p', size));
    assert.equal(got.length, size, 'delivered synchronously');
    await published;
  }
  store.clear();
  assert.equal(await store.snapshot('p'), null);
  await store.publish(snapshotAt('p', 3));
  assert.deepEqual(got.at(-1), snapshotAt('p', 3), 'after a clear, the refill is current again');
  off();
  assert.equal(store.subscribers('p'), 0);
});
