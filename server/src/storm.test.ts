/**
 * Double-spend storms against `blindvote serve` (DESIGN.md promises 1 and 2), over HTTP with as
 * many sockets as requests in flight:
 *   - 1,000 concurrent submissions of ONE token, as four different ballots (choices) sent 250
 *     times each, byte-identical: exactly one entry lands; every copy of the winning ballot gets
 *     its receipt (one 201, the rest 200, same leaf); every other ballot 409 naming that leaf.
 *   - 1,000 concurrent token requests of one voter, four real blinded messages sent 200 times each
 *     and 200 other valid blinded messages once: one message is signed, every copy of it gets the
 *     same blind signature, every other request 409, and the issuer counts one token.
 *   - a token of poll A is refused by poll B (403).
 * Rate limits are off: they would answer part of the storm with 429 before the constraints are reached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Ballot, TokenClient, TokenVerifier, fromBase64, toBase64, parseEntry } from '@blindvote/crypto';
import { blindSign } from '@blindvote/crypto/issuer';
import { testToken } from '@blindvote/crypto/testing';
import { Api } from './client.ts';
import { AllInOne } from './testing/deployment.ts';
import { publishTestPoll, pollTokenKey, readBoard, registerVoters } from './testing/polls.ts';

const STORM = 1000;

interface Answer {
  readonly sent: number;
  readonly status: number;
  readonly json: any;
}

/** Sends every body at once, each on its own request; resolves with the answers in sending order. */
async function storm(url: string, bodies: readonly string[], headers: Record<string, string> = {}): Promise<Answer[]> {
  return Promise.all(
    bodies.map(async (body, sent) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      return { sent, status: response.status, json: await response.json() };
    }),
  );
}

const tally = (answers: readonly Answer[]) => answers.reduce<Record<number, number>>((t, a) => ({ ...t, [a.status]: (t[a.status] ?? 0) + 1 }), {});

test('double-spend storms: one entry per token, one signature per voter, tokens bound to their poll', { timeout: 120_000 }, async (t) => {
  const d = await AllInOne.start({ env: { BLINDVOTE_RATE_LIMITS: 'false' } });
  t.after(() => d.stop());
  const api = new Api(d.url);
  const admin = await api.login(d.adminUsername, d.adminPassword);
  const [voter] = await registerVoters(api, 'storm', 1);
  const suffix = Math.random().toString(36).slice(2, 8);
  const a = await publishTestPoll(api, admin, `storm-a-${suffix}`, [voter!.account]);
  const b = await publishTestPoll(api, admin, `storm-b-${suffix}`, [voter!.account]);
  const keyA = pollTokenKey(d.dataDir, a.pollId);

  await t.test(`${STORM} concurrent submissions of one token → one entry, the original receipt to copies, 409 to the rest`, async () => {
    const token = testToken(keyA, a.pollId);
    const variants = [['bikes'], ['library'], ['park'], ['bikes', 'park']].map((choice) => new Ballot({ poll_id: a.pollId, token, choice }));
    const bodies = Array.from({ length: STORM }, (_, i) => JSON.stringify(variants[i % variants.length]!.toJSON()));
    const answers = await storm(`${d.url}/v1/ballots`, bodies);

    const counts = tally(answers);
    assert.deepEqual(Object.keys(counts).sort(), ['200', '201', '409'], JSON.stringify(counts));
    const created = answers.filter((x) => x.status === 201);
    assert.equal(created.length, 1, 'exactly one submission is appended');
    const winner = created[0]!.sent % variants.length;
    const receipt = created[0]!.json;
    for (const x of answers) {
      if (x.sent % variants.length === winner) {
        assert.ok(x.status === 201 || x.status === 200, `copy ${x.sent} of the winning ballot: ${x.status} ${JSON.stringify(x.json)}`);
        assert.equal(x.json.leaf_index, receipt.leaf_index);
        assert.equal(x.json.leaf_hash, receipt.leaf_hash);
        assert.deepEqual(x.json.ballot, variants[winner]!.toJSON());
      } else {
        assert.equal(x.status, 409, `submission ${x.sent}, another ballot with the spent token: ${JSON.stringify(x.json)}`);
        assert.equal(x.json.code, 'BV_TOKEN_SPENT');
        assert.match(x.json.message, new RegExp(`\\b${receipt.leaf_index}\\b`));
      }
    }
    assert.equal(counts[200], STORM / variants.length - 1);
    assert.equal(counts[409], STORM - STORM / variants.length);

    const entries = await readBoard(a.board);
    assert.equal(entries.length, 2, 'the manifest and one ballot');
    assert.deepEqual(parseEntry(entries[1]!).toJSON(), variants[winner]!.toJSON());
    t.diagnostic(`ballot storm: ${JSON.stringify(counts)}; winner: choice ${JSON.stringify(variants[winner]!.choice)}`);
  });

  await t.test(`${STORM} concurrent token requests of one voter → one signature, the same to every copy, 409 to the rest`, async () => {
    const client = await TokenClient.create(a.poll.token_key.spki, a.pollId);
    const blindings = [await client.blind(), await client.blind(), await client.blind(), await client.blind()];
    const modulusBytes = blindings[0]!.blindedMsg.length;
    // Other valid inputs to RSASP1: random values below the modulus (its top byte is ≥ 0x80).
    const others = Array.from({ length: STORM / 5 }, () => {
      const msg = new Uint8Array(randomBytes(modulusBytes));
      msg[0]! &= 0x7f;
      return msg;
    });
    const messages = [...Array.from({ length: STORM - others.length }, (_, i) => blindings[i % blindings.length]!.blindedMsg), ...others];
    const answers = await storm(
      `${d.url}/v1/polls/${a.pollId}/tokens`,
      messages.map((m) => JSON.stringify({ blinded_msg: toBase64(m) })),
      { authorization: `Bearer ${voter!.session}` },
    );

    const counts = tally(answers);
    assert.deepEqual(Object.keys(counts).sort(), ['200', '409'], JSON.stringify(counts));
    const signed = answers.filter((x) => x.status === 200);
    const winner = messages[signed[0]!.sent]!;
    const expected = toBase64(blindSign(keyA, winner));
    for (const x of answers) {
      const same = toBase64(messages[x.sent]!) === toBase64(winner);
      assert.equal(x.status, same ? 200 : 409, `request ${x.sent}: ${JSON.stringify(x.json)}`);
      if (same) assert.equal(x.json.blind_sig, expected, 'every copy gets the one signature');
      else assert.equal(x.json.code, 'BV_TOKEN_CONFLICT');
    }
    const stats = await api.call('GET', `/v1/polls/${a.pollId}/stats`, { token: admin });
    assert.equal(stats.issued, 1);

    const blinding = blindings.find((s) => toBase64(s.blindedMsg) === toBase64(winner));
    if (blinding !== undefined) {
      const token = await client.finalize(blinding, fromBase64(expected, 'blind_sig'));
      assert.equal(await (await TokenVerifier.fromPoll(a.poll)).verify(a.pollId, token), true);
    }
    t.diagnostic(`token storm: ${JSON.stringify(counts)}; ${signed.length} answers carry the one signature`);
  });

  await t.test("a token of poll A is refused by poll B (403) and B's board stays at its manifest", async () => {
    const token = testToken(keyA, a.pollId);
    const reply = await fetch(`${d.url}/v1/ballots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(new Ballot({ poll_id: b.pollId, token, choice: ['park'] }).toJSON()),
    });
    const body = (await reply.json()) as { code: string; message: string };
    assert.equal(reply.status, 403, JSON.stringify(body));
    assert.equal(body.code, 'BV_TOKEN_INVALID');
    assert.equal((await readBoard(b.board)).length, 1);
    // The same token is good on its own poll: the refusal is about the poll, not the token.
    const own = await api.call('POST', '/v1/ballots', { body: new Ballot({ poll_id: a.pollId, token, choice: ['park'] }).toJSON() });
    assert.equal(own.poll_id, a.pollId);
  });
});
