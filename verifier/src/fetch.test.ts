/**
 * fetch.ts: tlog-tiles paths, the partial → full tile fallback (C2SP tlog-tiles), size caps
 * before buffering, timeouts, and errors that name the URL or file and the HTTP status.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeBundle, entriesPath, tilePath, utf8 } from '@blindvote/crypto';
import { BoardFetchError, MAX_TILE_SIZE, boardUrl, dirFetcher, httpFetcher, openBoard } from './fetch.ts';
import { staticServer, tempDir } from './testing/election.ts';

function put(dir: string, rel: string, bytes: Uint8Array | string): void {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), bytes);
}

const FULL_TILE = new Uint8Array(MAX_TILE_SIZE).fill(7);
const FULL_BUNDLE = encodeBundle(Array.from({ length: 256 }, (_, i) => utf8(`entry ${i}`)));

/** A directory with only full resources, one oversized tile and one oversized checkpoint. */
function fixtureDir(): string {
  const dir = tempDir();
  put(dir, 'checkpoint', 'origin\n1\nAAAA\n');
  put(dir, tilePath(0, 0), FULL_TILE);
  put(dir, entriesPath(0), FULL_BUNDLE);
  put(dir, tilePath(0, 1, 5), new Uint8Array(MAX_TILE_SIZE + 32));
  put(dir, entriesPath(1, 1), new Uint8Array(2 + 0xffff + 1));
  return dir;
}

test('dirFetcher: partial tiles and bundles fall back to the full ones; missing files are named', async () => {
  const dir = fixtureDir();
  const f = dirFetcher(dir);
  assert.equal(f.origin, undefined);
  assert.equal(await f.checkpoint(), 'origin\n1\nAAAA\n');
  assert.deepEqual(await f.tile(0, 0, 5), FULL_TILE);
  assert.deepEqual(await f.tile(0, 0, 256), FULL_TILE);
  assert.deepEqual(await f.bundle(0, 17), FULL_BUNDLE);
  await assert.rejects(f.tile(1, 0, 3), (err: unknown) => {
    assert.ok(err instanceof BoardFetchError);
    assert.ok(err.notFound);
    assert.equal(err.resource, join(dir, 'tile/1/000'));
    assert.match(err.message, /tile\/1\/000: no such file$/);
    return true;
  });
  await assert.rejects(f.tile(0, 0, 0), RangeError);
  await assert.rejects(f.tile(0, 0, 257), RangeError);
});

test('dirFetcher: files above the caps are refused before they are read', async () => {
  const dir = fixtureDir();
  const f = dirFetcher(dir);
  await assert.rejects(f.tile(0, 1, 5), /8224 bytes, at most 8192 expected/);
  await assert.rejects(f.bundle(1, 1), /65538 bytes, at most 65537 expected/);
  put(dir, 'checkpoint', 'x'.repeat(16 * 1024 + 1));
  await assert.rejects(f.checkpoint(), /16385 bytes, at most 16384 expected/);
  put(dir, 'checkpoint', new Uint8Array([0xff, 0xfe]));
  await assert.rejects(f.checkpoint(), /checkpoint is not valid UTF-8/);
});

test('httpFetcher: tlog-tiles URLs, the full-tile fallback on 404, and the origin the URL implies', async () => {
  const server = await staticServer();
  server.serve(fixtureDir());
  const f = httpFetcher(`${server.url}/`);
  assert.equal(f.location, server.url);
  assert.equal(f.origin, server.origin);
  assert.deepEqual(await f.tile(0, 0, 5), FULL_TILE);
  assert.deepEqual(await f.bundle(0, 17), FULL_BUNDLE);
  assert.deepEqual(server.requests.slice(-4), [
    '/poll/city-2026/tile/0/000.p/5',
    '/poll/city-2026/tile/0/000',
    '/poll/city-2026/tile/entries/000.p/17',
    '/poll/city-2026/tile/entries/000',
  ]);
  await assert.rejects(f.tile(0, 1, 5), /tile\/0\/001\.p\/5: response of 8224 bytes, at most 8192 expected/);
  await assert.rejects(f.tile(3, 0, 1), (err: unknown) => {
    assert.ok(err instanceof BoardFetchError);
    assert.equal(err.status, 404);
    assert.equal(err.resource, `${server.url}/tile/3/000`);
    assert.match(err.message, /HTTP 404 Not Found$/);
    return true;
  });
});

test('httpFetcher: other statuses, bodies above the cap without Content-Length, timeouts and refused connections', async () => {
  const hang: import('node:http').ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/500/checkpoint') res.writeHead(500).end('oops');
    else if (req.url === '/big/checkpoint') {
      res.writeHead(200); // chunked: no Content-Length
      for (let i = 0; i < 20; i++) res.write('x'.repeat(1024));
      res.end();
    } else if (req.url === '/slow/checkpoint') hang.push(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    for (const res of hang) res.destroy();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  await assert.rejects(httpFetcher(`${base}/500`).checkpoint(), (err: unknown) => {
    assert.ok(err instanceof BoardFetchError);
    assert.equal(err.status, 500);
    assert.equal(err.notFound, false);
    assert.equal(err.message, `${base}/500/checkpoint: HTTP 500 Internal Server Error`);
    return true;
  });
  await assert.rejects(httpFetcher(`${base}/big`).checkpoint(), /\/big\/checkpoint: response larger than 16384 bytes/);
  await assert.rejects(httpFetcher(`${base}/slow`, { timeoutMs: 150 }).checkpoint(), /\/slow\/checkpoint: no response within 150 ms/);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(httpFetcher(`http://127.0.0.1:${port}/poll/x`).checkpoint(), /request failed: fetch failed \(.*ECONNREFUSED/);
});

test('boardUrl and openBoard: what a user may type, and what to fix otherwise', async () => {
  assert.equal(boardUrl('https://vote.example/poll/a/').href, 'https://vote.example/poll/a');
  assert.throws(() => boardUrl('ftp://vote.example/poll/a'), /must be http or https/);
  assert.throws(() => boardUrl('https://u:p@vote.example/poll/a'), /credentials/);
  assert.throws(() => boardUrl('https://vote.example/poll/a?x=1'), /query or fragment/);
  assert.throws(() => boardUrl('not a url'), /not a URL/);
  assert.equal((await openBoard('https://vote.example/poll/a')).origin, 'vote.example/poll/a');
  const dir = tempDir();
  assert.equal((await openBoard(dir)).location, dir);
  await assert.rejects(openBoard(join(dir, 'nope')), /neither an http\(s\) URL nor an existing directory/);
  put(dir, 'file', 'x');
  await assert.rejects(openBoard(join(dir, 'file')), /not a directory/);
});

test('dirFetcher: a FIFO planted in a mirror is refused at once, never waited on', async () => {
  const dir = tempDir();
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [join(dir, 'checkpoint')]);
  const f = dirFetcher(dir);
  const outcome = await Promise.race([
    f.checkpoint().then(
      () => 'read',
      (err: unknown) => (err instanceof BoardFetchError ? err.message : String(err)),
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('hung'), 2000).unref()),
  ]);
  assert.match(outcome, /checkpoint: not a regular file$/);
});

test('httpFetcher: redirects are followed within the board origin only, and not forever', async () => {
  const other = createServer((_req, res) => res.writeHead(200).end('other host\n'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  const seenElsewhere: string[] = [];
  other.on('request', (req) => seenElsewhere.push(req.url ?? ''));
  const server = createServer((req, res) => {
    if (req.url === '/moved/checkpoint') res.writeHead(302, { location: '/here/checkpoint' }).end();
    else if (req.url === '/here/checkpoint') res.writeHead(200).end('origin\n1\nAAAA\n');
    else if (req.url === '/away/checkpoint') res.writeHead(301, { location: `${otherBase}/steal/checkpoint` }).end();
    else if (req.url === '/loop/checkpoint') res.writeHead(307, { location: '/loop/checkpoint' }).end();
    else if (req.url === '/gone/tile/0/000.p/5') res.writeHead(302, { location: '/gone/missing' }).end();
    else if (req.url === '/gone/tile/0/000') res.writeHead(200).end(Buffer.from(FULL_TILE));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.close();
    other.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  assert.equal(await httpFetcher(`${base}/moved`).checkpoint(), 'origin\n1\nAAAA\n');
  await assert.rejects(httpFetcher(`${base}/away`).checkpoint(), /away\/checkpoint: HTTP 301 redirect to another origin \(http:\/\/127\.0\.0\.1:\d+\), not followed/);
  assert.deepEqual(seenElsewhere, []);
  await assert.rejects(httpFetcher(`${base}/loop`).checkpoint(), /loop\/checkpoint: more than 5 redirects/);
  // A redirect that ends in 404 is still "not found": the full-tile fallback applies.
  assert.deepEqual(await httpFetcher(`${base}/gone`).tile(0, 0, 5), FULL_TILE);
});
