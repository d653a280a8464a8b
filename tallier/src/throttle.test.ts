/**
 * Pushed updates: at most 5 per second per poll (one per 200 ms), coalesced to the latest state, the last one
 * never dropped; first the Throttle alone, then what a Tallier fed by a board appending fast
 * publishes into its LiveStore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLiveStore } from './live-memory.ts';
import { Tallier } from './tallier.ts';
import type { ResultsSnapshot } from './snapshot.ts';
import { Throttle } from './throttle.ts';
import { ballots, close, election } from './testing/election.ts';
import { MemoryBoard } from './testing/memory-board.ts';

test('Throttle: the first value at once, then only the latest once per interval; flush delivers what waits', async () => {
  const seen: [number, number][] = [];
  const t0 = performance.now();
  const throttle = new Throttle<number>(100, (v) => seen.push([v, performance.now() - t0]));
  for (let i = 0; i < 50; i++) throttle.push(i);
  assert.deepEqual(seen.map(([v]) => v), [0]);
  await sleep(150);
  assert.deepEqual(seen.map(([v]) => v), [0, 49]);
  assert.ok(seen[1]![1] >= 100, `second emission after ${seen[1]![1]} ms`);
  // After a quiet interval the next value goes out at once; one pushed right after it waits.
  await sleep(120);
  throttle.push(50);
  throttle.push(51);
  assert.deepEqual(seen.map(([v]) => v), [0, 49, 50]);
  throttle.flush();
  assert.deepEqual(seen.map(([v]) => v), [0, 49, 50, 51]);
  throttle.flush();
  assert.equal(seen.length, 4);
  assert.throws(() => new Throttle(-1, () => {}), RangeError);
});

test('many appends: at most 5 updates in any second, each the latest state, the last with the final size', async () => {
  const E = await election('throttled');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll]);
  const live = new MemoryLiveStore();
  const tallier = new Tallier({ feed: board, live });
  await tallier.start();
  await tallier.idle();
  const updates: { at: number; snapshot: ResultsSnapshot }[] = [];
  live.subscribe(id, (snapshot) => updates.push({ at: performance.now(), snapshot }));

  const batches = 60;
  const began = performance.now();
  const all = ballots(E, batches * 2);
  for (let i = 0; i < batches; i++) {
    board.append(id, all.slice(2 * i, 2 * i + 2));
    await sleep(25);
  }
  board.append(id, [close(E, all.length)]);
  await tallier.idle();
  await sleep(600); // the throttle's last wait

  // The bound follows the time the appends really took (sleeps stretch on a busy machine).
  const most = Math.ceil((updates.at(-1)!.at - began) / 200) + 1;
  assert.ok(updates.length >= 6 && updates.length <= most, `${updates.length} updates in ${(updates.at(-1)!.at - began).toFixed(0)} ms: expected 6..${most}`);
  for (let i = 5; i < updates.length; i++) {
    const window = updates[i]!.at - updates[i - 5]!.at;
    assert.ok(window >= 999, `updates ${i - 5}..${i} within ${window.toFixed(0)} ms: more than 5 in a second`);
  }
  const sizes = updates.map((u) => u.snapshot.tree_size);
  assert.deepEqual(sizes, [...sizes].sort((a, b) => a - b));
  const last = updates.at(-1)!.snapshot;
  assert.equal(last.state, 'tallied');
  assert.equal(last.tree_size, board.size(id));
  assert.equal(last.ballots_counted, all.length);
  assert.deepEqual(last, tallier.snapshot(id));
  await tallier.stop();
});
