/**
 * The gateway against real listening upstreams: two echo stubs per pool (small fastify apps that
 * answer with what they received) and the gateway on a free port. Routing, round robin, failover,
 * 503 naming the pool, the privacy of forwarded headers (DESIGN.md promise 5), WebSocket and SSE
 * pass-through, /readyz, the web client, and logs without addresses.
 *
 * The web client test reads the real build (web/dist): `npm test` builds it first (pretest); alone,
 * run `npm run build -w web` once.
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import { buildGateway } from './gateway.ts';
import type { GatewayUpstreams } from './gateway.ts';
import { WEB_DIST } from './web.ts';
import { until } from '../../tallier/src/testing/until.ts';

type PoolName = keyof GatewayUpstreams;
const POOLS: PoolName[] = ['issuer', 'ballotBox', 'board', 'tallier'];

interface Echo {
  upstream: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

interface Stub {
  readonly name: string;
  readonly url: string;
  /** Requests the echo route received. */
  readonly hits: number;
  /** Sends one SSE event to every open /events stream. */
  emit(data: string): void;
  /** Resolves when an /events stream this stub served was closed by its client. */
  readonly sseClosed: Promise<void>;
  close(): Promise<void>;
}

async function startStub(name: string, bodyLimit = 32 * 1024 * 1024): Promise<Stub> {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.get('/healthz', async () => ({ ok: true }));

  const streams = new Set<ServerResponse>();
  let sseClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (sseClosed = resolve));
  app.get('/v1/results/:pollId/events', (_request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform' });
    res.write(`data: ${JSON.stringify({ upstream: name, n: 1 })}\n\n`);
    streams.add(res);
    res.on('close', () => {
      streams.delete(res);
      sseClosed();
    });
  });

  let hits = 0;
  app.all('/*', async (request, reply) => {
    hits++;
    const query = request.query as Record<string, string | undefined>;
    // ?reset=<stub name>|all: the connection is cut before any answer.
    if (query['reset'] === name || query['reset'] === 'all') {
      request.raw.socket.destroy();
      return reply.hijack();
    }
    if (query['delay'] !== undefined) await new Promise((resolve) => setTimeout(resolve, Number(query['delay'])));
    // ?slow-body=<ms>: the headers at once, the body later.
    if (query['slow-body'] !== undefined) {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/json' });
      reply.raw.flushHeaders();
      setTimeout(() => reply.raw.end(JSON.stringify({ upstream: name })), Number(query['slow-body']));
      return reply;
    }
    if (query['status'] !== undefined) reply.code(Number(query['status']));
    if (query['retry-after'] !== undefined) reply.header('retry-after', query['retry-after']);
    if (query['cache-control'] !== undefined) reply.header('cache-control', query['cache-control']);
    if (query['set-cookie'] !== undefined) reply.header('set-cookie', query['set-cookie']);
    const echo: Echo = { upstream: name, method: request.method, url: request.url, headers: request.headers, bodyBytes: Buffer.isBuffer(request.body) ? request.body.length : 0 };
    return echo;
  });

  const wss = new WebSocketServer({ noServer: true });
  app.server.on('upgrade', (request: IncomingMessage, socket, head) => {
    if (request.url?.includes('/unknown/')) {
      const body = JSON.stringify({ statusCode: 404, code: 'BV_UNKNOWN_POLL', error: 'Not Found', message: `no results for poll unknown (${name})` });
      socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.send(JSON.stringify({ upstream: name, url: request.url, headers: request.headers }));
      ws.on('message', (data) => ws.send(`echo:${String(data)}`));
    });
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  let closing: Promise<void> | null = null;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return hits;
    },
    emit: (data) => {
      for (const res of streams) res.write(`data: ${data}\n\n`);
    },
    sseClosed: closedPromise,
    close: () =>
      (closing ??= (async () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        await app.close();
      })()),
  };
}

interface Setup {
  readonly gateway: FastifyInstance;
  readonly url: string;
  readonly stubs: Record<PoolName, [Stub, Stub]>;
  /** Every log line the gateway wrote. */
  readonly logs: string[];
}

async function setup(t: TestContext): Promise<Setup> {
  const stubs = {} as Record<PoolName, [Stub, Stub]>;
  for (const pool of POOLS) {
    // The ballot box's own limit is small (it answers 413 itself); the issuer takes 32 MiB rolls.
    const limit = pool === 'ballotBox' ? 16 * 1024 : undefined;
    stubs[pool] = [await startStub(`${pool}-a`, limit), await startStub(`${pool}-b`, limit)];
  }
  const logs: string[] = [];
  const upstreams = Object.fromEntries(POOLS.map((pool) => [pool, stubs[pool].map((s) => s.url)])) as unknown as GatewayUpstreams;
  const gateway = await buildGateway({ upstreams, logLevel: 'info', logStream: { write: (line) => void logs.push(line) } });
  // The listen line names the bind address; the CLI decides what it prints there.
  const address = await gateway.listen({ host: '127.0.0.1', port: 0, listenTextResolver: () => 'gateway listening' });
  t.after(async () => {
    await gateway.close();
    await Promise.all(POOLS.flatMap((pool) => stubs[pool].map((s) => s.close())));
  });
  return { gateway, url: address, stubs, logs };
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  json<T = Echo>(): T;
}

/** One request on its own connection, headers exactly as given (fetch would add and forbid some). */
function send(base: string, method: string, path: string, options: { headers?: OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    if (options.body !== undefined && String(headers['expect'] ?? '') === '100-continue') req.on('continue', () => req.end(options.body));
    else req.end(options.body);
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });
}

function openSocket(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data) => resolve({ ws, first: String(data) }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)));
  });
}

test('gateway: every prefix reaches its pool, path and query unchanged; other paths are not proxied', async (t) => {
  const { url } = await setup(t);
  const cases: Array<[string, string, PoolName]> = [
    ['GET', '/v1/accounts/challenge', 'issuer'],
    ['POST', '/v1/accounts', 'issuer'],
    ['POST', '/v1/sessions', 'issuer'],
    ['GET', '/v1/me', 'issuer'],
    ['PUT', '/v1/me/password', 'issuer'],
    ['GET', '/v1/polls', 'issuer'],
    ['GET', '/v1/polls/p-1?x=1&y=two', 'issuer'],
    ['POST', '/v1/polls/p-1/tokens', 'issuer'],
    ['DELETE', '/v1/polls/p-1', 'issuer'],
    ['POST', '/v1/ballots', 'ballotBox'],
    ['GET', '/v1/ballots/abc/receipt', 'ballotBox'],
    ['GET', '/poll/p-1/checkpoint', 'board'],
    ['GET', '/poll/p-1/tile/entries/000.p/3', 'board'],
    ['GET', '/v1/board/p-1/proof/inclusion?index=3&tree_size=9', 'board'],
    ['GET', '/v1/results/p-1', 'tallier'],
  ];
  for (const [method, path, pool] of cases) {
    const body = method === 'GET' || method === 'DELETE' ? undefined : '{"a":1}';
    const res = await send(url, method, path, body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200, `${method} ${path}: ${res.text}`);
    const echo = res.json();
    assert.match(echo.upstream, new RegExp(`^${pool}-[ab]$`), `${method} ${path}`);
    assert.equal(echo.method, method);
    assert.equal(echo.url, path);
    assert.equal(echo.bodyBytes, body === undefined ? 0 : body.length);
  }
  const head = await send(url, 'HEAD', '/v1/polls');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  for (const path of ['/v1/pollsx', '/v1/unknown', '/polls/p-1', '/v1/resultsx/p']) {
    const res = await send(url, 'GET', path);
    assert.equal(res.status, 404, path);
    assert.doesNotMatch(res.text, /upstream/, path);
  }
});

test('gateway: round robin over each pool', async (t) => {
  const { url } = await setup(t);
  for (const [path, pool] of [['/v1/polls', 'issuer'], ['/poll/p/checkpoint', 'board'], ['/v1/results/p', 'tallier']] as const) {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await send(url, 'GET', path)).json().upstream);
    assert.notEqual(seen[0], seen[1], `${pool}: ${seen.join(' ')}`);
    for (let i = 2; i < 6; i++) assert.equal(seen[i], seen[i - 2], `${pool}: ${seen.join(' ')}`);
    assert.deepEqual(new Set(seen), new Set([`${pool}-a`, `${pool}-b`]));
  }
});

test('gateway: failover when an upstream is down, for GET and for POST with a body', async (t) => {
  const { url, stubs, logs } = await setup(t);
  // Connections to both exist before one goes away.
  for (let i = 0; i < 4; i++) assert.equal((await send(url, 'GET', '/v1/polls')).status, 200);
  await stubs.issuer[1].close();
  for (let i = 0; i < 6; i++) {
    const get = await send(url, 'GET', '/v1/polls');
    assert.equal(get.status, 200, get.text);
    assert.equal(get.json().upstream, 'issuer-a');
    const body = JSON.stringify({ username: `u${i}`, password: 'x'.repeat(5000) });
    const post = await send(url, 'POST', '/v1/accounts', { headers: { 'content-type': 'application/json' }, body });
    assert.equal(post.status, 200, post.text);
    assert.equal(post.json().upstream, 'issuer-a');
    assert.equal(post.json().bodyBytes, body.length);
  }
  // A ballot box that never served anything: the first POST of each round may meet the closed one.
  await stubs.ballotBox[0].close();
  for (let i = 0; i < 4; i++) {
    const post = await send(url, 'POST', '/v1/ballots', { headers: { 'content-type': 'application/json' }, body: '{"ballot":1}' });
    assert.equal(post.status, 200, post.text);
    assert.equal(post.json().upstream, 'ballotBox-b');
    assert.equal(post.json().bodyBytes, 12);
  }
  const failures = logs.filter((line) => line.includes('upstream attempt failed')).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(failures.some((f) => f['pool'] === 'issuer' && f['code'] === 'ECONNREFUSED' && f['upstream'] === 1), logs.join(''));
  assert.ok(failures.some((f) => f['pool'] === 'ballot-box' && f['code'] === 'ECONNREFUSED' && f['upstream'] === 0), logs.join(''));
});

test('gateway: 503 naming the pool when all its upstreams are down; /readyz names the down pools', async (t) => {
  const { url, stubs } = await setup(t);
  const ready = await send(url, 'GET', '/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(ready.json<{ ok: boolean; pools: Record<string, unknown> }>().pools.board, { up: 2, of: 2 });
  assert.equal((await send(url, 'GET', '/healthz')).status, 200);

  await Promise.all(stubs.board.map((s) => s.close()));
  const tile = await send(url, 'GET', '/poll/p-1/checkpoint');
  assert.equal(tile.status, 503);
  const error = tile.json<{ statusCode: number; code: string; error: string; message: string }>();
  assert.deepEqual(Object.keys(error).sort(), ['code', 'error', 'message', 'statusCode']);
  assert.equal(error.statusCode, 503);
  assert.equal(error.code, 'BV_UPSTREAM_UNAVAILABLE');
  assert.equal(error.error, 'Service Unavailable');
  assert.match(error.message, /no board upstream/);
  assert.equal((await send(url, 'GET', '/v1/board/p-1')).status, 503);

  const notReady = await send(url, 'GET', '/readyz');
  assert.equal(notReady.status, 503);
  const readyError = notReady.json<{ code: string; message: string }>();
  assert.equal(readyError.code, 'BV_NOT_READY');
  assert.match(readyError.message, /\bboard pool\b/);
  assert.doesNotMatch(readyError.message, /issuer|tallier|ballot-box/);

  await Promise.all(stubs.ballotBox.map((s) => s.close()));
  const ballot = await send(url, 'POST', '/v1/ballots', { headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(ballot.status, 503);
  assert.match(ballot.json<{ message: string }>().message, /no ballot-box upstream/);
  assert.match((await send(url, 'GET', '/readyz')).json<{ message: string }>().message, /ballot-box, board pools/);
  // The other pools still answer.
  assert.equal((await send(url, 'GET', '/v1/polls')).status, 200);
});

test('gateway: the ballot box gets no cookie, credential, address or forwarding header; the issuer gets X-Forwarded-For replaced', async (t) => {
  const { url } = await setup(t);
  const identifying = {
    cookie: 'session=abc',
    authorization: 'Bearer secret',
    'x-forwarded-for': '6.6.6.6, 7.7.7.7',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.example',
    forwarded: 'for=6.6.6.6',
    'x-real-ip': '6.6.6.6',
    'true-client-ip': '6.6.6.6',
    'user-agent': 'voter-browser/1.0',
    'keep-alive': 'timeout=5',
  };
  const ballot = await send(url, 'POST', '/v1/ballots', { headers: { ...identifying, 'content-type': 'application/json', accept: 'application/json' }, body: '{"b":1}' });
  assert.equal(ballot.status, 200, ballot.text);
  const seen = ballot.json().headers;
  for (const name of Object.keys(identifying)) assert.equal(seen[name], undefined, `${name} reached the ballot box`);
  for (const name of Object.keys(seen)) assert.ok(['host', 'content-type', 'content-length', 'accept', 'connection'].includes(name), `${name} reached the ballot box`);
  assert.equal(seen['content-type'], 'application/json');
  assert.equal(ballot.json().bodyBytes, 7);
  const receipt = await send(url, 'GET', '/v1/ballots/t-1/receipt', { headers: identifying });
  assert.equal(receipt.json().headers['cookie'], undefined);
  assert.equal(receipt.json().headers['x-forwarded-for'], undefined);

  const me = await send(url, 'GET', '/v1/me', { headers: identifying });
  const issuerSaw = me.json().headers;
  assert.equal(issuerSaw['x-forwarded-for'], '127.0.0.1');
  for (const name of ['x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'true-client-ip', 'keep-alive']) assert.equal(issuerSaw[name], undefined, name);
  assert.equal(issuerSaw['cookie'], 'session=abc');
  assert.equal(issuerSaw['authorization'], 'Bearer secret');
  // Without any forwarding header from the client, the issuer still learns the address.
  assert.equal((await send(url, 'GET', '/v1/polls')).json().headers['x-forwarded-for'], '127.0.0.1');

  const board = (await send(url, 'GET', '/poll/p/checkpoint', { headers: identifying })).json().headers;
  for (const name of ['cookie', 'authorization', 'x-forwarded-for', 'forwarded', 'x-real-ip']) assert.equal(board[name], undefined, `${name} reached the board`);
});

test('gateway: response headers and statuses pass as sent; no body limit of its own; Expect: 100-continue works', async (t) => {
  const { url } = await setup(t);
  const immutable = 'public, max-age=31536000, immutable';
  const tile = await send(url, 'GET', `/poll/p/tile/0/000?cache-control=${encodeURIComponent(immutable)}`);
  assert.equal(tile.headers['cache-control'], immutable);
  const busy = await send(url, 'POST', '/v1/ballots?status=429&retry-after=7', { headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(busy.status, 429);
  assert.equal(busy.headers['retry-after'], '7');
  const login = await send(url, 'POST', '/v1/sessions?set-cookie=sid%3Dx%3B%20HttpOnly', { headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(login.headers['set-cookie']?.[0], 'sid=x; HttpOnly');
  assert.equal(login.headers['keep-alive'] === undefined || login.headers['keep-alive'] !== 'timeout=72', true);

  // 2 MiB (over fastify's default 1 MiB) reaches the issuer, which takes 32 MiB rolls.
  const roll = Buffer.alloc(2 * 1024 * 1024, 'a');
  const put = await send(url, 'PUT', '/v1/polls/p-1/roll', { headers: { 'content-type': 'text/csv' }, body: roll });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json().bodyBytes, roll.length);
  // The ballot box answers 413 itself.
  const large = await send(url, 'POST', '/v1/ballots', { headers: { 'content-type': 'application/json' }, body: Buffer.alloc(64 * 1024, ' ') });
  assert.equal(large.status, 413);

  const continued = await send(url, 'POST', '/v1/accounts', { headers: { 'content-type': 'application/json', expect: '100-continue' }, body: '{"u":1}' });
  assert.equal(continued.status, 200, continued.text);
  assert.equal(continued.json().bodyBytes, 7);
  assert.equal(continued.json().headers['expect'], undefined);
});

test('gateway: WebSocket through /v1/results/:pollId/ws, refusals relayed, failover', async (t) => {
  const { url, stubs } = await setup(t);
  const wsBase = url.replace(/^http/, 'ws');
  const { ws, first } = await openSocket(`${wsBase}/v1/results/p-1/ws`, { cookie: 'session=abc' });
  const hello = JSON.parse(first) as { upstream: string; url: string; headers: IncomingHttpHeaders };
  assert.match(hello.upstream, /^tallier-[ab]$/);
  assert.equal(hello.url, '/v1/results/p-1/ws');
  assert.equal(hello.headers['cookie'], undefined);
  ws.send('hello');
  assert.equal(await nextMessage(ws), 'echo:hello');
  ws.send('again');
  assert.equal(await nextMessage(ws), 'echo:again');
  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await closed;

  const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const bad = new WebSocket(`${wsBase}/v1/results/unknown/ws`);
    bad.once('open', () => reject(new Error('upgraded an unknown poll')));
    bad.once('error', () => {});
    bad.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
  });
  assert.equal(refused.status, 404);
  assert.equal((JSON.parse(refused.body) as { code: string }).code, 'BV_UNKNOWN_POLL');

  const outside = await new Promise<number>((resolve, reject) => {
    const bad = new WebSocket(`${wsBase}/v1/polls/ws`);
    bad.once('open', () => reject(new Error('upgraded outside /v1/results')));
    bad.once('error', () => {});
    bad.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
  });
  assert.equal(outside, 404);

  await stubs.tallier[0].close();
  for (let i = 0; i < 3; i++) {
    const again = await openSocket(`${wsBase}/v1/results/p-1/ws`);
    assert.equal((JSON.parse(again.first) as { upstream: string }).upstream, 'tallier-b');
    again.ws.close();
  }
  await stubs.tallier[1].close();
  const down = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const bad = new WebSocket(`${wsBase}/v1/results/p-1/ws`);
    bad.once('open', () => reject(new Error('upgraded with no tallier')));
    bad.once('error', () => {});
    bad.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
  });
  assert.equal(down.status, 503);
  assert.match(down.body, /no tallier upstream/);
});

test('gateway: SSE events reach the client while the stream stays open; leaving closes the upstream stream', async (t) => {
  const { url, stubs } = await setup(t);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(new URL('/v1/results/p-1/events', url), { agent: false }, resolve).on('error', reject).end();
  });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  assert.equal(res.headers['cache-control'], 'no-cache, no-transform');
  let received = '';
  let ended = false;
  res.on('data', (chunk: Buffer) => (received += chunk.toString()));
  res.on('end', () => (ended = true));
  await until('the first event', () => received.includes('\n\n'));
  const first = JSON.parse(/^data: (.*)$/m.exec(received)![1]!) as { upstream: string };
  const stub = first.upstream === 'tallier-a' ? stubs.tallier[0] : stubs.tallier[1];
  assert.equal(ended, false);
  stub.emit('second');
  await until('the second event', () => received.includes('data: second\n\n'));
  stub.emit('third');
  await until('the third event', () => received.includes('data: third\n\n'));
  assert.equal(ended, false, 'the stream ended');
  res.destroy();
  let upstreamClosed = false;
  void stub.sseClosed.then(() => (upstreamClosed = true));
  await until('the upstream stream to close after the client left', () => upstreamClosed);
});

test('gateway: the web client at / and its assets, from web/dist', async (t) => {
  if (!existsSync(join(WEB_DIST, 'index.html'))) assert.fail(`no web build in ${WEB_DIST}: run "npm run build -w web" (npm test does it first)`);
  const { url } = await setup(t);
  const index = readFileSync(join(WEB_DIST, 'index.html'), 'utf8');
  for (const path of ['/', '/vote/p-1', '/results/p-1', '/admin']) {
    const res = await send(url, 'GET', path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.text, index);
  }
  const asset = readdirSync(join(WEB_DIST, 'assets')).find((name) => name.endsWith('.js'));
  assert.ok(asset !== undefined, 'the web build has no .js asset');
  const js = await send(url, 'GET', `/assets/${asset}`);
  assert.equal(js.status, 200);
  assert.match(String(js.headers['cache-control']), /immutable/);
  assert.equal(js.text, readFileSync(join(WEB_DIST, 'assets', asset), 'utf8'));
});

test('gateway: log lines carry no address, header or body, proxied requests included', async (t) => {
  const { url, stubs, logs } = await setup(t);
  await send(url, 'GET', '/v1/me', { headers: { cookie: 'session=secret-cookie', 'x-forwarded-for': '6.6.6.6' } });
  await send(url, 'POST', '/v1/ballots', { headers: { 'content-type': 'application/json' }, body: '{"secret-choice":1}' });
  await stubs.board[0].close();
  await Promise.all([send(url, 'GET', '/poll/p/checkpoint'), send(url, 'GET', '/poll/p/checkpoint')]);
  await stubs.board[1].close();
  assert.equal((await send(url, 'GET', '/poll/p/checkpoint')).status, 503);
  await send(url, 'GET', '/readyz');
  // Clients that leave before the answer are no error of the gateway's.
  const leaving = Array.from({ length: 8 }, (_, i) => {
    const path = i % 2 === 0 ? '/v1/polls?delay=150' : '/v1/polls?slow-body=150';
    const req = httpRequest(new URL(path, url), { method: i < 4 ? 'GET' : 'POST', agent: false, headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(i < 4 ? undefined : '{"title":"x"}');
    return req;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const req of leaving) req.destroy();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const all = logs.join('');
  assert.ok(!logs.some((line) => (JSON.parse(line) as { level: number }).level >= 50), all);
  const requests = logs.filter((line) => line.includes('"msg":"request"'));
  assert.ok(requests.some((line) => line.includes('"route":"/v1/me"') || line.includes('"route":"/v1/me/*"')), all);
  assert.ok(requests.some((line) => line.includes('"status":503')), all);
  assert.ok(logs.some((line) => line.includes('upstream attempt failed')), all);
  assert.doesNotMatch(all, /127\.0\.0\.1|6\.6\.6\.6|::1|secret-cookie|secret-choice|cookie|user-agent/);
});

test('gateway: GET moves on after a reset; a POST that may have arrived is not repeated (502)', async (t) => {
  const { url, stubs } = await setup(t);
  for (let i = 0; i < 4; i++) {
    const get = await send(url, 'GET', '/v1/polls?reset=issuer-a');
    assert.equal(get.status, 200, get.text);
    assert.equal(get.json().upstream, 'issuer-b');
  }
  const hitsBefore = stubs.issuer[0].hits + stubs.issuer[1].hits;
  const post = await send(url, 'POST', '/v1/polls?reset=all', { headers: { 'content-type': 'application/json' }, body: '{"title":"x"}' });
  assert.equal(post.status, 502, post.text);
  const error = post.json<{ code: string; message: string }>();
  assert.equal(error.code, 'BV_UPSTREAM_FAILED');
  assert.match(error.message, /issuer/);
  assert.equal(stubs.issuer[0].hits + stubs.issuer[1].hits - hitsBefore, 1, 'the POST was sent twice');
  const get = await send(url, 'GET', '/v1/polls?reset=all');
  assert.equal(get.status, 502, get.text);
  assert.equal(stubs.issuer[0].hits + stubs.issuer[1].hits - hitsBefore, 3, 'the GET was not tried on both');
});

test('gateway: close() ends open event streams and WebSocket tunnels instead of waiting for them', async (t) => {
  const { gateway, url } = await setup(t);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(new URL('/v1/results/p-1/events', url), { agent: false }, resolve).on('error', reject).end();
  });
  let sseEnded = false;
  res.on('data', () => {});
  res.on('close', () => (sseEnded = true));
  const { ws } = await openSocket(`${url.replace(/^http/, 'ws')}/v1/results/p-1/ws`);
  let wsClosed = false;
  ws.on('close', () => (wsClosed = true));
  ws.on('error', () => {});
  const started = performance.now();
  await gateway.close();
  assert.ok(performance.now() - started < 2_000, `close took ${Math.round(performance.now() - started)} ms`);
  await until('the event stream to end', () => sseEnded);
  await until('the WebSocket to close', () => wsClosed);
});

test('gateway: upstream lists are checked at start-up', async () => {
  const ok = ['http://127.0.0.1:1'];
  await assert.rejects(buildGateway({ upstreams: { issuer: ok, ballotBox: [], board: ok, tallier: ok } }), /ballot-box pool has no upstream/);
  await assert.rejects(buildGateway({ upstreams: { issuer: ok, ballotBox: ok, board: ['http://127.0.0.1:1/base'], tallier: ok } }), /board upstream "http:\/\/127\.0\.0\.1:1\/base" must be an origin/);
  await assert.rejects(buildGateway({ upstreams: { issuer: ['127.0.0.1:1'], ballotBox: ok, board: ok, tallier: ok } }), /must be an origin|is not a URL/);
});
