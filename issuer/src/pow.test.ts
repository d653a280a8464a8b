import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leadingZeroBits, powDigest, solvePow } from './auth/pow.ts';
import { harness, PASSWORD } from './testing/harness.ts';

test('pow: leading zero bits are counted across bytes', () => {
  assert.equal(leadingZeroBits(new Uint8Array([0x80])), 0);
  assert.equal(leadingZeroBits(new Uint8Array([0x01])), 7);
  assert.equal(leadingZeroBits(new Uint8Array([0, 0, 0x10, 0xff])), 19);
  assert.equal(leadingZeroBits(new Uint8Array([0, 0])), 16);
});

test('pow: off by default (404 on the challenge, registration without pow)', async () => {
  const h = await harness();
  const res = await h.call('GET', '/v1/accounts/challenge');
  assert.deepEqual([res.statusCode, res.json().code], [404, 'BV_POW_DISABLED']);
  assert.equal((await h.call('POST', '/v1/accounts', null, { username: 'alice', password: PASSWORD })).statusCode, 201);
});

test('pow: registration needs a solved, unexpired, unused challenge of this server; a refused registration does not spend it', async () => {
  const h = await harness({ registrationPow: { difficulty: 10, ttlSeconds: 60 } });
  const register = (username: string, pow?: unknown) =>
    h.call('POST', '/v1/accounts', null, { username, password: PASSWORD, ...(pow === undefined ? {} : { pow }) });
  const fetch = async () => {
    const res = await h.call('GET', '/v1/accounts/challenge');
    assert.equal(res.statusCode, 200);
    const body = res.json() as { challenge: string; difficulty: number; expires_at: string };
    assert.deepEqual([body.difficulty, body.expires_at], [10, '2026-03-01T07:01:00Z']);
    return body.challenge;
  };
  const refused = async (username: string, pow: unknown, code: string, message: RegExp) => {
    const res = await register(username, pow);
    assert.deepEqual([res.statusCode, res.json().code], [400, code], res.body);
    assert.match(res.json().message, message);
    assert.equal(await h.store.account(username), null);
  };

  await refused('alice', undefined, 'BV_POW_REQUIRED', /^pow: required/);
  const challenge = await fetch();
  const solution = solvePow(challenge, 10);
  assert.ok(leadingZeroBits(powDigest(challenge, solution)) >= 10);
  let wrong = 0;
  while (leadingZeroBits(powDigest(challenge, String(wrong))) >= 10) wrong++;
  await refused('alice', { challenge, solution: String(wrong) }, 'BV_POW_INVALID', /^pow\.solution: .* fewer than 10 leading zero bits/);
  const tampered = challenge.replace(/^v1\.10\.(\d+)/, (_, t) => `v1.10.${Number(t) + 1000}`);
  await refused('alice', { challenge: tampered, solution: solvePow(tampered, 10) }, 'BV_POW_INVALID', /^pow\.challenge: not issued by this server/);
  await refused('alice', { challenge: 'garbage', solution: '1' }, 'BV_POW_INVALID', /^pow\.challenge: not a challenge of this server/);

  // A registration refused after the check (taken name) leaves the challenge usable.
  const bobChallenge = await fetch();
  assert.equal((await register('bob', { challenge: bobChallenge, solution: solvePow(bobChallenge, 10) })).statusCode, 201);
  const taken = await register('bob', { challenge, solution });
  assert.equal(taken.statusCode, 409);
  assert.equal((await register('alice', { challenge, solution })).statusCode, 201);
  await refused('carol', { challenge, solution }, 'BV_POW_INVALID', /^pow\.challenge: already used/);

  // Concurrent replays of one solved challenge: exactly one account.
  const shared = await fetch();
  const sharedSolution = solvePow(shared, 10);
  const statuses = await Promise.all(['dave', 'erin', 'fred', 'gina'].map(async (name) => (await register(name, { challenge: shared, solution: sharedSolution })).statusCode));
  assert.deepEqual(statuses.sort(), [201, 400, 400, 400]);

  const late = await fetch();
  h.clock.advance(60);
  await refused('hank', { challenge: late, solution: solvePow(late, 10) }, 'BV_POW_INVALID', /^pow\.challenge: expired/);
});

test('pow: a challenge made for another difficulty is refused', async () => {
  const easy = await harness({ registrationPow: { difficulty: 1 } });
  const challenge = (await easy.call('GET', '/v1/accounts/challenge')).json().challenge as string;
  const hard = await harness({ registrationPow: { difficulty: 2 } });
  const res = await hard.call('POST', '/v1/accounts', null, { username: 'alice', password: PASSWORD, pow: { challenge, solution: solvePow(challenge, 2) } });
  assert.equal(res.statusCode, 400);
  assert.match(res.json().message, /^pow\.challenge: not issued by this server|another difficulty/);
  await assert.rejects(harness({ registrationPow: { difficulty: 0 } }), /registrationPow\.difficulty: expected an integer 1\.\.32/);
});
