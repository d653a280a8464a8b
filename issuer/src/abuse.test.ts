/**
 * Credential stuffing (issue 7, bots and abuse): many addresses behind X-Forwarded-For try wrong
 * passwords on many accounts at once. The per-address limit stops each address, the per-account
 * limit stops guessing on each account (also when the guesses arrive in parallel), and voters
 * whose accounts were not attacked sign in from their own address and get their tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { harness, PASSWORD, randomBlindedMsg } from './testing/harness.ts';

const PER_IP = { max: 15, windowSeconds: 60 };
const FAILURES = { max: 4, windowSeconds: 900 };

async function stuffing() {
  const h = await harness({ rateLimit: { loginPerIp: PER_IP, loginFailuresPerAccount: FAILURES }, fastify: { logger: false, trustProxy: true } });
  const from = (ip: string, url: string, payload: object, token?: string) =>
    h.app.inject({ method: 'POST', url, payload, headers: { 'x-forwarded-for': ip, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
  return { h, from };
}

const isLimited = (res: LightMyRequestResponse, what: RegExp) =>
  res.statusCode === 429 && Number(res.headers['retry-after']) >= 1 && what.test(res.json().message);

test('credential stuffing: 12 addresses × 30 accounts; per-address and per-account limits hold; untouched voters sign in and get tokens', async () => {
  const { h, from } = await stuffing();
  const voters = Array.from({ length: 20 }, (_, i) => `voter-${i}`);
  for (const [i, username] of voters.entries()) assert.equal((await from(`10.1.0.${i}`, '/v1/accounts', { username, password: PASSWORD })).statusCode, 201);
  const manifest = await h.publishedPoll(voters);
  // The leaked list: half of the real voters and 20 names that do not exist here.
  const targets = [...voters.slice(0, 10), ...Array.from({ length: 20 }, (_, i) => `ghost-${i}`)];
  const bots = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 1}`);

  const outcomes = await Promise.all(bots.map(async (ip, b) => {
    const results: { ip: string; username: string; res: LightMyRequestResponse }[] = [];
    for (let n = 0; n < 25; n++) {
      const username = targets[(b * 7 + n) % targets.length]!;
      results.push({ ip, username, res: await from(ip, '/v1/sessions', { username, password: `guess-${b}-${n}` }) });
    }
    return results;
  }));
  const attempts = outcomes.flat();
  assert.equal(attempts.length, 300);
  assert.ok(attempts.every(({ res }) => res.statusCode === 401 || res.statusCode === 429), 'no guess succeeds, nothing else happens');
  for (const ip of bots) {
    const mine = attempts.filter((a) => a.ip === ip);
    assert.ok(mine.filter((a) => a.res.statusCode !== 429 || !isLimited(a.res, /^too many sign-ins from this address/)).length <= PER_IP.max, `${ip}: at most ${PER_IP.max} attempts pass`);
    assert.ok(isLimited(mine.at(-1)!.res, /^too many sign-ins from this address/), `${ip}: stopped with 429 + Retry-After`);
  }
  for (const username of targets) {
    const checked = attempts.filter((a) => a.username === username && a.res.statusCode === 401).length;
    assert.ok(checked <= FAILURES.max, `${username}: ${checked} passwords checked, at most ${FAILURES.max}`);
  }
  const locked = attempts.filter((a) => isLimited(a.res, /^too many failed sign-ins for this account/));
  assert.ok(locked.length > 0, 'accounts under attack are locked');

  // Voters not on the list: their own address, their own password, their token.
  for (const [i, username] of voters.slice(10).entries()) {
    const session = await from(`10.2.0.${i}`, '/v1/sessions', { username, password: PASSWORD });
    assert.equal(session.statusCode, 200, `${username}: ${session.body}`);
    const token = await from(`10.2.0.${i}`, `/v1/polls/${manifest.poll_id}/tokens`, { blinded_msg: randomBlindedMsg(manifest) }, session.json().token);
    assert.equal(token.statusCode, 200, `${username}: ${token.body}`);
  }
  // An attacked voter waits out the lock even with the right password (the price of the brute-force stop).
  const attacked = await from('10.3.0.1', '/v1/sessions', { username: voters[0]!, password: PASSWORD });
  assert.ok(isLimited(attacked, /^too many failed sign-ins for this account/), attacked.body);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 10);
});

test('credential stuffing: 40 parallel guesses on one account from 40 addresses check at most the allowed number of passwords', async () => {
  const { from } = await stuffing();
  assert.equal((await from('10.1.0.1', '/v1/accounts', { username: 'alice', password: PASSWORD })).statusCode, 201);
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => from(`198.51.100.${i + 1}`, '/v1/sessions', { username: 'alice', password: `guess ${i}` })));
  const statuses = results.map((r) => r.statusCode);
  assert.equal(statuses.filter((s) => s === 401).length, FAILURES.max, statuses.join());
  assert.equal(statuses.filter((s) => s === 429).length, 40 - FAILURES.max);
  assert.ok(results.filter((r) => r.statusCode === 429).every((r) => isLimited(r, /^too many failed sign-ins for this account/)));
});
