/**
 * The issuer's rate limits in Redis (never a mock): two issuer instances sharing one Redis count
 * together; with Redis killed (a throwaway redis-server) or not answering, registration, sign-in
 * and issuance fail closed with 503 and nothing is issued; once Redis is back, issuance works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyError } from 'fastify';
import { Redis } from 'ioredis';
import { issuer } from '@blindvote/issuer';
// Test-only source of the issuer workspace (its package exports no testing entry point).
import { FakeBoard, harness, PASSWORD, randomBlindedMsg } from '../../../issuer/src/testing/harness.ts';
import type { Harness } from '../../../issuer/src/testing/harness.ts';
import { testRedis, throwawayRedis } from '../testing/redis.ts';

/** An address no earlier run used: the counters of the shared test Redis outlive a run by a minute. */
const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

const from = (h: Harness, remoteAddress: string, url: string, payload: object, token?: string) =>
  h.app.inject({ method: 'POST', url, payload, remoteAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

function client(url?: string): Redis {
  const redis = testRedis(url);
  redis.on('error', () => {});
  return redis;
}

test('two issuer instances on one Redis share each limit: together they allow max, not twice max', async (t) => {
  const redis = client();
  t.after(() => redis.disconnect());
  await redis.ping();
  const limit = { max: 3, windowSeconds: 60 };
  const rateLimit = { registerPerIp: limit, loginPerIp: { max: 100, windowSeconds: 60 }, tokensPerIp: limit, tokensPerAccount: { max: 100, windowSeconds: 60 } };
  const a = await harness({ rateLimit, rateLimitRedis: redis });
  const b = await harness({ rateLimit, rateLimitRedis: redis });

  // Registration from one address, alternating instances: the 4th is refused, on either.
  const ip = freshIp();
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await from(i % 2 === 0 ? a : b, ip, '/v1/accounts', { username: `voter-${i}`, password: PASSWORD })).statusCode);
  assert.deepEqual(statuses, [201, 201, 201, 429, 429]);

  // Token requests from one address: 2 on A and 1 on B use up the shared 3; the 4th (on A) is refused.
  const voters = ['alice', 'bob', 'carol', 'dave'];
  const sessions = new Map<Harness, string[]>();
  for (const h of [a, b]) {
    const tokens: string[] = [];
    for (const username of voters) {
      const address = freshIp();
      assert.equal((await from(h, address, '/v1/accounts', { username, password: PASSWORD })).statusCode, 201);
      tokens.push((await from(h, address, '/v1/sessions', { username, password: PASSWORD })).json().token);
    }
    sessions.set(h, tokens);
  }
  const pa = await a.publishedPoll(voters);
  const pb = await b.publishedPoll(voters);
  const tokenIp = freshIp();
  const issue = (h: Harness, poll: typeof pa, voter: number) =>
    from(h, tokenIp, `/v1/polls/${poll.poll_id}/tokens`, { blinded_msg: randomBlindedMsg(poll) }, sessions.get(h)![voter]);
  assert.equal((await issue(a, pa, 0)).statusCode, 200);
  assert.equal((await issue(b, pb, 0)).statusCode, 200);
  assert.equal((await issue(a, pa, 1)).statusCode, 200);
  const refused = await issue(a, pa, 2);
  assert.equal(refused.statusCode, 429);
  assert.match(refused.json().message, /^too many token requests from this address: retry in \d+ seconds/);
  assert.equal((await issue(b, pb, 1)).statusCode, 429);
  assert.equal(await a.store.issuedCount(pa.poll_id), 2);
  assert.equal(await b.store.issuedCount(pb.poll_id), 1);
});

test('Redis killed: registration, sign-in and issuance fail closed with 503, nothing is issued; back up, issuance works', async (t) => {
  const server = await throwawayRedis();
  t.after(() => server.stop());
  const redis = client(server.url);
  t.after(() => redis.disconnect());
  const h = await harness({ rateLimit: {}, rateLimitRedis: redis });
  const token = await h.voter('alice');
  const manifest = await h.publishedPoll(['alice']);
  const url = `/v1/polls/${manifest.poll_id}/tokens`;

  await server.kill();
  const started = performance.now();
  const res = await h.call('POST', url, token, { blinded_msg: randomBlindedMsg(manifest) });
  const ms = performance.now() - started;
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '5');
  const { message: _message, ...rest } = res.json() as Record<string, unknown>;
  assert.deepEqual(rest, { statusCode: 503, code: 'BV_RATE_LIMIT_STORE_UNAVAILABLE', error: 'Service Unavailable' });
  assert.match(res.json().message, /^the rate-limit store is unavailable, so this request was refused and nothing was done: retry in 5 seconds$/);
  assert.equal(res.json().blind_sig, undefined);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 0);
  assert.ok(ms < 2500, `refused after ${ms.toFixed(0)} ms`);

  const login = await h.call('POST', '/v1/sessions', null, { username: 'alice', password: PASSWORD });
  assert.deepEqual([login.statusCode, login.json().code], [503, 'BV_RATE_LIMIT_STORE_UNAVAILABLE']);
  const register = await h.call('POST', '/v1/accounts', null, { username: 'bob', password: PASSWORD });
  assert.deepEqual([register.statusCode, register.json().code], [503, 'BV_RATE_LIMIT_STORE_UNAVAILABLE']);
  assert.equal(await h.store.account('bob'), null);
  // Unlimited routes still answer, and errors other than the store's are as before.
  assert.equal((await h.call('GET', '/v1/me', token)).statusCode, 200);
  assert.equal((await h.call('POST', url, 'not-a-token', { blinded_msg: randomBlindedMsg(manifest) })).statusCode, 401);

  await server.start();
  let again = await h.call('POST', url, token, { blinded_msg: randomBlindedMsg(manifest) });
  for (let i = 0; i < 50 && again.statusCode === 503; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    again = await h.call('POST', url, token, { blinded_msg: randomBlindedMsg(manifest) });
  }
  assert.equal(again.statusCode, 200, again.body);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 1);
  t.diagnostic(`token request refused ${ms.toFixed(0)} ms after Redis was killed`);
});

test('a Redis that does not answer (commands queued offline) is refused after rateLimitTimeoutMs; the 503 message survives a parent that hides 5xx', async (t) => {
  const server = await throwawayRedis();
  t.after(() => server.stop());
  // Queues commands while disconnected and retries them forever: only the issuer's timeout ends the wait.
  const redis = new Redis(server.url, { maxRetriesPerRequest: null, enableOfflineQueue: true });
  redis.on('error', () => {});
  t.after(() => redis.disconnect());
  await redis.ping();

  // The composition root's way: a parent error handler that hides every 5xx detail.
  const h = await harness({ rateLimit: false });
  const app = Fastify({ logger: false });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.send(error);
    return reply.status(status).send({ statusCode: status, code: 'BV_INTERNAL', error: 'Internal Server Error', message: 'internal error' });
  });
  await app.register(issuer, { store: h.store, board: new FakeBoard(), scheduler: false, rateLimit: {}, rateLimitRedis: redis, rateLimitTimeoutMs: 300 });
  await app.ready();
  t.after(() => app.close());
  const register = (username: string) => app.inject({ method: 'POST', url: '/v1/accounts', payload: { username, password: PASSWORD }, remoteAddress: freshIp() });
  assert.equal((await register('carol')).statusCode, 201);

  await server.kill();
  const started = performance.now();
  const res = await register('dave');
  const ms = performance.now() - started;
  assert.deepEqual([res.statusCode, res.json().code], [503, 'BV_RATE_LIMIT_STORE_UNAVAILABLE']);
  assert.match(res.json().message, /rate-limit store is unavailable.*retry/);
  assert.ok(ms >= 290 && ms < 1500, `refused after ${ms.toFixed(0)} ms`);
  assert.equal(await h.store.account('dave'), null);
  // Other errors still reach the parent's handler.
  const anonymous = await app.inject({ method: 'GET', url: '/v1/me' });
  assert.deepEqual([anonymous.statusCode, anonymous.json().code], [401, 'BV_UNAUTHENTICATED']);
});
