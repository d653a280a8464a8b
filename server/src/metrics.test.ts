/**
 * GET /metrics (metrics.ts) over the real ballot box on a real board: the text parses as the
 * Prometheus exposition format and matches prom-client's own output, ballot counters move by
 * reason, the request histogram is labelled by route pattern, the sequencer hook feeds the batch
 * histograms, and nothing a client sent (poll ids of 404s, bodies, cookies, addresses,
 * credentials) ever shows up in the output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { register as globalRegistry } from 'prom-client';
import { ballotBox } from '@blindvote/ballot-box';
import { Board, SqliteLogStorage } from '@blindvote/bulletin-board';
import { formatTime, generateSignerKey, NoteSigner, Poll, sha256, toBase64, utf8 } from '@blindvote/crypto';
import { generateTokenKey } from '@blindvote/crypto/issuer';
import { testToken } from '@blindvote/crypto/testing';
import type { KeyObject } from 'node:crypto';
import { BALLOT_OUTCOMES, METRICS_PREFIX, metricsPlugin, NO_ROUTE, TOKENS_ROUTE } from './metrics.ts';
import type { Metrics } from './metrics.ts';
import { ballotSink, pollDirectory } from './wiring.ts';

// ---------------------------------------------------------------------------------------------
// A line parser for the Prometheus text exposition format 0.0.4.

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

/** Special values in any case, as Prometheus reads them (Go's ParseFloat); prom-client writes `Nan`. */
function parseValue(text: string, line: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `not a sample value: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    assert.ok(m !== null, `bad labels in: ${line}`);
    const [all, key, raw] = m as unknown as [string, string, string];
    assert.ok(!(key in labels), `label ${key} twice in: ${line}`);
    labels[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(all.length);
  }
  return labels;
}

/** The family a sample belongs to: itself, or a histogram/summary base for _bucket/_sum/_count. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (types.get(base) === 'histogram' || types.get(base) === 'summary') ? base : undefined;
}

function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = HELP_LINE.exec(line)) !== null) {
      assert.ok(!help.has(m[1]!), `HELP twice for ${m[1]}`);
      help.set(m[1]!, m[2]!);
    } else if ((m = TYPE_LINE.exec(line)) !== null) {
      assert.ok(!types.has(m[1]!), `TYPE twice for ${m[1]}`);
      types.set(m[1]!, m[2]!);
    } else {
      assert.ok(!line.startsWith('#'), `unknown comment line: ${line}`);
      m = SAMPLE_LINE.exec(line);
      assert.ok(m !== null, `not a sample line: ${line}`);
      const name = m[1]!;
      assert.ok(familyOf(name, types) !== undefined, `sample before (or without) its # TYPE: ${line}`);
      samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) });
    }
  }
  // Histograms: cumulative buckets ending in le="+Inf", which equals _count, per label set.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      assert.ok(le !== undefined, `${family}_bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(parseValue(buckets[i]!.labels.le!, '') > parseValue(buckets[i - 1]!.labels.le!, ''), `${family} ${key}: le not increasing`);
        assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${family} ${key}: buckets not cumulative`);
      }
      const last = buckets[buckets.length - 1]!;
      assert.equal(last.labels.le, '+Inf', `${family} ${key}: last bucket is not +Inf`);
      const count = samples.find((x) => x.name === `${family}_count` && JSON.stringify(x.labels) === key);
      assert.equal(count?.value, last.value, `${family} ${key}: _count differs from the +Inf bucket`);
    }
  }
  return { types, help, samples };
}

/** The value of the one sample `name` whose labels include `labels`; 0 when absent. */
function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples match`);
  return found[0]?.value ?? 0;
}

// ---------------------------------------------------------------------------------------------
// The app: swagger, the metrics plugin, the real ballot box on a real (SQLite) board, and a
// stand-in for the issuer's token route (its pattern is what the plugin keys on).

const POLL = 'town-hall';
/** Values a client sends that MUST NOT reach any label. */
const SECRET = {
  unroutedPoll: 'ghost-poll-4b7e91',
  unknownPoll: 'no-such-poll-a93c2d',
  unknownTokenPoll: 'hidden-poll-5d0f3e',
  cookie: 'session=cookie-8f1e66c2',
  bearer: 'Bearer account-71d2c0aa',
  forwardedFor: '203.0.113.77',
  remoteAddress: '198.51.100.23',
  blindedMsg: 'YmxpbmRlZC1tZXNzYWdlLXNlY3JldA==',
};

let dir: string;
let storage: SqliteLogStorage;
let board: Board;
let metrics: Metrics;
let app: FastifyInstance;
let tokenKey: KeyObject;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blindvote-metrics-'));
  storage = new SqliteLogStorage(join(dir, 'board.db'));
  metrics = metricsPlugin();
  const signer = new NoteSigner(generateSignerKey('vote.example').signerKey);
  board = new Board({ storage, signer, baseUrl: 'https://vote.example', sequencer: { onBatch: metrics.sequencerHook() } });
  const { privateKey, spki } = await generateTokenKey(2048);
  tokenKey = privateKey;
  const now = Date.now();
  await board.publish(new Poll({
    poll_id: POLL,
    title: 'Town hall',
    description: '',
    ballot: { kind: 'single', options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }], max_choices: 1 },
    opens_at: formatTime(now - 3_600_000),
    closes_at: formatTime(now + 3_600_000),
    results: 'live',
    token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki },
    board_key: board.verifierKey!,
    roll: { size: 100, commitment: sha256(utf8('roll')) },
  }));

  app = Fastify();
  await app.register(swagger, { openapi: { info: { title: 'metrics test', version: '1' } } });
  await app.register(metrics);
  await app.register(ballotBox, { polls: pollDirectory(board), sink: ballotSink(board) });
  app.post<{ Params: { id: string } }>(TOKENS_ROUTE, async (request, reply) =>
    request.params.id === POLL ? { blind_sig: 'c2ln' } : reply.code(404).send({ statusCode: 404, message: 'no such poll' }));
  await app.ready();
});

after(async () => {
  await app?.close();
  await board?.shutdown();
  await storage?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<{ text: string; exposition: Exposition }> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], globalRegistry.contentType);
  assert.equal(res.headers['cache-control'], 'no-store');
  return { text: res.body, exposition: parseExposition(res.body) };
}

function postBallot(body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/ballots',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function ballotJson(choice: string[], token = testToken(tokenKey, POLL), pollId = POLL) {
  return { type: 'ballot', v: 1, poll_id: pollId, token: { nonce: toBase64(token.nonce), prefix: toBase64(token.prefix), sig: toBase64(token.sig) }, choice };
}

const BALLOTS = `${METRICS_PREFIX}ballots_total`;
const DURATION = `${METRICS_PREFIX}http_request_duration_seconds`;

test('/metrics is Prometheus text: our families and the default process metrics, as prom-client writes them, on a registry of our own', async () => {
  const { text, exposition } = await scrape();
  for (const [name, type] of [
    [BALLOTS, 'counter'],
    [DURATION, 'histogram'],
    [`${METRICS_PREFIX}tokens_issued_total`, 'counter'],
    [`${METRICS_PREFIX}token_requests_total`, 'counter'],
    [`${METRICS_PREFIX}sequencer_batch_size`, 'histogram'],
    [`${METRICS_PREFIX}sequencer_commit_seconds`, 'histogram'],
    [`${METRICS_PREFIX}sequencer_appended_total`, 'counter'],
    [`${METRICS_PREFIX}sequencer_lag_records`, 'gauge'],
    [`${METRICS_PREFIX}bus_records_total`, 'counter'],
    [`${METRICS_PREFIX}process_cpu_user_seconds_total`, 'counter'],
    [`${METRICS_PREFIX}nodejs_eventloop_lag_seconds`, 'gauge'],
  ] as const) {
    assert.equal(exposition.types.get(name), type, name);
    assert.ok(exposition.help.has(name), `${name} has HELP`);
  }
  for (const name of exposition.types.keys()) assert.ok(name.startsWith(METRICS_PREFIX), `${name} lacks the ${METRICS_PREFIX} prefix`);
  // Every outcome is there from the start, at 0, so rates work before the first of each.
  for (const outcome of [...Object.values(BALLOT_OUTCOMES), 'other', 'error']) assert.equal(valueOf(exposition, BALLOTS, { outcome }), 0, outcome);

  // The same families and help as prom-client's own output of the registry; stable ones verbatim.
  const own = parseExposition(await metrics.registry.metrics());
  assert.deepEqual([...exposition.types].sort(), [...own.types].sort());
  assert.deepEqual([...exposition.help].sort(), [...own.help].sort());
  assert.ok(text.includes(await metrics.registry.getSingleMetricAsString(BALLOTS)));
  // Not the global registry, and a second handle in the process does not collide with the first.
  assert.ok((await globalRegistry.getMetricsAsJSON()).every((m) => !m.name.startsWith(METRICS_PREFIX)));
  assert.doesNotThrow(() => metricsPlugin({ defaultMetrics: true }));
});

test('ballot counters move by reason for real ballots: 201, 200, 409, 422, 400, 404, 415; the sequencer hook feeds the batch histograms', async () => {
  const before = (await scrape()).exposition;
  const token = testToken(tokenKey, POLL);
  const statuses = [
    (await postBallot(ballotJson(['a'], token))).statusCode, // accepted
    (await postBallot(ballotJson(['a'], token))).statusCode, // the same again: duplicate
    (await postBallot(ballotJson(['b'], token))).statusCode, // another choice, spent token
    (await postBallot(ballotJson(['z']))).statusCode, // no option z
    (await postBallot('{"type":"ballot",')).statusCode, // not JSON
    (await postBallot(ballotJson(['a'], testToken(tokenKey, SECRET.unknownPoll), SECRET.unknownPoll))).statusCode,
    (await postBallot(JSON.stringify(ballotJson(['a'])), { 'content-type': 'text/plain' })).statusCode,
  ];
  assert.deepEqual(statuses, [201, 200, 409, 422, 400, 404, 415]);

  const now = (await scrape()).exposition;
  const moved: Record<string, number> = {};
  for (const outcome of [...Object.values(BALLOT_OUTCOMES), 'other', 'error']) {
    const delta = valueOf(now, BALLOTS, { outcome }) - valueOf(before, BALLOTS, { outcome });
    if (delta !== 0) moved[outcome] = delta;
  }
  assert.deepEqual(moved, { accepted: 1, duplicate: 1, spent: 1, invalid_choice: 1, malformed: 1, unknown_poll: 1, unsupported_media: 1 });

  // Board appends: the manifest (before the test) and the accepted ballot; the duplicate and the
  // double spend went through the sequencer too, appending nothing.
  assert.equal(valueOf(now, `${METRICS_PREFIX}sequencer_appended_total`), 2);
  const batches = valueOf(now, `${METRICS_PREFIX}sequencer_batch_size_count`);
  assert.ok(batches >= 2, `${batches} batches`);
  assert.equal(valueOf(now, `${METRICS_PREFIX}sequencer_commit_seconds_count`), batches);
  assert.equal(valueOf(now, `${METRICS_PREFIX}sequencer_batch_size_bucket`, { le: '1' }), batches, 'one entry per batch when ballots come one at a time');
  assert.ok(valueOf(now, `${METRICS_PREFIX}sequencer_commit_seconds_sum`) > 0);
});

test('the request histogram is labelled by route pattern, method and status; /metrics does not count itself', async () => {
  await app.inject({ method: 'POST', url: `/v1/polls/${POLL}/tokens`, payload: { blinded_msg: SECRET.blindedMsg } });
  await scrape();
  await scrape();
  const { exposition } = await scrape();
  const count = `${DURATION}_count`;
  assert.ok(valueOf(exposition, count, { method: 'POST', route: '/v1/ballots', status: '201' }) >= 1);
  assert.equal(valueOf(exposition, count, { method: 'POST', route: TOKENS_ROUTE, status: '200' }), 1);
  const buckets = exposition.samples.filter((s) => s.name === `${DURATION}_bucket` && s.labels.route === TOKENS_ROUTE);
  assert.deepEqual(buckets.map((s) => s.labels.le), ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2', '+Inf']);
  const routes = new Set(exposition.samples.filter((s) => s.name.startsWith(DURATION)).map((s) => s.labels.route));
  assert.ok(!routes.has('/metrics'), 'a scrape counted itself');
  for (const s of exposition.samples.filter((x) => x.name.startsWith(DURATION))) {
    assert.deepEqual(Object.keys(s.labels).filter((k) => k !== 'le').sort(), ['method', 'route', 'status']);
  }
});

test('token counters: requests by status, issued on 200 only', async () => {
  const before = (await scrape()).exposition;
  for (const id of [POLL, POLL, SECRET.unknownTokenPoll]) {
    await app.inject({ method: 'POST', url: `/v1/polls/${id}/tokens`, payload: { blinded_msg: SECRET.blindedMsg } });
  }
  const now = (await scrape()).exposition;
  const delta = (name: string, labels: Record<string, string> = {}) => valueOf(now, name, labels) - valueOf(before, name, labels);
  assert.equal(delta(`${METRICS_PREFIX}tokens_issued_total`), 2);
  assert.equal(delta(`${METRICS_PREFIX}token_requests_total`, { status: '200' }), 2);
  assert.equal(delta(`${METRICS_PREFIX}token_requests_total`, { status: '404' }), 1);
});

test('nothing a client sent reaches the output: no poll id of a 404, no body, cookie, credential or address', async () => {
  const headers = { cookie: SECRET.cookie, authorization: SECRET.bearer, 'x-forwarded-for': SECRET.forwardedFor };
  const token = testToken(tokenKey, POLL);
  const sent = ballotJson(['b'], token);
  const unrouted = await app.inject({ method: 'GET', url: `/v1/polls/${SECRET.unroutedPoll}/receipt?voter=${SECRET.cookie}`, headers, remoteAddress: SECRET.remoteAddress });
  assert.equal(unrouted.statusCode, 404);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/ballots', headers: { ...headers, 'content-type': 'application/json' }, payload: sent, remoteAddress: SECRET.remoteAddress })).statusCode, 201);
  const unknown = ballotJson(['a'], testToken(tokenKey, SECRET.unknownPoll), SECRET.unknownPoll);
  assert.equal((await postBallot(unknown, headers)).statusCode, 404);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/polls/${SECRET.unknownTokenPoll}/tokens`, headers, payload: { blinded_msg: SECRET.blindedMsg } })).statusCode, 404);

  const { text, exposition } = await scrape();
  assert.ok(valueOf(exposition, `${DURATION}_count`, { method: 'GET', route: NO_ROUTE, status: '404' }) >= 1, 'an unrouted request is labelled (no route)');
  const leaks = [
    ...Object.values(SECRET),
    'cookie-8f1e66c2',
    'account-71d2c0aa',
    sent.token.nonce,
    sent.token.prefix,
    sent.token.sig.slice(0, 24),
    unknown.token.nonce,
    JSON.stringify(sent),
    `/v1/polls/${POLL}`,
  ];
  for (const secret of leaks) assert.ok(!text.includes(secret), `the output contains ${JSON.stringify(secret)}`);
  // Label values come from fixed sets only.
  const allowed: Record<string, (v: string) => boolean> = {
    method: (v) => /^[A-Z]+$/.test(v),
    route: (v) => [NO_ROUTE, '/v1/ballots', TOKENS_ROUTE].includes(v),
    status: (v) => /^[1-5]\d\d$/.test(v),
    outcome: (v) => [...Object.values(BALLOT_OUTCOMES), 'other', 'error'].includes(v),
    le: () => true,
  };
  for (const s of exposition.samples.filter((x) => !x.name.startsWith(`${METRICS_PREFIX}nodejs_`) && !x.name.startsWith(`${METRICS_PREFIX}process_`))) {
    for (const [k, v] of Object.entries(s.labels)) assert.ok(allowed[k]?.(v) === true, `${s.name}: label ${k}="${v}"`);
  }
});

test('/metrics is hidden from the OpenAPI document', () => {
  const paths = Object.keys((app.swagger() as { paths?: Record<string, unknown> }).paths ?? {});
  assert.ok(paths.includes('/v1/ballots'), paths.join(', '));
  assert.ok(!paths.includes('/metrics'), paths.join(', '));
});

test('sequencer lag gauge and bus counters: set by the handle, checked at the door', async () => {
  metrics.setSequencerLag(42);
  metrics.observeBusRecords('blindvote.board-commands', 'produced', 5);
  metrics.observeBusRecords('blindvote.board-commands', 'consumed');
  metrics.observeBusRecords('blindvote.board-entries', 'consumed', 3);
  const { exposition } = await scrape();
  assert.equal(valueOf(exposition, `${METRICS_PREFIX}sequencer_lag_records`), 42);
  const bus = `${METRICS_PREFIX}bus_records_total`;
  assert.equal(valueOf(exposition, bus, { topic: 'blindvote.board-commands', direction: 'produced' }), 5);
  assert.equal(valueOf(exposition, bus, { topic: 'blindvote.board-commands', direction: 'consumed' }), 1);
  assert.equal(valueOf(exposition, bus, { topic: 'blindvote.board-entries', direction: 'consumed' }), 3);

  assert.throws(() => metrics.setSequencerLag(-1), RangeError);
  assert.throws(() => metrics.setSequencerLag(Number.NaN), RangeError);
  assert.throws(() => metrics.observeBusRecords(`blindvote.board-commands/${POLL}`, 'produced'), RangeError);
  assert.throws(() => metrics.observeBusRecords('blindvote.board-commands', 'sideways' as 'produced'), RangeError);
  assert.throws(() => metrics.observeBusRecords('blindvote.board-commands', 'produced', -2), RangeError);
  metrics.setSequencerLag(0);
  assert.equal(valueOf((await scrape()).exposition, `${METRICS_PREFIX}sequencer_lag_records`), 0);
});

test('registered after the component plugins, the hook still sees their routes', async () => {
  const late = metricsPlugin({ defaultMetrics: false });
  const other = Fastify();
  try {
    await other.register(async (child) => {
      child.post('/v1/ballots', async (_request, reply) => reply.code(410).send({}));
    });
    await other.register(late);
    await other.ready();
    await other.inject({ method: 'POST', url: '/v1/ballots', payload: {} });
    const exposition = parseExposition((await other.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(valueOf(exposition, BALLOTS, { outcome: 'closed' }), 1);
    assert.equal(valueOf(exposition, `${DURATION}_count`, { method: 'POST', route: '/v1/ballots', status: '410' }), 1);
  } finally {
    await other.close();
  }
});
