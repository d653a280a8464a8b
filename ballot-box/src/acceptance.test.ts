/**
 * The distributed mode's 202: a ballot the sink holds durably but has not put on the board within
 * the wait gets a signed acceptance (crypto/src/acceptance.ts), which the voter exchanges for the
 * receipt by leaf hash once the board has it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Acceptance, NoteSigner, Receipt, generateSignerKey, leafHash, receiptValid, toBase64, verifyReceipt } from '@blindvote/crypto';
import fastify from 'fastify';
import { ballotBox } from './plugin.ts';
import { fixture, testPolls } from './testing/app.ts';
import { FakeSink } from './testing/fake-sink.ts';
import { MemoryPollDirectory, newBoardSigner, testPoll } from './testing/polls.ts';
import type { Fixture } from './testing/app.ts';
import { DURING } from './testing/polls.ts';

const keys = generateSignerKey('vote.example/acceptance');
const polls = await testPolls();
let f: Fixture;
before(async () => {
  f = await fixture(polls, { acceptance: { signer: new NoteSigner(keys.signerKey), maxMergeDelaySeconds: 60 } });
  f.sink.pending = true;
});
after(() => f.app.close());

const get = (url: string) => f.app.inject({ method: 'GET', url });

test('202: a signed acceptance of exactly this ballot, then the receipt by leaf hash', async () => {
  const ballot = f.alpha.ballot(['b']);
  const res = await f.post(ballot.toJSON());
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.ok(Number(res.headers['retry-after']) >= 1);
  const body = JSON.parse(res.body);
  const hash = leafHash(ballot.serialize());
  const accepted = Acceptance.open(body.acceptance, keys.verifierKey);
  assert.deepEqual([accepted.poll_id, toBase64(accepted.leaf_hash), accepted.accepted_at, accepted.max_merge_delay], ['alpha', toBase64(hash), new Date(DURING).toISOString().replace(/\.\d+Z$/, 'Z'), 60]);
  assert.equal(body.leaf_hash, toBase64(hash));
  assert.equal(body.receipt, `/v1/ballots/alpha/receipt/${Buffer.from(hash).toString('hex')}`);

  const exchanged = await get(body.receipt);
  assert.equal(exchanged.statusCode, 200, exchanged.body);
  const receipt = Receipt.parse(exchanged.body);
  assert.ok(receiptValid(await verifyReceipt(receipt, f.alpha.poll)));
  assert.deepEqual(receipt.ballot.serialize(), ballot.serialize());
});

test('the exchange: 404 with Retry-After until the leaf is on the board; 400 for a malformed hash; 404 for an unknown poll', async () => {
  const missing = await get(`/v1/ballots/alpha/receipt/${'ab'.repeat(32)}`);
  assert.equal(missing.statusCode, 404);
  assert.equal(JSON.parse(missing.body).code, 'BV_RECEIPT_NOT_YET');
  assert.equal(missing.headers['retry-after'], '2');
  // The manifest's leaf is on the board but is no ballot.
  const manifest = await get(`/v1/ballots/alpha/receipt/${Buffer.from(leafHash(f.alpha.poll.serialize())).toString('hex')}`);
  assert.equal(manifest.statusCode, 404);
  const bad = await get('/v1/ballots/alpha/receipt/ABCD');
  assert.equal(bad.statusCode, 400);
  assert.match(JSON.parse(bad.body).message, /leafHash/);
  const unknown = await get(`/v1/ballots/nope/receipt/${'ab'.repeat(32)}`);
  assert.equal(unknown.statusCode, 404);
  assert.equal(JSON.parse(unknown.body).code, 'BV_POLL_NOT_FOUND');
});

test('a sink that answers pending without an acceptance signer is an internal error, not a bare 202', async () => {
  const g = await fixture(polls);
  g.sink.pending = true;
  try {
    const res = await g.post(g.alpha.ballot(['a']).toJSON());
    assert.equal(res.statusCode, 500);
  } finally {
    await g.app.close();
  }
});

test('a sealed poll serves no ballot by leaf hash before its close (leaf hashes are public); after the close it does', async () => {
  const signer = newBoardSigner();
  const sealed = await testPoll('sealed', signer, 'single', 'sealed');
  const directory = new MemoryPollDirectory([sealed.open]);
  const sink = new FakeSink(signer, [sealed.open]);
  const app = fastify();
  await app.register(ballotBox, { polls: directory, sink, now: () => DURING });
  try {
    const ballot = sealed.ballot(['a']);
    assert.equal((await sink.submit(ballot)).status, 'appended');
    const url = `/v1/ballots/sealed/receipt/${Buffer.from(leafHash(ballot.serialize())).toString('hex')}`;
    const hidden = await app.inject({ method: 'GET', url });
    assert.equal(hidden.statusCode, 403);
    assert.equal(hidden.json().code, 'BV_RECEIPT_SEALED');
    assert.match(hidden.json().message, /POST your identical ballot/);
    assert.doesNotMatch(hidden.body, /"choice"/);
    directory.close('sealed');
    assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200);
  } finally {
    await app.close();
  }
});
