/**
 * The board's read routes over `app.inject()`: every route, its status codes and cache headers,
 * the tlog-tiles rules for partial and full tiles, sealed polls, malformed paths and queries.
 * What is served is checked the way a client would: proofs verify against the signed checkpoint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import {
  decodeBundle, fromBase64, inclusionProof, leafHash, openCheckpoint, tileNodeReader, toBase64, verifyConsistency, verifyInclusion,
} from '@blindvote/crypto';
import { ballot, manifest, tallyOf, testBoard } from '../testing/board.ts';
import type { TestBoard } from '../testing/board.ts';
import { boardRoutes } from './routes.ts';
import { IMMUTABLE } from './tlog.ts';

/** Ballots on the live board: 300 + manifest = 301 entries, so tile 0/000 is full and 0/001 holds 45. */
const BALLOTS = 300;
const SIZE = BALLOTS + 1;

let t: TestBoard;
let app: FastifyInstance;
/** A checkpoint published before the last batch (for proofs at an older size). */
let early: { size: number; note: string };
/** Each GET route's schema, as registered. */
const routes = new Map<string, Record<string, unknown>>();

before(async () => {
  t = testBoard();
  const { board, signer } = t;
  await board.publish(await manifest(signer, 'live'));
  await board.publish(await manifest(signer, 'sealed', { results: 'sealed' }));
  await Promise.all(Array.from({ length: 200 }, (_, i) => board.appendBallot(ballot('live', ['a', 'b', 'c'][i % 3]))));
  early = { size: 201, note: (await board.state('live'))!.checkpoint };
  await Promise.all(Array.from({ length: BALLOTS - 200 }, () => board.appendBallot(ballot('live'))));
  await Promise.all(Array.from({ length: 3 }, () => board.appendBallot(ballot('sealed'))));
  app = Fastify();
  app.addHook('onRoute', (route) => {
    if (route.method === 'GET') routes.set(route.url, route.schema as Record<string, unknown>);
  });
  await app.register(boardRoutes, { board });
  await app.ready();
});

after(async () => {
  await app.close();
  await t.close();
});

const get = (url: string) => app.inject({ method: 'GET', url });
const json = (res: LightMyRequestResponse) => res.json() as Record<string, unknown>;
const bytes = (res: LightMyRequestResponse) => new Uint8Array(res.rawPayload);

async function assertError(url: string, status: number, code: string, message?: RegExp): Promise<void> {
  const res = await get(url);
  assert.equal(res.statusCode, status, `${url}: ${res.body}`);
  assert.equal(res.headers['cache-control'], 'no-store', `${url}: errors are not cached`);
  const body = json(res);
  assert.equal(body.code, code, `${url}: ${res.body}`);
  assert.equal(body.statusCode, status);
  if (message !== undefined) assert.match(String(body.message), message, url);
}

const latest = async (pollId: string) => openCheckpoint((await t.board.state(pollId))!.checkpoint, [t.board.verifierKey!], `board.test/poll/${pollId}`).checkpoint;

test('GET checkpoint: the latest signed note as text/plain, never cached; unknown poll 404, malformed id 400', async () => {
  const res = await get('/poll/live/checkpoint');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['access-control-allow-origin'], '*');
  const { checkpoint } = openCheckpoint(res.body, [t.board.verifierKey!], 'board.test/poll/live');
  assert.equal(checkpoint.size, SIZE);
  await assertError('/poll/nope/checkpoint', 404, 'BV_POLL_NOT_FOUND', /poll "nope"/);
  await assertError('/poll/Not_A_Poll/checkpoint', 400, 'FST_ERR_VALIDATION', /pollId/);
});

test('GET hash tiles: full and partial tiles as the tree holds them, immutable; proofs from them verify', async () => {
  const cp = await latest('live');
  const full = await get('/poll/live/tile/0/000');
  assert.equal(full.statusCode, 200);
  assert.equal(full.headers['content-type'], 'application/octet-stream');
  assert.equal(full.headers['cache-control'], IMMUTABLE);
  assert.equal(full.rawPayload.length, 256 * 32);
  const partial = await get('/poll/live/tile/0/001.p/45');
  assert.equal(partial.statusCode, 200);
  assert.equal(partial.rawPayload.length, 45 * 32);
  // A narrower partial tile (an earlier tree size's) is the prefix of the wider one.
  assert.deepEqual(bytes(await get('/poll/live/tile/0/001.p/3')), bytes(partial).subarray(0, 96));
  assert.equal((await get('/poll/live/tile/1/000.p/1')).rawPayload.length, 32);
  assert.equal((await app.inject({ method: 'HEAD', url: '/poll/live/tile/0/000' })).statusCode, 200);

  // What a tlog-tiles client does: read the tiles its verified checkpoint needs, prove, verify.
  const nodes = tileNodeReader(cp.size, async (level, index, width) => {
    const res = await get(`/poll/live/tile/${level}/${String(index).padStart(3, '0')}${width === 256 ? '' : `.p/${width}`}`);
    assert.equal(res.statusCode, 200, res.body);
    return bytes(res);
  });
  const entries = await t.board.entries('live', 0, SIZE);
  for (const index of [0, 1, 255, 256, 300]) {
    verifyInclusion(leafHash(entries[index]!), index, cp.size, await inclusionProof(index, cp.size, nodes), cp.root);
  }
});

test('GET hash tiles: what the tree does not hold is 404, a malformed path 400', async () => {
  await assertError('/poll/live/tile/0/001', 404, 'BV_TILE_NOT_FOUND', /holds 45 hashes/);
  await assertError('/poll/live/tile/0/001.p/46', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/live/tile/0/002.p/1', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/live/tile/1/000', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/live/tile/2/000.p/1', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/nope/tile/0/000', 404, 'BV_POLL_NOT_FOUND');
  for (const path of ['0/00', '0/0000', '00/000', '64/000', '0/000.p/0', '0/000.p/256', '0/000.p/045', '0/x000/001', 'x/000', '0/000/', '0/../000', '0/000.p/']) {
    await assertError(`/poll/live/tile/${path}`, 400, 'BV_PATH_MALFORMED', /tile path/);
  }
  // Percent-encoded aliases of a canonical path are refused, not served (and cached) twice.
  await assertError('/poll/live/tile/0/%30%30%30', 400, 'BV_PATH_MALFORMED', /not a canonical tlog-tiles path/);
  await assertError('/poll/%6Cive/tile/0/000', 400, 'BV_PATH_MALFORMED', /percent-encoding/);
});

test('GET entry bundles: full and partial as the tree holds them, immutable; not yet there 404', async () => {
  const entries = await t.board.entries('live', 0, SIZE);
  const full = await get('/poll/live/tile/entries/000');
  assert.equal(full.statusCode, 200);
  assert.equal(full.headers['content-type'], 'application/octet-stream');
  assert.equal(full.headers['cache-control'], IMMUTABLE);
  assert.deepEqual(decodeBundle(bytes(full), 256), entries.slice(0, 256));
  assert.deepEqual(decodeBundle(bytes(await get('/poll/live/tile/entries/001.p/45')), 45), entries.slice(256));
  assert.deepEqual(decodeBundle(bytes(await get('/poll/live/tile/entries/001.p/2')), 2), entries.slice(256, 258));
  await assertError('/poll/live/tile/entries/001', 404, 'BV_TILE_NOT_FOUND', /holds 45 entries/);
  await assertError('/poll/live/tile/entries/001.p/46', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/live/tile/entries/002.p/1', 404, 'BV_TILE_NOT_FOUND');
  await assertError('/poll/live/tile/entries/00', 400, 'BV_PATH_MALFORMED');
});

test('sealed poll: bundles 403 until the close entry, checkpoint and hash tiles served throughout', async () => {
  await assertError('/poll/sealed/tile/entries/000.p/4', 403, 'BV_ENTRIES_SEALED', /sealed until the poll closes/);
  await assertError('/poll/sealed/tile/entries/000.p/2', 403, 'BV_ENTRIES_SEALED');
  await assertError('/poll/sealed/tile/entries/000', 403, 'BV_ENTRIES_SEALED');
  // Entry 0 alone is the public manifest.
  const manifestOnly = await get('/poll/sealed/tile/entries/000.p/1');
  assert.equal(manifestOnly.statusCode, 200);
  assert.deepEqual(decodeBundle(bytes(manifestOnly), 1), await t.board.entries('sealed', 0, 1));
  assert.equal((await get('/poll/sealed/checkpoint')).statusCode, 200);
  assert.equal((await get('/poll/sealed/tile/0/000.p/4')).statusCode, 200);
  assert.equal((await get('/v1/board/sealed/proof/inclusion?index=2')).statusCode, 200);

  await t.board.closePoll('sealed', 3, new Date('2026-03-01T18:00:00Z'));
  const res = await get('/poll/sealed/tile/entries/000.p/5');
  assert.equal(res.statusCode, 200);
  const entries = decodeBundle(bytes(res), 5);
  assert.deepEqual(entries, await t.board.entries('sealed', 0, 5));
  await t.board.appendTally('sealed', tallyOf(entries).serialize());
  assert.equal((await get('/poll/sealed/tile/entries/000.p/6')).statusCode, 200);
});

test('GET /v1/board/:pollId: size, lifecycle and checkpoint', async () => {
  const res = await get('/v1/board/live');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = json(res);
  assert.deepEqual({ ...body, checkpoint: undefined }, { poll_id: 'live', board: 'http://board.test/poll/live', size: SIZE, closed: false, tallied: false, checkpoint: undefined });
  assert.equal(openCheckpoint(String(body.checkpoint), [t.board.verifierKey!]).checkpoint.size, SIZE);
  await assertError('/v1/board/nope', 404, 'BV_POLL_NOT_FOUND');
  await assertError('/v1/board/-bad', 400, 'FST_ERR_VALIDATION');
});

test('GET inclusion proof: by index or leaf hash, at the latest or a published size; it verifies', async () => {
  const entries = await t.board.entries('live', 0, SIZE);
  const check = (body: Record<string, unknown>, index: number, size: number) => {
    assert.equal(body.leaf_index, index);
    assert.equal(body.tree_size, size);
    const { checkpoint } = openCheckpoint(String(body.checkpoint), [t.board.verifierKey!], 'board.test/poll/live');
    assert.equal(checkpoint.size, size);
    const proof = (body.inclusion_proof as string[]).map((h) => fromBase64(h, 'proof', 32));
    verifyInclusion(leafHash(entries[index]!), index, size, proof, checkpoint.root);
  };
  const byIndex = await get('/v1/board/live/proof/inclusion?index=77');
  assert.equal(byIndex.statusCode, 200);
  assert.equal(byIndex.headers['cache-control'], 'no-store');
  check(json(byIndex), 77, SIZE);
  const hash = encodeURIComponent(toBase64(leafHash(entries[299]!)));
  check(json(await get(`/v1/board/live/proof/inclusion?leaf_hash=${hash}`)), 299, SIZE);
  check(json(await get(`/v1/board/live/proof/inclusion?index=200&size=${early.size}`)), 200, early.size);
  assert.equal(json(await get(`/v1/board/live/proof/inclusion?index=5&size=${early.size}`)).checkpoint, early.note);
  check(json(await get(`/v1/board/live/proof/inclusion?leaf_hash=${encodeURIComponent(toBase64(leafHash(entries[0]!)))}`)), 0, SIZE);
  // Typed by hand, unencoded: "+" reads as a space in a query string, and is taken back.
  const plus = entries.findIndex((e) => toBase64(leafHash(e)).includes('+'));
  assert.ok(plus >= 0);
  check(json(await get(`/v1/board/live/proof/inclusion?leaf_hash=${toBase64(leafHash(entries[plus]!)).replaceAll('/', '%2F')}`)), plus, SIZE);
});

test('GET inclusion proof: refusals name the parameter', async () => {
  const entries = await t.board.entries('live', 0, SIZE);
  const late = encodeURIComponent(toBase64(leafHash(entries[250]!)));
  const base = '/v1/board/live/proof/inclusion';
  await assertError(base, 400, 'BV_PROOF_QUERY_INVALID', /give exactly one/);
  await assertError(`${base}?index=1&leaf_hash=${late}`, 400, 'BV_PROOF_QUERY_INVALID', /give exactly one/);
  await assertError(`${base}?index=${SIZE}`, 400, 'BV_PROOF_QUERY_INVALID', new RegExp(`index: ${SIZE} is not below the tree size ${SIZE}`));
  await assertError(`${base}?index=-1`, 400, 'FST_ERR_VALIDATION', /index/);
  await assertError(`${base}?index=01`, 400, 'FST_ERR_VALIDATION', /index/);
  await assertError(`${base}?index=99999999999999999`, 400, 'FST_ERR_VALIDATION', /index/);
  await assertError(`${base}?index=9999999999999999`, 400, 'BV_PROOF_QUERY_INVALID', /index: .* above 2\^53/);
  await assertError(`${base}?index=1&size=${SIZE + 1}`, 404, 'BV_PROOF_NOT_FOUND', /size: .* beyond/);
  await assertError(`${base}?index=1&size=150`, 404, 'BV_PROOF_NOT_FOUND', /no checkpoint of size 150/);
  await assertError(`${base}?leaf_hash=abc`, 400, 'BV_PROOF_QUERY_INVALID', /leaf_hash/);
  await assertError(`${base}?leaf_hash=${encodeURIComponent(toBase64(new Uint8Array(32).fill(7)))}`, 404, 'BV_PROOF_NOT_FOUND', /no entry/);
  await assertError(`${base}?leaf_hash=${late}&size=${early.size}`, 404, 'BV_PROOF_NOT_FOUND', /index 250, not in the tree of size 201/);
  await assertError('/v1/board/nope/proof/inclusion?index=0', 404, 'BV_POLL_NOT_FOUND');
});

test('GET consistency proof: between published sizes it verifies; refusals name the parameter', async () => {
  const cp = await latest('live');
  const old = openCheckpoint(early.note, [t.board.verifierKey!]).checkpoint;
  const res = await get(`/v1/board/live/proof/consistency?from=${early.size}`);
  assert.equal(res.statusCode, 200);
  const body = json(res);
  assert.deepEqual([body.from, body.to], [early.size, SIZE]);
  verifyConsistency(early.size, SIZE, (body.consistency_proof as string[]).map((h) => fromBase64(h, 'proof', 32)), old.root, cp.root);
  assert.deepEqual(json(await get(`/v1/board/live/proof/consistency?from=${SIZE}&to=${SIZE}`)).consistency_proof, []);
  const base = '/v1/board/live/proof/consistency';
  await assertError(base, 400, 'FST_ERR_VALIDATION', /from/);
  await assertError(`${base}?from=0`, 400, 'BV_PROOF_QUERY_INVALID', /from: must be at least 1/);
  await assertError(`${base}?from=10&to=9`, 400, 'BV_PROOF_QUERY_INVALID', /from: 10 is larger than to \(9\)/);
  await assertError(`${base}?from=1&to=${SIZE + 1}`, 404, 'BV_PROOF_NOT_FOUND', /to: .* beyond/);
  await assertError('/v1/board/nope/proof/consistency?from=1', 404, 'BV_POLL_NOT_FOUND');
});

test('every route is documented: summary, tag, params and a response schema for each status it returns', () => {
  const expected: Record<string, string[]> = {
    '/poll/:pollId/checkpoint': ['200', '400', '404', '5xx'],
    '/poll/:pollId/tile/*': ['200', '400', '403', '404', '5xx'],
    '/v1/board/:pollId': ['200', '400', '404', '5xx'],
    '/v1/board/:pollId/proof/inclusion': ['200', '400', '404', '5xx'],
    '/v1/board/:pollId/proof/consistency': ['200', '400', '404', '5xx'],
  };
  assert.deepEqual([...routes.keys()].sort(), Object.keys(expected).sort());
  for (const [url, statuses] of Object.entries(expected)) {
    const schema = routes.get(url)!;
    assert.equal(typeof schema.summary, 'string', url);
    assert.deepEqual(schema.tags, ['bulletin-board'], url);
    assert.ok(schema.params !== undefined, url);
    assert.deepEqual(Object.keys(schema.response as object).sort(), statuses, url);
  }
  for (const url of ['/v1/board/:pollId/proof/inclusion', '/v1/board/:pollId/proof/consistency']) assert.ok(routes.get(url)!.querystring !== undefined, url);
});
