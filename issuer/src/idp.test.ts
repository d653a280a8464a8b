import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import type { CryptoKey, JWTPayload } from 'jose';
import { harness } from './testing/harness.ts';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'blindvote';
const keys = await generateKeyPair('ES256', { extractable: true });
const otherKeys = await generateKeyPair('ES256', { extractable: true });
const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' };

/** A local JWKS endpoint serving the IdP's public key. */
const jwks = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
});
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;

async function idpToken(claims: JWTPayload, options: { key?: CryptoKey; issuer?: string; audience?: string; expiresIn?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(new Date('2026-03-01T06:59:00Z'))
    .setExpirationTime(options.expiresIn ?? new Date('2026-03-01T08:00:00Z'))
    .sign(options.key ?? keys.privateKey);
}

const publicKeyPem = await exportSPKI(keys.publicKey);
for (const [how, idp] of [
  ['a JWKS URL', { jwksUrl }],
  ['a public JWK', { publicKey: publicJwk }],
  ['a PEM public key', { publicKey: publicKeyPem }],
] as const) {
  test(`idp (${how}): a valid token is account idp:<sub>; wrong issuer, audience, key or time is a 401`, async () => {
    const h = await harness({ idp: { ...idp, issuer: ISSUER, audience: AUDIENCE } });
    const me = await h.call('GET', '/v1/me', await idpToken({ sub: 'u-123' }));
    assert.equal(me.statusCode, 200, me.body);
    assert.deepEqual(me.json(), { account: 'idp:u-123', admin: false, via: 'idp' });

    for (const [token, why] of [
      [await idpToken({ sub: 'u-123' }, { issuer: 'https://evil.test' }), /iss/],
      [await idpToken({ sub: 'u-123' }, { audience: 'someone-else' }), /aud/],
      [await idpToken({ sub: 'u-123' }, { key: otherKeys.privateKey }), /signature/],
      [await idpToken({}), /sub/],
      [await idpToken({ sub: 'has space' }), /not a usable id/],
    ] as const) {
      const res = await h.call('GET', '/v1/me', token);
      assert.equal(res.statusCode, 401, String(why));
      assert.match(res.json().message, why);
    }
    h.clock.set('2026-03-01T08:00:01Z');
    const expired = await h.call('GET', '/v1/me', await idpToken({ sub: 'u-123' }));
    assert.equal(expired.statusCode, 401);
    assert.match(expired.json().message, /expired/);
  });
}

test('idp: idClaim and adminClaim; admins lists idp:<id>; no password to change; a built-in session still works', async () => {
  const h = await harness({ idp: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, idClaim: 'email', adminClaim: 'blindvote_admin' }, admins: ['idp:boss@example.org'] });
  const claimed = await h.call('GET', '/v1/me', await idpToken({ sub: 'x', email: 'carol@example.org', blindvote_admin: true }));
  assert.deepEqual(claimed.json(), { account: 'idp:carol@example.org', admin: true, via: 'idp' });
  const truthy = await h.call('GET', '/v1/me', await idpToken({ sub: 'x', email: 'dave@example.org', blindvote_admin: 'yes' }));
  assert.deepEqual(truthy.json(), { account: 'idp:dave@example.org', admin: false, via: 'idp' }, 'only true makes an admin');
  const listed = await h.call('GET', '/v1/me', await idpToken({ sub: 'y', email: 'boss@example.org' }));
  assert.equal(listed.json().admin, true);

  const change = await h.call('PUT', '/v1/me/password', await idpToken({ sub: 'x', email: 'carol@example.org' }), {
    current_password: 'whatever it is', new_password: 'something new',
  });
  assert.deepEqual([change.statusCode, change.json().code], [409, 'BV_NO_PASSWORD']);
  assert.equal((await h.call('GET', '/v1/me', await h.voter('alice'))).json().via, 'password');
});

test('idp: without an idp configured, foreign tokens are refused', async () => {
  const h = await harness();
  const res = await h.call('GET', '/v1/me', await idpToken({ sub: 'u-1' }));
  assert.equal(res.statusCode, 401);
  assert.match(res.json().message, /issuer this server does not trust/);
});

test('idp: the options are checked at registration', async () => {
  await assert.rejects(harness({ idp: { issuer: ISSUER, audience: AUDIENCE } }), /exactly one of jwksUrl and publicKey/);
  await assert.rejects(harness({ idp: { jwksUrl, publicKey: publicKeyPem, issuer: ISSUER, audience: AUDIENCE } }), /exactly one/);
  await assert.rejects(harness({ idp: { jwksUrl, issuer: 'urn:blindvote:issuer', audience: AUDIENCE } }), /own sessions/);
});
