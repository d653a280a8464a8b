import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { ensureAdmin } from './auth/bootstrap.ts';
import { harness, PASSWORD } from './testing/harness.ts';

test('accounts: register, sign in, /v1/me; the hash is argon2id m=19456 t=2 p=1', async () => {
  const h = await harness();
  const created = await h.call('POST', '/v1/accounts', null, { username: 'alice', password: PASSWORD });
  assert.equal(created.statusCode, 201);
  assert.deepEqual(created.json(), { account: 'alice' });
  assert.match((await h.store.account('alice'))!.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

  const session = await h.call('POST', '/v1/sessions', null, { username: 'alice', password: PASSWORD });
  assert.equal(session.statusCode, 200);
  const { token, expires_at, account, admin } = session.json();
  assert.deepEqual({ expires_at, account, admin }, { expires_at: '2026-03-01T07:15:00Z', account: 'alice', admin: false });
  assert.equal(decodeJwt(token).sub, 'alice');

  const me = await h.call('GET', '/v1/me', token);
  assert.deepEqual(me.json(), { account: 'alice', admin: false, via: 'password' });
});

test('accounts: registration refuses bad usernames, short passwords, taken and reserved names', async () => {
  const h = await harness({ admins: ['boss'] });
  for (const username of ['Al', 'al', 'alice:x', '-alice', 'a'.repeat(65), 'ALICE']) {
    const res = await h.call('POST', '/v1/accounts', null, { username, password: PASSWORD });
    assert.equal(res.statusCode, 400, username);
    assert.match(res.json().message, /username/);
  }
  const short = await h.call('POST', '/v1/accounts', null, { username: 'alice', password: 'short' });
  assert.equal(short.statusCode, 400);
  assert.match(short.json().message, /password/);
  assert.equal((await h.call('POST', '/v1/accounts', null, { username: 'alice', password: PASSWORD })).statusCode, 201);
  const taken = await h.call('POST', '/v1/accounts', null, { username: 'alice', password: 'another password' });
  assert.deepEqual([taken.statusCode, taken.json().code], [409, 'BV_USERNAME_TAKEN']);
  const reserved = await h.call('POST', '/v1/accounts', null, { username: 'boss', password: PASSWORD });
  assert.deepEqual([reserved.statusCode, reserved.json().code], [403, 'BV_USERNAME_RESERVED']);
  assert.equal(await h.store.account('boss'), null);
});

test('accounts: allowRegistration false closes registration', async () => {
  const h = await harness({ allowRegistration: false });
  const res = await h.call('POST', '/v1/accounts', null, { username: 'alice', password: PASSWORD });
  assert.deepEqual([res.statusCode, res.json().code], [403, 'BV_REGISTRATION_CLOSED']);
  assert.deepEqual(await h.store.accountIds(), []);
});

test('sessions: a wrong password and an unknown username are the same 401', async () => {
  const h = await harness();
  await h.voter('alice');
  const wrong = await h.call('POST', '/v1/sessions', null, { username: 'alice', password: 'not the password' });
  const unknown = await h.call('POST', '/v1/sessions', null, { username: 'nobody', password: PASSWORD });
  assert.equal(wrong.statusCode, 401);
  assert.deepEqual(wrong.json(), unknown.json());
  assert.equal(wrong.json().code, 'BV_BAD_CREDENTIALS');
});

test('sessions: an expired, tampered, foreign or malformed token is a 401; no token on /v1/me is a 401', async () => {
  const h = await harness();
  const token = await h.voter('alice');
  assert.equal((await h.call('GET', '/v1/me', token)).statusCode, 200);

  const [header, payload, signature] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'admin' })).toString('base64url');
  const flipped = `${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
  for (const [bad, why] of [
    [`${header}.${forged}.${signature}`, /signature/],
    [`${header}.${payload}.${flipped}`, /signature/],
    ['not-a-jwt', /Bearer/],
    ['a.b.c', /not a JWT/],
  ] as const) {
    const res = await h.call('GET', '/v1/me', bad);
    assert.equal(res.statusCode, 401, bad);
    assert.equal(res.json().code, 'BV_UNAUTHENTICATED');
    assert.match(res.json().message, why);
  }
  const basic = await h.call('GET', '/v1/me', null, undefined, { authorization: 'Basic YWxpY2U6eA==' });
  assert.equal(basic.statusCode, 401);
  const none = await h.call('GET', '/v1/me');
  assert.equal(none.statusCode, 401);

  h.clock.advance(15 * 60);
  const expired = await h.call('GET', '/v1/me', token);
  assert.equal(expired.statusCode, 401);
  assert.match(expired.json().message, /expired/);
  // Public routes refuse a bad token too: the client learns at once that it must sign in again.
  assert.equal((await h.call('GET', '/v1/polls', token)).statusCode, 401);
  assert.equal((await h.call('GET', '/v1/polls')).statusCode, 200);
});

test('password change: needs the current password, ends every session, the new one works', async () => {
  const h = await harness();
  const token = await h.voter('alice');
  const other = (await h.call('POST', '/v1/sessions', null, { username: 'alice', password: PASSWORD })).json().token;
  const wrong = await h.call('PUT', '/v1/me/password', token, { current_password: 'not it at all', new_password: 'a new password' });
  assert.deepEqual([wrong.statusCode, wrong.json().code], [403, 'BV_WRONG_PASSWORD']);
  const short = await h.call('PUT', '/v1/me/password', token, { current_password: PASSWORD, new_password: 'short' });
  assert.equal(short.statusCode, 400);
  assert.equal((await h.call('GET', '/v1/me', token)).statusCode, 200, 'refused changes end nothing');

  const changed = await h.call('PUT', '/v1/me/password', token, { current_password: PASSWORD, new_password: 'a new password' });
  assert.equal(changed.statusCode, 204);
  for (const t of [token, other]) {
    const res = await h.call('GET', '/v1/me', t);
    assert.equal(res.statusCode, 401);
    assert.match(res.json().message, /password changed/);
  }
  assert.equal((await h.call('POST', '/v1/sessions', null, { username: 'alice', password: PASSWORD })).statusCode, 401);
  assert.equal((await h.call('POST', '/v1/sessions', null, { username: 'alice', password: 'a new password' })).statusCode, 200);
});

test('ensureAdmin: creates the admin once with a random password; refuses to promote a registered account', async () => {
  const h = await harness();
  const password = await ensureAdmin(h.store, 'root');
  assert.ok(password !== null && password.length >= 20);
  assert.equal(await ensureAdmin(h.store, 'root'), null);
  const session = await h.call('POST', '/v1/sessions', null, { username: 'root', password });
  assert.deepEqual([session.statusCode, session.json().admin], [200, true]);
  const me = await h.call('GET', '/v1/me', session.json().token);
  assert.deepEqual(me.json(), { account: 'root', admin: true, via: 'password' });

  await h.voter('mallory');
  await assert.rejects(ensureAdmin(h.store, 'mallory'), /exists and is not an admin/);
  assert.equal((await h.store.account('mallory'))?.admin, false);
  await assert.rejects(ensureAdmin(h.store, 'Bad Name'), RangeError);
});

test('admins option: a listed username is an admin', async () => {
  const h = await harness({ admins: ['alice'] });
  const password = await ensureAdmin(h.store, 'root');
  assert.ok(password);
  // A listed account created by an operator (here: straight into the store).
  await h.store.createAccount({ username: 'alice', passwordHash: (await h.store.account('root'))!.passwordHash, admin: false, createdAt: new Date() });
  const session = await h.call('POST', '/v1/sessions', null, { username: 'alice', password });
  assert.equal(session.json().admin, true);
  assert.deepEqual((await h.call('GET', '/v1/me', session.json().token)).json(), { account: 'alice', admin: true, via: 'password' });
});
