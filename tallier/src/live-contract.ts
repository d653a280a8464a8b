/**
 * The one contract every LiveStore (ports.ts) passes. `live-memory.test.ts` runs it against
 * MemoryLiveStore, `server/src/distributed/live-redis.test.ts` against RedisLiveStore on a real
 * Redis. Each test gets two handles on one fresh store, as two processes sharing it have: one
 * publishes (the counting tallier), the other reads and follows (a push instance). Deliveries may
 * be asynchronous, so tests wait for them (with a deadline) instead of expecting them at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveStore } from './ports.ts';
import { newnessKey, supersedes } from './ports.ts';
import type { ResultsSnapshot } from './snapshot.ts';
import { until } from './testing/until.ts';

export interface SharedLiveStore {
  /** The handle that publishes. */
  readonly writer: LiveStore;
  /** Another handle on the same store (the same object for an in-process store). */
  readonly reader: LiveStore;
  close(): Promise<void>;
}

export interface LiveContractOptions {
  /** Two handles on a fresh, empty store. */
  readonly open: () => Promise<SharedLiveStore>;
  /** How long a delivery may take (default 2000 ms). */
  readonly deliveryMs?: number;
}

/** A snapshot of poll `pollId` at `tree_size` in `state`; `tag` marks otherwise equal ones apart. */
export function snapshotAt(pollId: string, treeSize: number, state: ResultsSnapshot['state'] = 'open', tag = 0): ResultsSnapshot {
  const ballots = Math.max(0, treeSize - 1);
  return {
    poll_id: pollId,
    state,
    tree_size: treeSize,
    ballots,
    ballots_counted: ballots,
    ballots_rejected: 0,
    counts: { yes: ballots, no: tag },
    final: null,
    ...(state === 'error' ? { error: `board misbehaviour (test ${tag})` } : {}),
  };
}

/** The order of `supersedes`, spelled out: each snapshot here supersedes every one before it. */
const ASCENDING: readonly (readonly [number, ResultsSnapshot['state']])[] = [
  [0, 'open'],
  [1, 'open'],
  [5, 'open'],
  [5, 'closed'],
  [6, 'closed'],
  [6, 'tallied'],
  [7, 'tallied'],
  [0, 'error'],
  [3, 'error'],
  [7, 'error'],
];

/** A deterministic PRNG (mulberry32): the random orders below are the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATES: readonly ResultsSnapshot['state'][] = ['open', 'closed', 'tallied', 'error'];

export function liveStoreContract(name: string, options: LiveContractOptions): void {
  const deliveryMs = options.deliveryMs ?? 2000;
  let polls = 0;
  const pollId = (what: string) => `live-${what}-${++polls}`;

  const delivered = (what: string, ok: () => boolean) => until(`${name}: ${what}`, ok, deliveryMs);

  const withStore = async (body: (store: SharedLiveStore) => Promise<void>) => {
    const store = await options.open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  };

  test(`${name}: supersedes orders error first, then tree_size, then open < closed < tallied`, () => {
    for (let i = 0; i < ASCENDING.length; i++) {
      for (let j = 0; j < ASCENDING.length; j++) {
        const a = snapshotAt('p', ...ASCENDING[i]!);
        const b = snapshotAt('p', ...ASCENDING[j]!);
        assert.equal(supersedes(a, b), i > j, `${JSON.stringify(ASCENDING[i])} supersedes ${JSON.stringify(ASCENDING[j])}`);
      }
    }
    assert.equal(supersedes(snapshotAt('p', 4, 'open', 1), snapshotAt('p', 4, 'open', 2)), false, 'equal keys: not newer');
  });

  test(`${name}: a published snapshot is readable on every handle once publish resolved; unknown polls read null`, async () => {
    await withStore(async ({ writer, reader }) => {
      const id = pollId('read');
      assert.equal(await reader.snapshot(id), null);
      const s = snapshotAt(id, 3);
      await writer.publish(s);
      assert.deepEqual(await reader.snapshot(id), s);
      assert.deepEqual(await writer.snapshot(id), s);
      assert.equal(await reader.snapshot(pollId('other')), null);
      // Every field survives the store, the optional error included.
      const e = snapshotAt(id, 4, 'error', 1);
      await writer.publish(e);
      assert.deepEqual(await reader.snapshot(id), e);
    });
  });

  test(`${name}: monotonic: a snapshot never replaces one that supersedes it; an equal one changes nothing`, async () => {
    await withStore(async ({ writer, reader }) => {
      const id = pollId('monotonic');
      for (let i = ASCENDING.length - 1; i >= 0; i--) await writer.publish(snapshotAt(id, ...ASCENDING[i]!));
      assert.deepEqual(await reader.snapshot(id), snapshotAt(id, 7, 'error'));

      const id2 = pollId('equal');
      await writer.publish(snapshotAt(id2, 4, 'open', 1));
      await writer.publish(snapshotAt(id2, 4, 'open', 2));
      assert.deepEqual(await reader.snapshot(id2), snapshotAt(id2, 4, 'open', 1), 'the first of equal snapshots stays');

      // Random orders (seeded): the current snapshot is always the greatest published so far.
      const next = random(0x5eed);
      for (let round = 0; round < 5; round++) {
        const id3 = pollId('random');
        let greatest: ResultsSnapshot | null = null;
        for (let i = 0; i < 30; i++) {
          const s = snapshotAt(id3, Math.floor(next() * 12), STATES[Math.floor(next() * STATES.length)]!, i);
          await writer.publish(s);
          if (greatest === null || supersedes(s, greatest)) greatest = s;
          assert.deepEqual(await reader.snapshot(id3), greatest, `round ${round}, publish ${i}`);
        }
      }
    });
  });

  test(`${name}: concurrent publishes from two handles end at the greatest snapshot`, async () => {
    await withStore(async ({ writer, reader }) => {
      const id = pollId('race');
      const next = random(42);
      const all = Array.from({ length: 60 }, (_, i) => snapshotAt(id, 1 + Math.floor(next() * 50), STATES[Math.floor(next() * 3)]!, i));
      await Promise.all(all.map((s, i) => (i % 2 === 0 ? writer : reader).publish(s)));
      const current = await reader.snapshot(id);
      assert.ok(current !== null);
      const top = all.reduce((a, b) => (supersedes(b, a) ? b : a));
      assert.deepEqual(newnessKey(current), newnessKey(top));
    });
  });

  test(`${name}: subscribers get the snapshots that became current, in order, the last always; older ones never`, async () => {
    await withStore(async ({ writer, reader }) => {
      const id = pollId('follow');
      await writer.publish(snapshotAt(id, 1));
      const got: ResultsSnapshot[] = [];
      const unsubscribe = reader.subscribe(id, (s) => got.push(s));
      assert.deepEqual(await reader.snapshot(id), snapshotAt(id, 1));

      await writer.publish(snapshotAt(id, 2));
      await delivered('the first update', () => got.length === 1);
      assert.deepEqual(got, [snapshotAt(id, 2)]);
      await writer.publish(snapshotAt(id, 1)); // older: not current, not delivered
      await writer.publish(snapshotAt(id, 2, 'open', 9)); // equal: not current, not delivered
      await writer.publish(snapshotAt(id, 2, 'closed'));
      await delivered('the closed state', () => got.length === 2);
      assert.deepEqual(got.at(-1), snapshotAt(id, 2, 'closed'));

      // A burst: intermediate ones may be skipped, the last never; always in supersedes order.
      for (let size = 3; size <= 200; size++) void writer.publish(snapshotAt(id, size, size === 200 ? 'tallied' : 'closed'));
      await writer.publish(snapshotAt(id, 200, 'tallied'));
      await delivered('the last of the burst', () => got.at(-1)?.tree_size === 200);
      for (let i = 1; i < got.length; i++) assert.ok(supersedes(got[i]!, got[i - 1]!), `delivery ${i} does not supersede the one before`);
      assert.deepEqual(got.at(-1), snapshotAt(id, 200, 'tallied'));

      unsubscribe();
      unsubscribe();
      const count = got.length;
      await writer.publish(snapshotAt(id, 201, 'tallied'));
      await sleep(50);
      assert.equal(got.length, count, 'no delivery after unsubscribe');
    });
  });

  test(`${name}: listeners get only their poll's snapshots; a throwing listener keeps no one from theirs`, async () => {
    await withStore(async ({ writer, reader }) => {
      const a = pollId('a');
      const b = pollId('b');
      const gotA: number[] = [];
      const gotA2: number[] = [];
      const gotB: number[] = [];
      const offs = [
        reader.subscribe(a, () => {
          throw new Error('a broken listener (test)');
        }),
        reader.subscribe(a, (s) => gotA.push(s.tree_size)),
        reader.subscribe(a, (s) => gotA2.push(s.tree_size)),
        reader.subscribe(b, (s) => gotB.push(s.tree_size)),
      ];
      await reader.snapshot(a);
      await reader.snapshot(b);
      await writer.publish(snapshotAt(a, 5));
      await writer.publish(snapshotAt(b, 8));
      await delivered('both polls', () => gotA.length === 1 && gotA2.length === 1 && gotB.length === 1);
      assert.deepEqual([gotA, gotA2, gotB], [[5], [5], [8]]);
      for (const off of offs) off();
    });
  });
}
