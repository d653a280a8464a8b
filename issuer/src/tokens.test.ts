import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Poll, TokenClient, TokenVerifier, fromBase64, toBase64 } from '@blindvote/crypto';
import { CLOSES_AT, harness, pollBody, randomBlindedMsg } from './testing/harness.ts';

test('tokens: blind → issue → finalize gives a token that verifies under the manifest key; a retry gets the same signature', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice', 'bob']);
  const id = manifest.poll_id;
  const spki = Poll.fromJSON(manifest).token_key.spki;
  const client = await TokenClient.create(spki, id);
  const alice = await h.voter('alice');

  // Early issuance: the poll has not opened yet (a wider anonymity set).
  assert.equal((await h.call('GET', `/v1/polls/${id}`)).json().state, 'upcoming');
  const state = await client.blind();
  const res = await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(state.blindedMsg) });
  assert.equal(res.statusCode, 200, res.body);
  const blindSig = fromBase64(res.json().blind_sig, 'blind_sig');
  const token = await client.finalize(state, blindSig);
  assert.equal(await (await TokenVerifier.create(spki)).verify(id, token), true);

  const retry = await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(state.blindedMsg) });
  assert.deepEqual([retry.statusCode, retry.json()], [200, res.json()]);

  const other = await client.blind();
  const conflict = await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(other.blindedMsg) });
  assert.equal(conflict.statusCode, 409);
  assert.deepEqual(conflict.json(), {
    statusCode: 409,
    code: 'BV_TOKEN_CONFLICT',
    error: 'Conflict',
    message: 'a token was already issued for a different blinded message; reuse the blinding state you saved',
  });
  const detail = (await h.call('GET', `/v1/polls/${id}`, alice)).json();
  assert.deepEqual([detail.eligible, detail.token_issued], [true, true]);
  assert.deepEqual((await h.call('GET', `/v1/polls/${id}/stats`, await h.admin())).json(), { roll_size: 2, issued: 1 });
});

test('tokens: only for signed-in voters on the roll of a published poll; refusals record nothing', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice']);
  const id = manifest.poll_id;
  const [alice, bob] = [await h.voter('alice'), await h.voter('bob')];
  const body = { blinded_msg: randomBlindedMsg(manifest) };

  assert.equal((await h.call('POST', `/v1/polls/${id}/tokens`, null, body)).statusCode, 401);
  const notOnRoll = await h.call('POST', `/v1/polls/${id}/tokens`, bob, body);
  assert.deepEqual([notOnRoll.statusCode, notOnRoll.json().message], [403, `account "bob" is not on the roll of poll "${id}"`]);
  assert.equal((await h.call('POST', '/v1/polls/nope/tokens', alice, body)).statusCode, 404);

  const admin = await h.admin();
  assert.equal((await h.call('POST', '/v1/polls', admin, pollBody('draft'))).statusCode, 201);
  const draft = await h.call('POST', '/v1/polls/draft/tokens', admin, body);
  assert.deepEqual([draft.statusCode, draft.json().code], [409, 'BV_POLL_NOT_PUBLISHED']);

  const bytes = fromBase64(body.blinded_msg, 'b');
  const cases: [string, RegExp][] = [
    [toBase64(bytes.subarray(1)), /^blinded_msg: expected 256 bytes, got 255$/],
    [toBase64(new Uint8Array(257)), /got 257/],
    [toBase64(new Uint8Array(256).fill(0xff)), /^blinded_msg: not less than the modulus n/],
    ['not base64!', /^blinded_msg: not standard padded base64$/],
  ];
  for (const [blinded_msg, message] of cases) {
    const res = await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg });
    assert.deepEqual([res.statusCode, res.json().code], [400, 'BV_BLINDED_MSG_INVALID'], blinded_msg.slice(0, 10));
    assert.match(res.json().message, message);
  }
  assert.equal((await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: 5 })).statusCode, 400);
  assert.equal(await h.store.issuedCount(id), 0);
  assert.equal((await h.call('POST', `/v1/polls/${id}/tokens`, alice, body)).statusCode, 200, 'nothing was recorded before');
});

test('tokens: 410 once closes_at has passed, before the scheduler has run', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice']);
  h.clock.set(CLOSES_AT);
  const res = await h.call('POST', `/v1/polls/${manifest.poll_id}/tokens`, await h.voter('alice'), { blinded_msg: randomBlindedMsg(manifest) });
  assert.deepEqual([res.statusCode, res.json().code], [410, 'BV_POLL_CLOSED']);
  assert.equal(await h.store.issuedCount(manifest.poll_id), 0);
});

test('tokens: 200 concurrent requests of one voter, two blinded messages: one row, one signature, the rest 409', async () => {
  const h = await harness();
  const manifest = await h.publishedPoll(['alice', 'bob']);
  const id = manifest.poll_id;
  const alice = await h.voter('alice');
  const messages = [randomBlindedMsg(manifest), randomBlindedMsg(manifest)];
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: messages[i % 2]! }).then((r) => ({ i, r }))),
  );
  const ok = replies.filter(({ r }) => r.statusCode === 200);
  const conflicts = replies.filter(({ r }) => r.statusCode === 409);
  assert.equal(ok.length + conflicts.length, 200);
  assert.equal(ok.length, 100, 'every request with the winning message');
  const winner = ok[0]!.i % 2;
  assert.ok(ok.every(({ i }) => i % 2 === winner));
  assert.equal(new Set(ok.map(({ r }) => r.json().blind_sig)).size, 1, 'one signature');
  assert.ok(conflicts.every(({ r }) => r.json().code === 'BV_TOKEN_CONFLICT'));
  assert.equal(await h.store.issuedCount(id), 1);
});
