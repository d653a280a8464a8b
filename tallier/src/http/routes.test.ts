/**
 * tallierRoutes over a MemoryLiveStore that a Tallier publishes into: the JSON snapshot (inject),
 * and the pushed streams over a real listening socket: WebSocket with a `ws` client, Server-Sent
 * Events with fetch and a stream reader. Then the routes over a bare store (no Tallier): what a
 * push-only instance serves, and a store that fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { MemoryLiveStore } from '../live-memory.ts';
import type { LiveStore } from '../ports.ts';
import { Tallier } from '../tallier.ts';
import type { ResultsSnapshot } from '../snapshot.ts';
import { ballots, close, election } from '../testing/election.ts';
import { MemoryBoard } from '../testing/memory-board.ts';
import { eventReader } from '../testing/sse.ts';
import { until } from '../testing/until.ts';
import { SSE_RETRY_MS, tallierRoutes } from './routes.ts';

const E = await election('http-poll');
const ID = E.poll.poll_id;

async function serve(live: LiveStore, options: { listen?: boolean } = {}): Promise<{ app: FastifyInstance; base: string }> {
  const app = Fastify();
  await app.register(tallierRoutes, { live, heartbeatMs: 50 });
  let base = '';
  if (options.listen === true) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    base = `127.0.0.1:${address.port}`;
  } else await app.ready();
  return { app, base };
}

async function service(options: { listen?: boolean } = {}): Promise<{ app: FastifyInstance; tallier: Tallier; live: MemoryLiveStore; board: MemoryBoard; base: string }> {
  const board = new MemoryBoard();
  board.append(ID, [E.poll, ...ballots(E, 3)]);
  const live = new MemoryLiveStore();
  const tallier = new Tallier({ feed: board, live });
  await tallier.start();
  await tallier.idle();
  return { ...(await serve(live, options)), tallier, live, board };
}

test('GET /v1/results/:pollId: the snapshot, the final tally with its checkpoint; 404 and 400 say what to fix', async () => {
  const { app, tallier, live, board } = await service();
  const res = await app.inject({ method: 'GET', url: `/v1/results/${ID}` });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), tallier.snapshot(ID));
  assert.deepEqual(res.json().counts, { bikes: 2, library: 1, park: 1 });

  board.append(ID, [close(E, 3)]);
  await tallier.idle();
  // The tallier publishes at most once per 200 ms: the tally may wait that long.
  let published: ResultsSnapshot | null = null;
  await until('the tally in the store', () => {
    void live.snapshot(ID).then((s) => (published = s));
    return published?.state === 'tallied';
  });
  const final = await app.inject({ method: 'GET', url: `/v1/results/${ID}` });
  const body = final.json() as ResultsSnapshot;
  assert.equal(body.state, 'tallied');
  assert.deepEqual(body, tallier.snapshot(ID));
  assert.equal(body.final?.tally.tree_size, 5);
  assert.match(body.final!.checkpoint, /^vote\.test\/poll\/http-poll\n6\n/);

  const unknown = await app.inject({ method: 'GET', url: '/v1/results/nope' });
  assert.equal(unknown.statusCode, 404);
  const { message, ...rest } = unknown.json() as { message: string };
  assert.deepEqual(rest, { statusCode: 404, code: 'BV_UNKNOWN_POLL', error: 'Not Found' });
  assert.match(message, /^no results for poll nope: /);
  for (const url of ['/v1/results/nope/events', '/v1/results/nope/ws']) {
    assert.equal((await app.inject({ method: 'GET', url })).json().code, 'BV_UNKNOWN_POLL', url);
  }

  const bad = await app.inject({ method: 'GET', url: '/v1/results/Not_A_Poll' });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().message, /pollId/);

  const plain = await app.inject({ method: 'GET', url: `/v1/results/${ID}/ws` });
  assert.equal(plain.statusCode, 426);
  assert.equal(plain.json().code, 'BV_WEBSOCKET_UPGRADE_REQUIRED');
  await app.close();
  await tallier.stop();
});

test('WebSocket: the snapshot on connect, then updates; an unknown poll is refused with 404 before the upgrade', async () => {
  const { app, tallier, live, board, base } = await service({ listen: true });
  const ws = new WebSocket(`ws://${base}/v1/results/${ID}/ws`);
  const messages: ResultsSnapshot[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await until('the first message', () => messages.length >= 1);
  assert.deepEqual(messages[0], tallier.snapshot(ID));
  assert.equal(messages[0]!.tree_size, 4);
  assert.equal(live.subscribers(ID), 1);

  board.append(ID, ballots(E, 2, 3));
  await until('an update', () => messages.at(-1)!.tree_size === 6);
  assert.equal(messages.at(-1)!.ballots_counted, 5);
  board.append(ID, [close(E, 5)]);
  await until('the final state', () => messages.at(-1)!.state === 'tallied');
  assert.deepEqual(messages.at(-1), tallier.snapshot(ID));

  ws.close();
  await until('the subscriber to go', () => live.subscribers(ID) === 0);

  const status = await new Promise<number>((resolve, reject) => {
    const refused = new WebSocket(`ws://${base}/v1/results/nope/ws`);
    refused.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      refused.terminate();
    });
    refused.on('open', () => reject(new Error('upgraded for an unknown poll')));
    refused.on('error', () => {});
  });
  assert.equal(status, 404);
  await app.close();
  await tallier.stop();
});

test('SSE: retry hint, the snapshot, heartbeats and updates; cleaned up when the client goes', async () => {
  const { app, tallier, live, board, base } = await service({ listen: true });
  const abort = new AbortController();
  const res = await fetch(`http://${base}/v1/results/${ID}/events`, { signal: abort.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
  const events = eventReader(res.body!);
  await until('the snapshot', () => events.data().length >= 1);
  assert.equal(events.blocks[0], `retry: ${SSE_RETRY_MS}`);
  assert.deepEqual(events.data()[0], tallier.snapshot(ID));
  await until('a heartbeat', () => events.blocks.includes(': heartbeat'));

  board.append(ID, ballots(E, 4, 3));
  await until('an update', () => events.data().at(-1)!.tree_size === 8);
  assert.equal(events.data().at(-1)!.ballots_counted, 7);
  assert.equal(live.subscribers(ID), 1);

  abort.abort();
  await events.done;
  await until('the subscriber to go', () => live.subscribers(ID) === 0);

  await app.close();
  await tallier.stop();
});

test('closing the server ends open SSE streams instead of waiting on them', async () => {
  const { app, tallier, live, base } = await service({ listen: true });
  const res = await fetch(`http://${base}/v1/results/${ID}/events`);
  const events = eventReader(res.body!);
  await until('the snapshot', () => events.data().length >= 1);
  const closed = app.close().then(() => 'closed');
  assert.equal(await Promise.race([closed, sleep(2000, 'timeout')]), 'closed');
  await events.done;
  assert.equal(live.subscribers(ID), 0);
  await tallier.stop();
});

const snap = (tree_size: number, state: ResultsSnapshot['state'] = 'open', pollId = ID): ResultsSnapshot => ({
  poll_id: pollId,
  state,
  tree_size,
  ballots: tree_size - 1,
  ballots_counted: tree_size - 1,
  ballots_rejected: 0,
  counts: { bikes: tree_size - 1, library: 0, park: 0 },
  final: null,
});

/** A store whose listeners can be handed anything (an older snapshot, say) and whose reads can be held or failed. */
class ScriptedStore implements LiveStore {
  readonly inner = new MemoryLiveStore();
  readonly listeners = new Set<(s: ResultsSnapshot) => void>();
  /** While set, snapshot() waits for it. */
  hold: Promise<void> | null = null;
  fail = false;

  publish(snapshot: ResultsSnapshot): Promise<void> {
    return this.inner.publish(snapshot);
  }

  async snapshot(pollId: string): Promise<ResultsSnapshot | null> {
    if (this.fail) throw new Error('store down (test)');
    const read = await this.inner.snapshot(pollId);
    await this.hold;
    return read;
  }

  subscribe(pollId: string, listener: (s: ResultsSnapshot) => void): () => void {
    this.listeners.add(listener);
    const off = this.inner.subscribe(pollId, listener);
    return () => {
      this.listeners.delete(listener);
      off();
    };
  }
}

test('a push-only instance: the routes serve a store that another process fills, with no Tallier here', async () => {
  const live = new MemoryLiveStore();
  await live.publish(snap(4));
  const { app, base } = await serve(live, { listen: true });
  assert.deepEqual((await app.inject({ method: 'GET', url: `/v1/results/${ID}` })).json(), snap(4));

  const messages: ResultsSnapshot[] = [];
  const ws = new WebSocket(`ws://${base}/v1/results/${ID}/ws`);
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await until('the first message', () => messages.length === 1);
  await live.publish(snap(9));
  await live.publish(snap(9, 'closed'));
  await live.publish(snap(7)); // older: the store keeps 9/closed and notifies no one
  await until('two updates', () => messages.length === 3);
  await sleep(50);
  assert.deepEqual(messages.map((m) => [m.tree_size, m.state]), [[4, 'open'], [9, 'open'], [9, 'closed']]);
  ws.close();
  await until('the subscriber to go', () => live.subscribers(ID) === 0);
  await app.close();
});

test('streams subscribe before they read: a snapshot published during the read is not lost, an older one never follows a newer', async () => {
  const store = new ScriptedStore();
  await store.publish(snap(2));
  const { app, base } = await serve(store, { listen: true });

  // SSE: the read returns size 2, but size 5 was published while it was held.
  let release!: () => void;
  store.hold = new Promise((resolve) => (release = resolve));
  const abort = new AbortController();
  const response = fetch(`http://${base}/v1/results/${ID}/events`, { signal: abort.signal });
  await until('the stream to subscribe', () => store.listeners.size === 1);
  await store.publish(snap(5));
  release();
  store.hold = null;
  const events = eventReader((await response).body!);
  await until('the snapshot', () => events.data().length >= 1);
  // An older snapshot handed to the listener (a store refilled after a flush, say) is dropped.
  for (const listener of store.listeners) listener(snap(3));
  await store.publish(snap(6));
  await until('the update', () => events.data().length >= 2);
  await sleep(50);
  assert.deepEqual(events.data().map((s) => s.tree_size), [5, 6]);
  abort.abort();
  await events.done;
  await app.close();
});

test('a store that cannot be read: 503 BV_RESULTS_UNAVAILABLE, nothing upgraded or streamed', async () => {
  const store = new ScriptedStore();
  await store.publish(snap(2));
  const { app } = await serve(store);
  store.fail = true;
  for (const url of [`/v1/results/${ID}`, `/v1/results/${ID}/events`, `/v1/results/${ID}/ws`]) {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 503, url);
    assert.equal(res.json().code, 'BV_RESULTS_UNAVAILABLE', url);
    assert.match(res.json().message, /unavailable right now: retry/);
  }
  assert.equal(store.listeners.size, 0);
  await app.close();
});
