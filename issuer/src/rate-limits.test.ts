import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RATE_LIMITS } from './rate-limits.ts';
import { harness, PASSWORD, randomBlindedMsg } from './testing/harness.ts';

test('rate limits: the defaults let 200 voters behind one address register, sign in and get tokens within a minute', async () => {
  const h = await harness({ rateLimit: {} });
  const voters = Array.from({ length: 200 }, (_, i) => `voter-${i}`);
  const manifest = await h.publishedPoll(voters);
  const started = Date.now();
  const statuses = await Promise.all(voters.map(async (username) => {
    const registered = await h.call('POST', '/v1/accounts', null, { username, password: PASSWORD });
    const session = await h.call('POST', '/v1/sessions', null, { username, password: PASSWORD });
    const token = await h.call('POST', `/v1/polls/${manifest.poll_id}/tokens`, session.json().token, { blinded_msg: randomBlindedMsg(manifest) });
    return [registered.statusCode, session.statusCode, token.statusCode].join();
  }));
  assert.deepEqual(new Set(statuses), new Set(['201,200,200']));
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 200);
});

test('rate limits: 10 failed sign-ins lock the account for 15 minutes (429 + Retry-After), even with the right password; others go on', async () => {
  assert.deepEqual(DEFAULT_RATE_LIMITS.loginFailuresPerAccount, { max: 10, windowSeconds: 900 });
  const h = await harness({ rateLimit: {} });
  await h.voter('alice');
  await h.voter('bob');
  for (let i = 0; i < 10; i++) {
    assert.equal((await h.call('POST', '/v1/sessions', null, { username: 'alice', password: `guess ${i}` })).statusCode, 401);
  }
  for (const password of ['guess 11', PASSWORD]) {
    const res = await h.call('POST', '/v1/sessions', null, { username: 'alice', password });
    assert.deepEqual([res.statusCode, res.json().code], [429, 'BV_RATE_LIMITED']);
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(retryAfter > 800 && retryAfter <= 900, String(retryAfter));
    assert.match(res.json().message, /failed sign-ins for this account: retry in \d+ seconds/);
  }
  assert.equal((await h.call('POST', '/v1/sessions', null, { username: 'bob', password: PASSWORD })).statusCode, 200);
});

test('rate limits: per address on registration and sign-in, per address and per account on tokens; configurable', async () => {
  const limit = { max: 2, windowSeconds: 60 };
  const h = await harness({ rateLimit: { registerPerIp: limit, loginPerIp: limit, tokensPerIp: limit, tokensPerAccount: limit } });
  const from = (remoteAddress: string, url: string, payload: object, token?: string) =>
    h.app.inject({ method: 'POST', url, payload, remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} });

  assert.equal((await from('10.0.0.1', '/v1/accounts', { username: 'alice', password: PASSWORD })).statusCode, 201);
  assert.equal((await from('10.0.0.1', '/v1/accounts', { username: 'bob', password: PASSWORD })).statusCode, 201);
  const third = await from('10.0.0.1', '/v1/accounts', { username: 'carol', password: PASSWORD });
  assert.equal(third.statusCode, 429);
  assert.ok(Number(third.headers['retry-after']) >= 1);
  assert.equal(await h.store.account('carol'), null);
  assert.equal((await from('10.0.0.2', '/v1/accounts', { username: 'carol', password: PASSWORD })).statusCode, 201);

  const tokens: string[] = [];
  for (const username of ['alice', 'bob']) tokens.push((await from('10.0.0.3', '/v1/sessions', { username, password: PASSWORD })).json().token);
  assert.equal((await from('10.0.0.3', '/v1/sessions', { username: 'carol', password: PASSWORD })).statusCode, 429);

  const manifest = await h.publishedPoll(['alice', 'bob']);
  const url = `/v1/polls/${manifest.poll_id}/tokens`;
  const body = { blinded_msg: randomBlindedMsg(manifest) };
  assert.equal((await from('10.0.0.4', url, body, tokens[0])).statusCode, 200);
  assert.equal((await from('10.0.0.5', url, body, tokens[0])).statusCode, 200, 'a retry');
  const over = await from('10.0.0.6', url, body, tokens[0]);
  assert.deepEqual([over.statusCode, over.json().message.split(':')[0]], [429, 'too many token requests for this account']);
  assert.equal((await from('10.0.0.6', url, { blinded_msg: randomBlindedMsg(manifest) }, tokens[1])).statusCode, 200);
  const address = await from('10.0.0.6', url, body, tokens[1]);
  assert.deepEqual([address.statusCode, address.json().message.split(':')[0]], [429, 'too many token requests from this address']);
});

/**
 * A stand-in for ioredis under @fastify/rate-limit's Redis store: its scripts become commands that
 * count in a Map, or fail while `down`. (The real Redis: server/src/distributed/rate-limits-redis.test.ts.)
 */
function scriptedRedis() {
  const counts = new Map<string, number>();
  const redis = {
    down: false,
    defineCommand(name: string): void {
      (redis as unknown as Record<string, unknown>)[name] = (key: string, ...rest: unknown[]) => {
        const callback = rest.at(-1) as (err: Error | null, result?: [number, number]) => void;
        if (redis.down) return callback(new Error('connection refused (test)'));
        const current = (counts.get(key) ?? 0) + (name === 'rateLimit' ? 1 : 0);
        counts.set(key, current);
        callback(null, [current, 60_000]);
      };
    },
  };
  return redis;
}

test('rate limits: a store that fails refuses registration, sign-in and issuance with 503 + Retry-After; nothing is issued or created', async () => {
  const redis = scriptedRedis();
  const h = await harness({ rateLimit: {}, rateLimitRedis: redis });
  const token = await h.voter('alice');
  const manifest = await h.publishedPoll(['alice']);
  redis.down = true;
  const calls = [
    await h.call('POST', `/v1/polls/${manifest.poll_id}/tokens`, token, { blinded_msg: randomBlindedMsg(manifest) }),
    await h.call('POST', '/v1/sessions', null, { username: 'alice', password: PASSWORD }),
    await h.call('POST', '/v1/accounts', null, { username: 'bob', password: PASSWORD }),
    await h.call('PUT', '/v1/me/password', token, { current_password: 'wrong password here', new_password: 'another good password' }),
  ];
  for (const res of calls) {
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.json().code, 'BV_RATE_LIMIT_STORE_UNAVAILABLE');
    assert.match(res.json().message, /^the rate-limit store is unavailable, so this request was refused and nothing was done: retry in 5 seconds$/);
  }
  assert.equal(await h.store.issuedCount(manifest.poll_id), 0);
  assert.equal(await h.store.account('bob'), null);

  redis.down = false;
  assert.equal((await h.call('POST', `/v1/polls/${manifest.poll_id}/tokens`, token, { blinded_msg: randomBlindedMsg(manifest) })).statusCode, 200);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 1);
});

test('rate limits: a store that never answers is given up on after rateLimitTimeoutMs (503)', async () => {
  // Its commands never call back, as an ioredis client queueing commands while Redis is unreachable.
  const hanging = {
    defineCommand(name: string): void {
      (hanging as unknown as Record<string, unknown>)[name] = () => {};
    },
  };
  const h = await harness({ rateLimit: {}, rateLimitRedis: hanging, rateLimitTimeoutMs: 200 });
  const started = performance.now();
  const res = await h.call('POST', '/v1/accounts', null, { username: 'carol', password: PASSWORD });
  const ms = performance.now() - started;
  assert.deepEqual([res.statusCode, res.json().code], [503, 'BV_RATE_LIMIT_STORE_UNAVAILABLE']);
  assert.ok(ms >= 190 && ms < 1000, `refused after ${ms.toFixed(0)} ms`);
  assert.equal(await h.store.account('carol'), null);
  await assert.rejects(harness({ rateLimit: {}, rateLimitRedis: hanging, rateLimitTimeoutMs: 0 }), /timeoutMs: expected a positive number/);
});
