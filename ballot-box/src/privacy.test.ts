/**
 * DESIGN.md promise 5: the ballot box knows what, never who. Ballots are cast with a client
 * address, cookies, credentials and a forwarded address attached; none of them may appear in any
 * log line (trace level, the root trusting proxies), none of those headers may even be read, and
 * no reply may set a cookie, whatever the root app adds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { toBase64 } from '@blindvote/crypto';
import { fixture, testPolls } from './testing/app.ts';
import type { Fixture } from './testing/app.ts';

const IP = '203.0.113.77';
const COOKIE = 'sid=c00kie-5ecret-value';
const AUTHORIZATION = 'Bearer auth-5ecret-token';
const FORWARDED = '198.51.100.23';
const IDENTIFYING = { cookie: COOKIE, authorization: AUTHORIZATION, 'x-forwarded-for': FORWARDED, 'user-agent': 'agent-5ecret/1.0' };
const SECRETS = [IP, 'c00kie-5ecret-value', 'auth-5ecret-token', FORWARDED, 'agent-5ecret'];

const polls = await testPolls();
const lines: string[] = [];
const stream = new Writable({
  write(chunk, _encoding, done) {
    lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
    done();
  },
});
/** Header names read from requests after routing, by anyone. */
const headersRead = new Set<string>();
let f: Fixture;
let failing: Fixture;

before(async () => {
  const server = { logger: { level: 'trace', stream }, trustProxy: true };
  f = await fixture(polls, {
    server,
    root: (app) => {
      app.addHook('onRequest', async (request) => {
        const headers = request.raw.headers;
        request.raw.headers = new Proxy(headers, {
          get(target, key, receiver) {
            if (typeof key === 'string') headersRead.add(key);
            return Reflect.get(target, key, receiver);
          },
        });
      });
      // A root that sets cookies (a session plugin, say) on every reply.
      app.addHook('onRequest', async (_request, reply) => {
        reply.header('set-cookie', 'tracker=on-request');
      });
      app.addHook('onSend', async (_request, reply) => {
        reply.header('set-cookie', ['tracker=on-send']);
      });
    },
  });
  failing = await fixture(polls, { server, sink: { submit: async () => Promise.reject(new Error('board unreachable')), recorded: async () => null, byLeafHash: async () => null } });
});
after(async () => {
  await f.app.close();
  await failing.app.close();
});

test('no log line holds the address, cookies, credentials, forwarded address or the ballot', async () => {
  const token = f.alpha.token();
  const accepted = f.alpha.ballot(['a'], token);
  const statuses = [];
  for (const [app, body] of [
    [f, accepted.toJSON()],
    [f, accepted.toJSON()],
    [f, f.alpha.ballot(['b'], token).toJSON()],
    [f, { ...accepted.toJSON(), choice: ['z'] }],
    [f, f.alpha.ballot(['a'], f.beta.token()).toJSON()],
    [f, '{"not json'],
    [failing, failing.alpha.ballot(['c']).toJSON()],
  ] as const) {
    statuses.push((await app.post(body, IDENTIFYING, { remoteAddress: IP })).statusCode);
  }
  assert.deepEqual(statuses, [201, 200, 409, 422, 403, 400, 500]);
  // A browser on another origin sends a CORS preflight first: the same rules hold for it.
  const preflight = await f.app.inject({
    method: 'OPTIONS',
    url: '/v1/ballots',
    headers: { ...IDENTIFYING, origin: 'https://vote.example', 'access-control-request-method': 'POST' },
    remoteAddress: IP,
  });
  assert.equal(preflight.statusCode, 204, preflight.body);

  // The capture works: every request was logged, the failure at error level.
  const incoming = lines.filter((l) => l.includes('"incoming request"')).map((l) => JSON.parse(l).req);
  assert.deepEqual(incoming, [...statuses.map(() => ({ method: 'POST', url: '/v1/ballots' })), { method: 'OPTIONS', url: '/v1/ballots' }]);
  assert.ok(lines.some((l) => JSON.parse(l).level === 50 && l.includes('board unreachable')));
  for (const line of lines) {
    for (const secret of [...SECRETS, toBase64(token.nonce), toBase64(token.sig).slice(0, 40)]) {
      assert.ok(!line.includes(secret), `log line holds ${secret}: ${line}`);
    }
  }
});

test('reads no request header but Content-Type and Content-Length', async () => {
  headersRead.clear();
  const res = await f.post(f.alpha.ballot(['b']).toJSON(), IDENTIFYING, { remoteAddress: IP });
  assert.equal(res.statusCode, 201, res.body);
  assert.ok(headersRead.has('content-type'), 'the probe sees header reads');
  const others = () => [...headersRead].filter((h) => !['content-type', 'content-length', 'transfer-encoding'].includes(h));
  assert.deepEqual(others(), []);
  headersRead.clear();
  const preflight = await f.app.inject({ method: 'OPTIONS', url: '/v1/ballots', headers: { ...IDENTIFYING, origin: 'https://vote.example' }, remoteAddress: IP });
  assert.equal(preflight.statusCode, 204);
  assert.deepEqual(others(), [], 'the preflight reads no header either');
});

test('no reply sets a cookie, even when the root app does', async () => {
  for (const body of [f.alpha.ballot(['a']).toJSON(), '{']) {
    const res = await f.post(body, IDENTIFYING);
    assert.ok(res.statusCode === 201 || res.statusCode === 400, res.body);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.headers['cache-control'], 'no-store');
  }
});
