/**
 * RedisLiveStore against a real Redis (never a mock): the LiveStore contract on the shared test
 * Redis (BLINDVOTE_TEST_REDIS_URL) under a key prefix of its own per run; then, on throwaway
 * redis-servers (so FLUSHALL and SIGKILL touch no one else), a counting Tallier publishing into
 * one process's store while another process's routes serve SSE: a FLUSHALL is refilled by the
 * republish, and a killed and restarted Redis is survived by both sides.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import { Tallier, tallierRoutes } from '@blindvote/tallier';
import type { ResultsSnapshot } from '@blindvote/tallier';
// Test-only sources of the tallier workspace (its package exports no testing entry point).
import { liveStoreContract, snapshotAt } from '../../../tallier/src/live-contract.ts';
import { ballots, close, election } from '../../../tallier/src/testing/election.ts';
import { MemoryBoard } from '../../../tallier/src/testing/memory-board.ts';
import { eventReader } from '../../../tallier/src/testing/sse.ts';
import { until } from '../../../tallier/src/testing/until.ts';
import { RedisLiveStore } from './live-redis.ts';
import { testRedis, throwawayRedis, uniquePrefix } from '../testing/redis.ts';

const clients: Redis[] = [];
const client = (url?: string): Redis => {
  const redis = testRedis(url);
  redis.on('error', () => {});
  clients.push(redis);
  return redis;
};
after(() => {
  for (const redis of clients) redis.disconnect();
});

liveStoreContract('redis', {
  open: async () => {
    const prefix = uniquePrefix('live');
    // Two clients, two stores: as two processes sharing one Redis.
    const writerRedis = client();
    const readerRedis = client();
    await Promise.all([writerRedis.ping(), readerRedis.ping()]);
    // The writer makes its own subscriber connection; the reader is given one (as targets.ts does).
    const writer = new RedisLiveStore({ redis: writerRedis, prefix, ttlSeconds: 120 });
    const reader = new RedisLiveStore({ redis: readerRedis, subscriber: client(), prefix, ttlSeconds: 120 });
    return {
      writer,
      reader,
      close: async () => {
        await Promise.all([writer.close(), reader.close()]);
      },
    };
  },
});

test('redis: keys expire unless published again; a foreign value under the prefix is refused, not served', async () => {
  const prefix = uniquePrefix('ttl');
  const redis = client();
  const store = new RedisLiveStore({ redis, prefix, ttlSeconds: 60 });
  await store.publish(snapshotAt('p', 3));
  const ttl = await redis.pttl(`${prefix}live:poll:p`);
  assert.ok(ttl > 55_000 && ttl <= 60_000, `pttl ${ttl}`);
  await redis.pexpire(`${prefix}live:poll:p`, 1000);
  await store.publish(snapshotAt('p', 3)); // a republish of the same snapshot renews the expiry
  assert.ok((await redis.pttl(`${prefix}live:poll:p`)) > 55_000);
  await redis.hset(`${prefix}live:poll:q`, 'json', JSON.stringify(snapshotAt('other', 1)));
  await assert.rejects(store.snapshot('q'), /holds a snapshot of poll "other": something other than RedisLiveStore writes under prefix/);
  await redis.del(`${prefix}live:poll:p`, `${prefix}live:poll:q`);
  assert.throws(() => new RedisLiveStore({ redis, ttlSeconds: 0 }), /ttlSeconds: expected at least 1 second/);
});

test('redis: a counting tallier in one process, SSE in another; FLUSHALL is refilled by the republish, a killed Redis is survived', async (t) => {
  const server = await throwawayRedis();
  t.after(() => server.stop());
  const E = await election('redis-live');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 3)]);

  // Process 1: counts and publishes.
  const errors: string[] = [];
  const counting = new RedisLiveStore({ redis: client(server.url) });
  const tallier = new Tallier({ feed: board, live: counting, republishMs: 100, onError: (_poll, error, kind) => errors.push(`${kind}: ${error.message}`) });
  await tallier.start();
  await tallier.idle();
  t.after(() => tallier.stop());

  // Process 2: serves, counts nothing.
  const pushRedis = client(server.url);
  const push = new RedisLiveStore({ redis: pushRedis, onError: () => {} });
  const app = Fastify();
  await app.register(tallierRoutes, { live: push, heartbeatMs: 1000 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    await push.close();
    await counting.close();
  });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const base = `http://127.0.0.1:${address.port}/v1/results/${id}`;

  await until('the first snapshot in Redis', async () => (await push.snapshot(id))?.tree_size === 4);
  const abort = new AbortController();
  t.after(() => abort.abort());
  const first = eventReader((await fetch(`${base}/events`, { signal: abort.signal })).body!);
  await until('the SSE snapshot', () => first.data().length === 1);
  assert.deepEqual(first.data()[0]!.counts, { bikes: 2, library: 1, park: 1 });

  board.append(id, ballots(E, 2, 3));
  await until('an update over SSE', () => first.data().at(-1)?.tree_size === 6);
  assert.equal(first.data().at(-1)!.ballots_counted, 5);

  // FLUSHALL: Redis forgets everything; the republish (100 ms) refills it without a new vote.
  const flushedAt = performance.now();
  await pushRedis.flushall();
  await until('the refill', async () => (await push.snapshot(id)) !== null);
  const refillMs = performance.now() - flushedAt;
  const refilled = await fetch(base);
  assert.equal(refilled.status, 200);
  assert.deepEqual((await refilled.json()).counts, tallier.snapshot(id)!.counts);
  const second = eventReader((await fetch(`${base}/events`, { signal: abort.signal })).body!);
  await until('counts for a new subscriber', () => second.data().length === 1);
  assert.equal(second.data()[0]!.ballots_counted, 5);
  board.append(id, ballots(E, 1, 5));
  await until('the next update on both streams', () => first.data().at(-1)?.tree_size === 7 && second.data().at(-1)?.tree_size === 7);

  // SIGKILL Redis; while it is down the routes answer 503 and the tallier's publishes fail.
  await server.kill();
  const down = await fetch(base);
  assert.equal(down.status, 503);
  assert.equal((await down.json()).code, 'BV_RESULTS_UNAVAILABLE');
  board.append(id, ballots(E, 2, 6));
  await tallier.idle();
  await until('the tallier to report the failed publish', () => errors.some((e) => e.startsWith('live: ')));

  // Back (empty): both processes reconnect, the republish refills, the streams catch up.
  const restartedAt = performance.now();
  await server.start();
  await until('the SSE streams to catch up after the restart', () => first.data().at(-1)?.tree_size === 9 && second.data().at(-1)?.tree_size === 9, 15_000);
  const recoverMs = performance.now() - restartedAt;
  board.append(id, [close(E, 8)]);
  await until('the tally over SSE', () => first.data().at(-1)?.state === 'tallied' && second.data().at(-1)?.state === 'tallied');
  assert.deepEqual(first.data().at(-1), tallier.snapshot(id));
  for (const stream of [first.data(), second.data()]) {
    for (let i = 1; i < stream.length; i++) assert.ok(stream[i]!.tree_size > stream[i - 1]!.tree_size || stream[i]!.state !== stream[i - 1]!.state, 'each message supersedes the one before');
  }
  t.diagnostic(`refill after FLUSHALL: ${refillMs.toFixed(0)} ms (republishMs 100); streams caught up ${recoverMs.toFixed(0)} ms after the restart`);
});

test('redis: a snapshot published while the subscriber connection was cut reaches the listener once it reconnects', async (t) => {
  const server = await throwawayRedis();
  t.after(() => server.stop());
  const admin = client(server.url);
  const writer = new RedisLiveStore({ redis: client(server.url) });
  const reader = new RedisLiveStore({ redis: client(server.url), onError: () => {} });
  t.after(() => Promise.all([writer.close(), reader.close()]));
  await writer.publish(snapshotAt('cut', 2));
  const got: ResultsSnapshot[] = [];
  reader.subscribe('cut', (s) => got.push(s));
  await reader.snapshot('cut');
  await until('the subscription', async () => (await admin.pubsub('NUMSUB', 'blindvote:live:updates'))[1] === 1);
  // The re-read after the first SUBSCRIBE delivers the current snapshot (2) once.
  await until('the first re-read', () => got.length === 1);
  await writer.publish(snapshotAt('cut', 3));
  await until('an update', () => got.length === 2);

  // Cut the subscriber's connection and publish before it is back: the message goes nowhere.
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  assert.equal((await admin.pubsub('NUMSUB', 'blindvote:live:updates'))[1], 0);
  await writer.publish(snapshotAt('cut', 4));
  await until('the re-read after the reconnection', () => got.at(-1)?.tree_size === 4);
  assert.deepEqual(got.map((s) => s.tree_size), [2, 3, 4]);
});
