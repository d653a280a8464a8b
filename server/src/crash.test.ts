/**
 * Crash durability of `blindvote serve` (DESIGN.md promises 1 and 3): SIGKILL at random moments
 * under continuous ballot load, restart on the same data directory, go on. At the end every
 * acknowledged ballot (a 201 or 200 receipt received) is on the board exactly once at its
 * receipt's leaf; a ballot that got no answer, retried byte-identically after the restarts, gets
 * one receipt (200 if it had been appended before the crash, 201 if not), so it too is there once;
 * the board holds nothing else; the live count equals those ballots and the audit passes.
 *
 * Issuance is crashed on its own first: voters send real blinded messages, the process is killed
 * while the requests are in flight, and each voter retries the same blinded message after the
 * restart and gets the same signature (a row committed before the crash holds the hash of that
 * message; RSA blind signing is deterministic).
 *
 * The ballot load is not what crashes issuance: its tokens are made with `testToken` from the
 * poll's private key read out of issuer.db (client blinding runs at ~30/s and would be the
 * bottleneck), which the ballot box cannot tell from issued tokens.
 *
 * Kills: 5, or 30 with BLINDVOTE_LONG=1, or BLINDVOTE_CRASH_KILLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ballot, Receipt, TokenClient, TokenVerifier, fromBase64, leafHash, toBase64, verifyReceipt } from '@blindvote/crypto';
import type { BlindingState, ReceiptJSON } from '@blindvote/crypto';
import { testToken } from '@blindvote/crypto/testing';
import { allPassed, audit, httpFetcher } from '@blindvote/verifier';
import { Api, pool } from './client.ts';
import { AllInOne } from './testing/deployment.ts';
import { ballotIndex, OPTIONS, publishTestPoll, pollTokenKey, readBoard, registerVoters } from './testing/polls.ts';

const KILLS = Number(process.env['BLINDVOTE_CRASH_KILLS'] ?? (process.env['BLINDVOTE_LONG'] === '1' ? 30 : 5));
const CLIENTS = 4;
const ISSUANCE_ROUNDS = 3;
const VOTERS_PER_ROUND = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHOICES = [['bikes'], ['library'], ['park'], ['bikes', 'park'], ['library', 'park']];

type Outcome = { readonly kind: 'receipt'; readonly status: number; readonly receipt: ReceiptJSON } | { readonly kind: 'no answer' } | { readonly kind: 'refused'; readonly status: number; readonly body: string };

async function submit(url: string, ballot: Ballot): Promise<Outcome> {
  let response: Response;
  let body: string;
  try {
    response = await fetch(`${url}/v1/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ballot.toJSON()), signal: AbortSignal.timeout(20_000) });
    body = await response.text();
  } catch {
    return { kind: 'no answer' };
  }
  if (response.status === 201 || response.status === 200) return { kind: 'receipt', status: response.status, receipt: JSON.parse(body) as ReceiptJSON };
  return { kind: 'refused', status: response.status, body };
}

test(`crash durability: ${KILLS} SIGKILLs under ballot load, and one during issuance`, { timeout: (120 + KILLS * 20) * 1000 }, async (t) => {
  const d = await AllInOne.start({ env: { BLINDVOTE_RATE_LIMITS: 'false' } });
  t.after(() => d.stop());
  const api = new Api(d.url);
  const admin = await api.login(d.adminUsername, d.adminPassword);
  const voters = await registerVoters(api, 'crash', ISSUANCE_ROUNDS * VOTERS_PER_ROUND);
  const { pollId, poll, board } = await publishTestPoll(api, admin, `crash-${Math.random().toString(36).slice(2, 8)}`, voters.map((v) => v.account));
  const key = pollTokenKey(d.dataDir, pollId);
  let kills = 0;

  /** Every ballot sent, by its bytes (base64), with the receipt it got in the end, if any. */
  const sent = new Map<string, { ballot: Ballot; receipt: ReceiptJSON | null }>();
  const record = (ballot: Ballot, outcome: Outcome) => {
    if (outcome.kind === 'refused') throw new Error(`ballot refused: ${outcome.status} ${outcome.body}`);
    const at = toBase64(ballot.serialize());
    const known = sent.get(at);
    const receipt = outcome.kind === 'receipt' ? outcome.receipt : null;
    if (known === undefined) sent.set(at, { ballot, receipt });
    else if (receipt !== null) {
      if (known.receipt !== null) assert.equal(receipt.leaf_index, known.receipt.leaf_index, 'a resubmitted ballot keeps its leaf');
      known.receipt = receipt;
    }
  };

  await t.test('1. issuance: killed with token requests in flight, each voter retries the same blinded message and gets the same signature', async () => {
    const client = await TokenClient.create(poll.token_key.spki, pollId);
    const verifier = await TokenVerifier.fromPoll(poll);
    let unanswered = 0;
    let answered = 0;
    for (let round = 0; round < ISSUANCE_ROUNDS; round++) {
      const group = voters.slice(round * VOTERS_PER_ROUND, (round + 1) * VOTERS_PER_ROUND);
      const blindings: BlindingState[] = [];
      for (const _ of group) blindings.push(await client.blind());
      const request = (i: number) =>
        fetch(`${d.url}/v1/polls/${pollId}/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${group[i]!.session}` },
          body: JSON.stringify({ blinded_msg: toBase64(blindings[i]!.blindedMsg) }),
        }).then(async (r) => (r.status === 200 ? ((await r.json()) as { blind_sig: string }).blind_sig : `status ${r.status}`));
      const inFlight = group.map((_, i) => request(i).catch(() => null));
      // Round 0 kills before the requests can be read; later rounds later, amid signing and committing, or after the answer.
      if (round > 0) await sleep([0, 5, 30][round]! * (1 + Math.random()));
      await d.kill();
      kills++;
      const before = await Promise.all(inFlight);
      unanswered += before.filter((s) => s === null).length;
      answered += before.filter((s) => s !== null).length;
      await d.restart();
      for (const [i, first] of before.entries()) {
        const again = await request(i);
        assert.ok(!again.startsWith('status'), `voter ${group[i]!.account} retrying after the crash: ${again}`);
        if (first !== null) assert.equal(again, first, `voter ${group[i]!.account}: the retry gets the signature sent before the crash`);
        const token = await client.finalize(blindings[i]!, fromBase64(again, 'blind_sig'));
        assert.equal(await verifier.verify(pollId, token), true);
        const ballot = new Ballot({ poll_id: pollId, token, choice: CHOICES[i % CHOICES.length]! });
        record(ballot, await submit(d.url, ballot));
      }
    }
    assert.ok(unanswered > 0, 'some token request went unanswered');
    const stats = await api.call('GET', `/v1/polls/${pollId}/stats`, { token: admin });
    assert.equal(stats.issued, voters.length, 'one token per voter, however often the issuer died');
    t.diagnostic(`issuance: ${ISSUANCE_ROUNDS} kills, ${unanswered} token requests unanswered, ${answered} answered before the kill; every retry got the signature`);
  });

  await t.test(`2. vote: ${CLIENTS} clients cast ballots continuously while the service is SIGKILLed ${KILLS} times`, async () => {
    let running = true;
    let noAnswer = 0;
    const load = async () => {
      while (running) {
        const ballot = new Ballot({ poll_id: pollId, token: testToken(key, pollId), choice: CHOICES[Math.floor(Math.random() * CHOICES.length)]! });
        const outcome = await submit(d.url, ballot);
        record(ballot, outcome);
        if (outcome.kind === 'no answer') {
          noAnswer++;
          await sleep(100);
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, load);
    const failed = Promise.all(clients).then(() => null, (err: unknown) => err);
    for (let k = 0; k < KILLS; k++) {
      await Promise.race([sleep(200 + Math.random() * 1500), failed]);
      await d.kill();
      kills++;
      await d.restart();
    }
    await sleep(500);
    running = false;
    const error = await failed;
    if (error !== null) throw error;
    const acknowledged = [...sent.values()].filter((s) => s.receipt !== null).length;
    t.diagnostic(`vote: ${KILLS} kills under load, ${acknowledged} ballots acknowledged, ${noAnswer} submissions unanswered`);
    assert.ok(acknowledged > KILLS, 'ballots were acknowledged between the kills');
  });

  await t.test('3. retry: every ballot that got no answer, resubmitted byte-identically, gets one receipt', async () => {
    const pending = [...sent.values()].filter((s) => s.receipt === null);
    const statuses: Record<number, number> = {};
    const errors: string[] = [];
    await pool(pending, 8, async ({ ballot }) => {
      const outcome = await submit(d.url, ballot);
      if (outcome.kind !== 'receipt') throw new Error(JSON.stringify(outcome));
      statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
      record(ballot, outcome);
    }, errors);
    assert.deepEqual(errors, []);
    t.diagnostic(`retried ${pending.length} unanswered ballots: ${JSON.stringify(statuses)} (200: it had been appended before the crash)`);
  });

  await t.test('4. check: every acknowledged ballot is on the board exactly once at its leaf, and nothing else is', async () => {
    const entries = await readBoard(board);
    const onBoard = ballotIndex(entries);
    let verified = 0;
    for (const [at, { receipt }] of sent) {
      assert.ok(receipt !== null);
      assert.equal(onBoard.get(at), receipt.leaf_index, 'the ballot sits at its receipt leaf');
      assert.equal(toBase64(leafHash(entries[receipt.leaf_index]!)), receipt.leaf_hash);
      // Full receipt verification (signed checkpoint, inclusion proof) for every tenth: the audit covers the board.
      if (receipt.leaf_index % 10 !== 1) continue;
      const failed = (await verifyReceipt(Receipt.fromJSON(receipt), poll)).filter((c) => !c.ok);
      assert.deepEqual(failed, [], `the receipt for leaf ${receipt.leaf_index} verifies`);
      verified++;
    }
    assert.equal(onBoard.size, sent.size, 'the board holds only ballots that were sent');
    t.diagnostic(`checked: ${sent.size} ballots, each on the board exactly once at its receipt's leaf, ${verified} receipts fully verified; ${kills} kills survived`);
  });

  await t.test('5. count and audit: the tallier, restarted with the service, counts exactly those ballots; the audit passes', async () => {
    // The poll stays open: its close entry would rightly be refused, since these ballots outnumber
    // the tokens the issuer handed out (close.ballots ≤ close.issued, DESIGN.md wire formats).
    const expected: Record<string, number> = Object.fromEntries(OPTIONS.map((o) => [o, 0]));
    for (const { ballot } of sent.values()) for (const id of ballot.choice) expected[id]!++;
    const deadline = Date.now() + 60_000;
    let results = await api.call('GET', `/v1/results/${pollId}`);
    while (results.tree_size < sent.size + 1 && Date.now() < deadline) {
      await sleep(100);
      results = await api.call('GET', `/v1/results/${pollId}`);
    }
    assert.equal(results.state, 'open', JSON.stringify(results));
    assert.equal(results.tree_size, sent.size + 1);
    assert.equal(results.ballots_counted, sent.size);
    assert.deepEqual(results.counts, expected);
    const checks = await audit(httpFetcher(board), { boardKey: poll.board_key });
    assert.ok(allPassed(checks), JSON.stringify(checks.filter((c) => !c.ok), null, 2));
  });
});
