import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POLL_ID_PATTERN } from '@blindvote/crypto';
import { CLOSES_AT, harness, OPENS_AT, pollBody } from './testing/harness.ts';

test('polls: writes are for admins (401 without a token, 403 for voters); a draft gets defaults', async () => {
  const h = await harness();
  const [admin, voter] = [await h.admin(), await h.voter('alice')];
  assert.equal((await h.call('POST', '/v1/polls', null, pollBody('p1'))).statusCode, 401);
  const forbidden = await h.call('POST', '/v1/polls', voter, pollBody('p1'));
  assert.deepEqual([forbidden.statusCode, forbidden.json().code], [403, 'BV_ADMIN_ONLY']);
  assert.equal(await h.store.poll('p1'), null);

  const created = await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  assert.equal(created.statusCode, 201, created.body);
  assert.deepEqual(created.json(), {
    poll_id: 'p1', title: 'Park or library', state: 'draft', opens_at: OPENS_AT, closes_at: CLOSES_AT, results: 'live', board: null,
    description: 'Where should the money go?', options: pollBody().options, kind: 'single', max_choices: 1,
  });
  const multi = await h.call('POST', '/v1/polls', admin, { ...pollBody(), kind: 'multi', description: undefined });
  assert.equal(multi.statusCode, 201);
  assert.match(multi.json().poll_id, POLL_ID_PATTERN);
  assert.deepEqual([multi.json().max_choices, multi.json().description], [2, '']);
  const again = await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  assert.deepEqual([again.statusCode, again.json().code], [409, 'BV_POLL_EXISTS']);

  for (const path of ['/v1/polls/p1', '/v1/polls/p1/publish', '/v1/polls/p1/close', '/v1/polls/p1/roll', '/v1/polls/p1/stats']) {
    const method = path === '/v1/polls/p1' ? 'PATCH' : path.endsWith('stats') ? 'GET' : path.endsWith('roll') ? 'PUT' : 'POST';
    const payload = method === 'PATCH' ? { title: 'x' } : method === 'PUT' ? { voters: ['alice'] } : undefined;
    assert.equal((await h.call(method, path, null, payload)).statusCode, 401, `${method} ${path}`);
    assert.equal((await h.call(method, path, voter, payload)).statusCode, 403, `${method} ${path}`);
  }
  assert.equal((await h.call('DELETE', '/v1/polls/p1', voter)).statusCode, 403);
  assert.equal((await h.store.poll('p1'))?.roll, null);
  // Who may call is settled before the body is looked at: an invalid body is still 401/403.
  assert.equal((await h.call('POST', '/v1/polls', voter, {})).statusCode, 403);
  assert.equal((await h.call('POST', '/v1/polls', null, {})).statusCode, 401);
  assert.equal((await h.call('PUT', '/v1/polls/p1/roll', voter, { nonsense: true })).statusCode, 403);
});

test("polls: a draft is checked by crypto's Poll rules; the message names the field", async () => {
  const h = await harness();
  const admin = await h.admin();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ options: [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }] }, /^options\[1\]\.id: duplicate option id "a"$/],
    [{ options: [{ id: 'a', label: 'A' }] }, /options/],
    [{ options: [{ id: 'A', label: 'A' }, { id: 'b', label: 'B' }] }, /options\/0\/id/],
    [{ closes_at: OPENS_AT }, /^closes_at: must be after opens_at$/],
    [{ opens_at: '2026-03-01T08:00:00.5Z' }, /^opens_at: .* is not an RFC 3339 UTC time/],
    [{ opens_at: '2026-02-30T08:00:00Z' }, /^opens_at: .* is not a valid date/],
    [{ max_choices: 2 }, /^max_choices: must be 1 for a single-choice ballot/],
    [{ kind: 'multi', max_choices: 3 }, /^max_choices: must be 1\.\.2/],
    [{ title: '' }, /^title: must not be empty$/],
    [{ title: 'a\u0007b' }, /^title: control character/],
    [{ kind: 'ranked' }, /kind/],
    [{ poll_id: 'Bad_Id' }, /poll_id/],
    [{ surprise: true }, /^body\/surprise .*must not have additional properties$/],
    [{ max_choices: '1' }, /^body\/max_choices must be integer$/],
  ];
  for (const [change, message] of cases) {
    const res = await h.call('POST', '/v1/polls', admin, { ...pollBody('p1'), ...change });
    assert.equal(res.statusCode, 400, JSON.stringify(change));
    assert.match(res.json().message, message, JSON.stringify(change));
  }
  assert.deepEqual(await h.store.polls(), []);
});

test('polls: drafts are invisible to non-admins; admins list them as drafts', async () => {
  const h = await harness();
  const [admin, voter] = [await h.admin(), await h.voter('alice')];
  await h.call('POST', '/v1/polls', admin, pollBody('draft'));
  await h.publishedPoll(['alice']);
  for (const token of [null, voter]) {
    assert.equal((await h.call('GET', '/v1/polls/draft', token)).statusCode, 404);
    assert.deepEqual((await h.call('GET', '/v1/polls', token)).json().polls.map((p: { poll_id: string }) => p.poll_id), ['poll-1']);
    assert.equal((await h.call('POST', '/v1/polls/draft/tokens', voter, { blinded_msg: 'AAAA' })).statusCode, 404);
  }
  const listed = (await h.call('GET', '/v1/polls', admin)).json().polls;
  assert.deepEqual(listed.map((p: { poll_id: string; state: string; board: string | null }) => [p.poll_id, p.state, p.board]), [
    ['draft', 'draft', null],
    ['poll-1', 'upcoming', 'https://board.test/poll/poll-1'],
  ]);
  assert.equal((await h.call('GET', '/v1/polls/draft', admin)).json().state, 'draft');
  assert.equal((await h.call('GET', '/v1/polls/nope', admin)).statusCode, 404);
});

test('polls: PATCH and DELETE change drafts only; a refused change changes nothing', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, { ...pollBody('p1'), kind: 'multi', max_choices: 1 });
  const patched = await h.call('PATCH', '/v1/polls/p1', admin, { title: 'New title', description: '' });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.deepEqual([patched.json().title, patched.json().description, patched.json().max_choices], ['New title', '', 1]);
  const options = [...pollBody().options as object[], { id: 'pool', label: 'A pool' }];
  const reset = await h.call('PATCH', '/v1/polls/p1', admin, { options });
  assert.equal(reset.json().max_choices, 3, 'new options without max_choices: the default again');

  const bad = await h.call('PATCH', '/v1/polls/p1', admin, { closes_at: '2026-03-01T07:00:00Z' });
  assert.deepEqual([bad.statusCode, bad.json().message], [400, 'closes_at: must be after opens_at']);
  assert.equal((await h.call('PATCH', '/v1/polls/p1', admin, {})).statusCode, 400);
  assert.equal((await h.store.poll('p1'))?.draft.closes_at, CLOSES_AT);
  assert.equal((await h.call('PATCH', '/v1/polls/nope', admin, { title: 'x' })).statusCode, 404);

  const published = await h.publishedPoll(['alice']);
  for (const [method, payload] of [['PATCH', { title: 'Too late' }], ['DELETE', undefined]] as const) {
    const res = await h.call(method, `/v1/polls/${published.poll_id}`, admin, payload);
    assert.equal(res.statusCode, 409);
    assert.match(res.json().message, /is published; only drafts/);
  }
  assert.equal((await h.store.poll(published.poll_id))?.draft.title, 'Park or library');

  assert.equal((await h.call('DELETE', '/v1/polls/p1', admin)).statusCode, 204);
  assert.equal((await h.call('DELETE', '/v1/polls/p1', admin)).statusCode, 404);
  assert.equal(await h.store.poll('p1'), null);
});

test('polls: public state follows the clock; detail shows the manifest and, to a voter, eligibility', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice']);
  const id = manifest.poll_id;
  const state = async () => (await h.call('GET', '/v1/polls')).json().polls[0].state;
  assert.equal(await state(), 'upcoming');
  h.clock.set(OPENS_AT);
  assert.equal(await state(), 'open');
  const [alice, bob] = [await h.voter('alice'), await h.voter('bob')];
  const anonymous = (await h.call('GET', `/v1/polls/${id}`)).json();
  assert.deepEqual(anonymous.manifest, manifest);
  assert.equal(anonymous.board, `https://board.test/poll/${id}`);
  assert.ok(!('eligible' in anonymous));
  assert.deepEqual(
    [(await h.call('GET', `/v1/polls/${id}`, alice)).json().eligible, (await h.call('GET', `/v1/polls/${id}`, alice)).json().token_issued],
    [true, false],
  );
  assert.equal((await h.call('GET', `/v1/polls/${id}`, bob)).json().eligible, false);
  h.clock.set(CLOSES_AT);
  assert.equal(await state(), 'closed');
});

test('polls: stats give the roll size and tokens issued', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  assert.deepEqual((await h.call('GET', '/v1/polls/p1/stats', admin)).json(), { roll_size: 0, issued: 0 });
  await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice', 'bob', 'alice'] });
  assert.deepEqual((await h.call('GET', '/v1/polls/p1/stats', admin)).json(), { roll_size: 2, issued: 0 });
  assert.equal((await h.call('GET', '/v1/polls/nope/stats', admin)).statusCode, 404);
});
