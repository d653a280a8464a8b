import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { Poll, parseTokenKeySpki } from '@blindvote/crypto';
import { issuer } from './plugin.ts';
import { CLOSES_AT, harness, OPENS_AT, pollBody, randomBlindedMsg } from './testing/harness.ts';

test('publish: a manifest Poll.deserialize accepts, with a fresh 2048-bit key, the board key and the roll; the board got those bytes', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  const rolled = (await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice', 'bob'] })).json();
  const res = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.equal(res.statusCode, 200, res.body);

  const received = h.board.manifests.get('p1')!;
  const manifest = Poll.deserialize(received);
  assert.deepEqual(res.json(), manifest.toJSON());
  assert.equal(manifest.board_key, h.board.verifierKey);
  assert.equal(parseTokenKeySpki(manifest.token_key.spki).modulusBits, 2048);
  assert.deepEqual(res.json().roll, { size: 2, commitment: rolled.commitment });
  assert.deepEqual([manifest.opens_at, manifest.closes_at, manifest.ballot.kind, manifest.ballot.max_choices], [OPENS_AT, CLOSES_AT, 'single', 1]);
  assert.equal((await h.store.poll('p1'))?.state, 'published');
  assert.deepEqual((await h.call('GET', '/v1/polls/p1')).json().manifest, res.json());

  const again = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.deepEqual([again.statusCode, again.json()], [200, res.json()]);
  assert.deepEqual(h.board.calls, ['publish p1']);
});

test('publish: needs a non-empty roll and closes_at in the future; a refusal changes nothing', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  const noRoll = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.deepEqual([noRoll.statusCode, noRoll.json().code], [409, 'BV_POLL_NOT_PUBLISHABLE']);
  assert.match(noRoll.json().message, /roll is empty/);
  await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: [] });
  assert.match((await h.call('POST', '/v1/polls/p1/publish', admin)).json().message, /roll is empty/);
  await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice'] });
  h.clock.set(CLOSES_AT);
  const admin2 = await h.admin();
  const late = await h.call('POST', '/v1/polls/p1/publish', admin2);
  assert.equal(late.statusCode, 409);
  assert.match(late.json().message, /closes_at 2026-03-01T18:00:00Z has passed/);
  assert.equal((await h.call('PATCH', '/v1/polls/p1', admin2, { closes_at: '2026-03-02T18:00:00Z' })).statusCode, 200);
  assert.equal(await h.store.tokenKey('p1'), null);
  assert.deepEqual(h.board.calls, []);
  assert.equal((await h.call('POST', '/v1/polls/p1/publish', admin2)).statusCode, 200);
  assert.equal((await h.call('POST', '/v1/polls/nope/publish', admin2)).statusCode, 404);
});

test('publish: when the board fails, the poll stays frozen as stored and a retry publishes the same bytes', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice'] });
  h.board.failNext = 'publish';
  const failed = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.deepEqual([failed.statusCode, failed.json().code], [502, 'BV_BOARD_FAILED']);
  const stored = (await h.store.poll('p1'))!;
  assert.deepEqual([stored.state, stored.manifest !== null], ['draft', true]);

  for (const [method, url, payload] of [
    ['PATCH', '/v1/polls/p1', { title: 'Changed' }],
    ['PUT', '/v1/polls/p1/roll', { voters: ['mallory'] }],
    ['DELETE', '/v1/polls/p1', undefined],
  ] as const) {
    const res = await h.call(method, url, admin, payload);
    assert.equal(res.statusCode, 409, `${method} ${url}`);
    assert.match(res.json().message, /being published/);
  }
  assert.equal((await h.call('GET', '/v1/polls')).json().polls.length, 0, 'not public until the board has it');

  const retried = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.equal(retried.statusCode, 200);
  assert.deepEqual(h.board.manifests.get('p1'), stored.manifest);
  assert.deepEqual(h.board.calls, ['publish p1', 'publish p1']);
  assert.equal((await h.store.poll('p1'))?.state, 'published');
});

test('publish: tokenKeyBits sets the modulus of new poll keys', async () => {
  const h = await harness({ tokenKeyBits: 3072 });
  const manifest = await h.publishedPoll(['alice']);
  assert.equal(parseTokenKeySpki(Poll.fromJSON(manifest).token_key.spki).modulusBits, 3072);
});

test('close: an early close freezes issuance and sends the issued count; it is idempotent; not before opening, not a draft', async () => {
  const h = await harness();
  const voters = ['alice', 'bob', 'carol'];
  const manifest = await h.publishedPoll(voters);
  const id = manifest.poll_id;
  const admin = await h.admin();
  const early = await h.call('POST', `/v1/polls/${id}/close`, admin);
  assert.deepEqual([early.statusCode, early.json().code], [409, 'BV_POLL_NOT_OPEN_YET']);
  await h.call('POST', '/v1/polls', admin, pollBody('draft'));
  assert.equal((await h.call('POST', '/v1/polls/draft/close', admin)).statusCode, 409);

  for (const voter of ['alice', 'bob']) {
    const res = await h.call('POST', `/v1/polls/${id}/tokens`, await h.voter(voter), { blinded_msg: randomBlindedMsg(manifest) });
    assert.equal(res.statusCode, 200, res.body);
  }
  h.clock.set('2026-03-01T09:30:00Z');
  const admin2 = await h.admin();
  const closed = await h.call('POST', `/v1/polls/${id}/close`, admin2);
  assert.equal(closed.statusCode, 200, closed.body);
  assert.deepEqual(closed.json(), { poll_id: id, closed_at: '2026-03-01T09:30:00Z', issued: 2 });
  assert.deepEqual(h.board.closes.map((c) => c.toJSON()), [
    { type: 'close', v: 1, poll_id: id, closed_at: '2026-03-01T09:30:00Z', ballots: 0, issued: 2 },
  ]);
  assert.equal((await h.store.poll(id))?.state, 'closed');
  assert.equal((await h.call('GET', `/v1/polls/${id}`)).json().state, 'closed');

  h.clock.advance(60);
  const again = await h.call('POST', `/v1/polls/${id}/close`, admin2);
  assert.deepEqual(again.json(), closed.json());
  const token = await h.call('POST', `/v1/polls/${id}/tokens`, await h.voter('carol'), { blinded_msg: randomBlindedMsg(manifest) });
  assert.deepEqual([token.statusCode, token.json().code], [410, 'BV_POLL_CLOSED']);
  assert.match(token.json().message, /closed at 2026-03-01T09:30:00Z/);
});

test('close: when the board fails, issuance stays frozen and a retry sends the same count and time', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice', 'bob']);
  const id = manifest.poll_id;
  h.clock.set('2026-03-01T10:00:00Z');
  const alice = await h.voter('alice');
  assert.equal((await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: randomBlindedMsg(manifest) })).statusCode, 200);
  h.board.failNext = 'close';
  const admin = await h.admin();
  assert.equal((await h.call('POST', `/v1/polls/${id}/close`, admin)).statusCode, 502);
  const bob = await h.voter('bob');
  assert.equal((await h.call('POST', `/v1/polls/${id}/tokens`, bob, { blinded_msg: randomBlindedMsg(manifest) })).statusCode, 410);
  assert.equal((await h.call('GET', '/v1/polls')).json().polls[0].state, 'closed');

  h.clock.advance(120);
  const retried = await h.call('POST', `/v1/polls/${id}/close`, admin);
  assert.deepEqual(retried.json(), { poll_id: id, closed_at: '2026-03-01T10:00:00Z', issued: 1 });
  assert.deepEqual(h.board.closes.map((c) => [c.closed_at, c.issued]), [['2026-03-01T10:00:00Z', 1]]);
});

test('scheduler: closes every poll past closes_at with its issued count, and retries a failed close next tick', async () => {
  const h = await harness({ scheduler: { intervalMs: 10 } });
  const first = await h.publishedPoll(['alice', 'bob']);
  const second = await h.publishedPoll(['alice'], { closes_at: '2026-03-01T20:00:00Z' });
  h.clock.set(OPENS_AT);
  const alice = await h.voter('alice');
  for (const m of [first, second]) {
    assert.equal((await h.call('POST', `/v1/polls/${m.poll_id}/tokens`, alice, { blinded_msg: randomBlindedMsg(m) })).statusCode, 200);
  }
  await sleep(50);
  assert.equal(h.board.closes.length, 0, 'nothing is due yet');

  h.board.failNext = 'close';
  h.clock.set('2026-03-01T18:00:05Z');
  const deadline = Date.now() + 5000;
  while (h.board.closes.length === 0 && Date.now() < deadline) await sleep(10);
  assert.deepEqual(h.board.closes.map((c) => [c.poll_id, c.issued, c.closed_at]), [[first.poll_id, 1, '2026-03-01T18:00:05Z']]);
  assert.deepEqual(h.board.calls.filter((c) => c.startsWith('close')), [`close ${first.poll_id}`, `close ${first.poll_id}`], 'failed once, retried');
  assert.equal((await h.store.poll(first.poll_id))?.state, 'closed');
  assert.equal((await h.store.poll(second.poll_id))?.state, 'published');
});

test('scheduler: a process started after closes_at closes the poll at its first tick', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice']);
  h.clock.set(OPENS_AT);
  assert.equal((await h.call('POST', `/v1/polls/${manifest.poll_id}/tokens`, await h.voter('alice'), { blinded_msg: randomBlindedMsg(manifest) })).statusCode, 200);
  h.clock.set('2026-03-02T00:00:00Z');

  // Another process on the same database (the first had no scheduler: as good as down).
  const app = Fastify({ logger: false });
  await app.register(issuer, { store: h.store, board: h.board, now: h.clock.now, rateLimit: false, scheduler: { intervalMs: 3_600_000 } });
  await app.ready();
  try {
    const deadline = Date.now() + 5000;
    while (h.board.closes.length === 0 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(h.board.closes.map((c) => [c.poll_id, c.issued, c.closed_at]), [[manifest.poll_id, 1, '2026-03-02T00:00:00Z']]);
  } finally {
    await app.close();
  }
});

test('scheduler with a grace: a poll is closed only graceMs after closes_at (the distributed ballot boxes\' send deadline)', async () => {
  const h = await harness({ scheduler: { intervalMs: 10, graceMs: 15_000 } });
  const manifest = await h.publishedPoll(['alice']);
  h.clock.set('2026-03-01T18:00:10Z'); // closes_at + 10 s: inside the grace
  await sleep(60);
  assert.equal(h.board.closes.length, 0, 'not closed within the grace');
  h.clock.set('2026-03-01T18:00:16Z');
  const deadline = Date.now() + 5000;
  while (h.board.closes.length === 0 && Date.now() < deadline) await sleep(10);
  assert.deepEqual(h.board.closes.map((c) => [c.poll_id, c.closed_at]), [[manifest.poll_id, '2026-03-01T18:00:16Z']]);
});
