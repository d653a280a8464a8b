/**
 * recount.ts: the recount rule of docs/decisions.md, with real RSA-PSS tokens (signed directly
 * over prefix || msg with the poll key, as RFC 9474 Finalize would yield them). Each rejection
 * reason is its own case; "earlier" is log order whatever order the signature checks finish in;
 * a fast-check property compares the counts with a plain sequential reading of the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toHex, utf8 } from './bytes.ts';
import { generateTokenKey } from './blindsign-node.ts';
import { Ballot, Close, Poll, Tally } from './entries.ts';
import type { Entry } from './entries.ts';
import { sha256 } from '#platform';
import { formatSignerKey, NoteSigner } from './note.ts';
import { BAD_SIGNATURE, Recount } from './recount.ts';
import type { BallotProblem } from './recount.ts';
import { forgedToken, testPollFields, testToken } from './testing.ts';
import { TokenVerifier } from './token.ts';
import type { Token } from './token.ts';

const POLL_ID = 'recount-2026';
const KEYS = await generateTokenKey();
const SIGNER = new NoteSigner(formatSignerKey('board.test', new Uint8Array(32).fill(3)));
const POLL = new Poll(testPollFields({ poll_id: POLL_ID, spki: KEYS.spki, board_key: SIGNER.verifierKey }, { title: 'Recount', description: '', roll: { size: 1000, commitment: sha256(utf8('roll')) } }));
const VERIFIER = await TokenVerifier.fromPoll(POLL);

const token = () => testToken(KEYS.privateKey, POLL_ID);
const forged = forgedToken;
const TOKENS = Array.from({ length: 40 }, token);
const ballot = (t: Token, choice: string[]) => new Ballot({ poll_id: POLL_ID, token: t, choice });
const close = (ballots: number) => new Close({ poll_id: POLL_ID, closed_at: '2026-03-01T18:00:00Z', ballots, issued: ballots });
const ROOT = sha256(utf8('some root'));

/** Feeds entries 1.. (null: not a v1 entry), settles, returns the recount and its problems. */
async function recountOf(entries: readonly (Entry | null)[], verifier: TokenVerifier | Promise<TokenVerifier> = VERIFIER) {
  const problems: BallotProblem[] = [];
  const recount = new Recount(POLL, verifier, { onProblem: (p) => problems.push(p) });
  entries.forEach((e, i) => recount.add(i + 1, e));
  await recount.settle();
  return { recount, problems: problems.sort((a, b) => a.index - b.index || a.problem.localeCompare(b.problem)) };
}

test('valid distinct ballots before the close all count; every option is listed, zeros included', async () => {
  const { recount, problems } = await recountOf([ballot(TOKENS[0]!, ['bikes']), ballot(TOKENS[1]!, ['bikes', 'park']), ballot(TOKENS[2]!, ['park']), close(3)]);
  assert.deepEqual(problems, []);
  assert.equal(recount.counted, 3);
  assert.equal(recount.rejected, 0);
  assert.equal(recount.closeIndex, 4);
  assert.deepEqual(recount.counts(), { bikes: 2, library: 0, park: 2 });
  assert.deepEqual(Object.keys(recount.counts()), ['bikes', 'library', 'park']);
  const tally = recount.tally(ROOT);
  assert.deepEqual(tally.toJSON(), new Tally({ poll_id: POLL_ID, tree_size: 5, root: ROOT, counts: { bikes: 2, library: 0, park: 2 }, ballots_counted: 3, ballots_rejected: 0 }).toJSON());
});

test('each rejection has its reason: not a ballot, invalid ballot, bad token, token reused', async () => {
  const t = TOKENS;
  const { recount, problems } = await recountOf([
    ballot(t[0]!, ['bikes']), // 1 counts
    null, // 2 not a v1 entry
    POLL, // 3 a second manifest
    ballot(t[1]!, ['zoo']), // 4 unknown option
    ballot(forged(t[2]!), ['park']), // 5 forged
    ballot(t[0]!, ['park']), // 6 token of entry 1 again
    new Ballot({ poll_id: 'other-poll', token: t[3]!, choice: ['park'] }), // 7 another poll (and its token is not for it)
    ballot(t[4]!, ['library']), // 8 counts
    close(8), // 9
  ]);
  assert.equal(recount.counted, 2);
  assert.deepEqual(recount.counts(), { bikes: 1, library: 1, park: 0 });
  assert.deepEqual(recount.rejectedBy, { 'not-a-ballot': 2, 'invalid-ballot': 2, 'bad-token': 1, 'token-reused': 1 });
  assert.equal(recount.rejected, 6);
  assert.equal(recount.tally(ROOT).ballots_rejected, 6);
  assert.deepEqual(
    problems.map((p) => [p.index, p.problem]),
    [[4, 'invalid-ballot'], [5, 'bad-token'], [7, 'bad-token'], [7, 'invalid-ballot']],
  );
  assert.match(problems[0]!.error, /entry 4\.choice\[0\]: unknown option id "zoo"/);
  assert.equal(problems[1]!.error, BAD_SIGNATURE);
  assert.equal(problems[1]!.token_id, toHex(ballot(t[2]!, ['park']).tokenId()));
  assert.deepEqual([...recount.reused], [[toHex(ballot(t[0]!, ['bikes']).tokenId()), [1, 6]]]);
  assert.equal(recount.distinctTokens, 5);
});

test('an earlier ballot blocks its token id even when it is itself rejected (forged, or an invalid choice)', async () => {
  const { recount } = await recountOf([ballot(forged(TOKENS[5]!), ['bikes']), ballot(TOKENS[5]!, ['bikes']), ballot(TOKENS[6]!, ['zoo']), ballot(TOKENS[6]!, ['park']), close(4)]);
  assert.equal(recount.counted, 0);
  assert.deepEqual(recount.rejectedBy, { 'not-a-ballot': 0, 'invalid-ballot': 1, 'bad-token': 1, 'token-reused': 2 });
});

test('"earlier" is log order, not the order in which signature checks finish', async () => {
  // A verifier that answers the last question first.
  const answers: (() => void)[] = [];
  const slow = {
    verify: (pollId: string, t: Token) =>
      new Promise<boolean>((resolve) => {
        answers.unshift(() => void VERIFIER.verify(pollId, t).then(resolve));
      }),
  } as unknown as TokenVerifier;
  const recount = new Recount(POLL, slow);
  recount.add(1, ballot(TOKENS[7]!, ['bikes']));
  recount.add(2, ballot(TOKENS[7]!, ['park']));
  recount.add(3, close(2));
  assert.equal(recount.pending, 2);
  assert.throws(() => recount.tally(ROOT), /settle\(\) before taking the tally/);
  const settled = recount.settle();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answers.length, 2);
  for (const answer of answers) answer();
  await settled;
  assert.equal(recount.pending, 0);
  assert.deepEqual(recount.counts(), { bikes: 1, library: 0, park: 0 });
  assert.deepEqual(recount.rejectedBy['token-reused'], 1);
});

test('settle(n) resolves once at most n checks are undecided; settle() once none are', async () => {
  const answers: (() => void)[] = [];
  const held = {
    verify: (pollId: string, t: Token) => new Promise<boolean>((resolve) => answers.push(() => void VERIFIER.verify(pollId, t).then(resolve))),
  } as unknown as TokenVerifier;
  const recount = new Recount(POLL, held);
  for (let i = 0; i < 3; i++) recount.add(i + 1, ballot(TOKENS[i]!, ['bikes']));
  await new Promise((resolve) => setImmediate(resolve));
  let two = false;
  let none = false;
  void recount.settle(2).then(() => (two = true));
  void recount.settle().then(() => (none = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual([two, none, recount.pending], [false, false, 3]);
  answers.shift()!();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual([two, none, recount.pending], [true, false, 2]);
  await recount.settle(2); // already true: resolves at once
  for (const answer of answers.splice(0)) answer();
  await recount.settle();
  assert.deepEqual([none, recount.pending, recount.counted], [true, 0, 3]);
});

test('settle rejects with what onProblem threw; off-thread verification gives the same verdicts', async () => {
  const offThread = await TokenVerifier.fromPoll(POLL, { offThread: true });
  const { recount, problems } = await recountOf([ballot(TOKENS[0]!, ['bikes']), ballot(forged(TOKENS[1]!), ['park'])], offThread);
  assert.equal(recount.counted, 1);
  assert.deepEqual(problems.map((p) => [p.index, p.problem, p.error]), [[2, 'bad-token', BAD_SIGNATURE]]);
  const failing = new Recount(POLL, offThread, {
    onProblem: () => {
      throw new Error('reporting failed');
    },
  });
  failing.add(1, ballot(forged(TOKENS[2]!), ['bikes']));
  await assert.rejects(failing.settle(), /reporting failed/);
  // The same for a ballot that breaks the poll's rules: add() does not throw, settle() does.
  const invalid = new Recount(POLL, offThread, {
    onProblem: () => {
      throw new Error('reporting failed');
    },
  });
  invalid.add(1, ballot(TOKENS[3]!, ['zoo']));
  await assert.rejects(invalid.settle(), /reporting failed/);
  await assert.rejects(invalid.settle(-1), RangeError);
});

test('entries after the close count for nothing, yet their problems are reported', async () => {
  const { recount, problems } = await recountOf([ballot(TOKENS[8]!, ['bikes']), close(1), ballot(TOKENS[9]!, ['park']), ballot(forged(TOKENS[10]!), ['park']), close(3), null]);
  assert.equal(recount.closeIndex, 2);
  assert.equal(recount.counted, 1);
  assert.equal(recount.rejected, 0);
  assert.deepEqual(recount.counts(), { bikes: 1, library: 0, park: 0 });
  assert.deepEqual(problems.map((p) => [p.index, p.problem]), [[4, 'bad-token']]);
  assert.equal(recount.tally(ROOT).tree_size, 3);
});

test('no tally before the close, nor with entries missing before it; entries go in increasing order', async () => {
  const open = await recountOf([ballot(TOKENS[11]!, ['bikes'])]);
  assert.throws(() => open.recount.tally(ROOT), /no tally before the close entry/);
  const gap = new Recount(POLL, VERIFIER);
  gap.add(1, ballot(TOKENS[12]!, ['bikes']));
  gap.add(3, close(2));
  await gap.settle();
  assert.throws(() => gap.tally(ROOT), /1 entries before the close entry \(3\) were not added/);
  assert.throws(() => gap.add(3, null), RangeError);
  assert.throws(() => new Recount(POLL, VERIFIER).add(0, POLL), RangeError);
});

test('a token key that cannot be imported: every ballot is a bad-token problem, none counts', async () => {
  const failing = Promise.reject(new Error('cannot import'));
  const { recount, problems } = await recountOf([ballot(TOKENS[13]!, ['bikes']), ballot(TOKENS[14]!, ['park']), close(2)], failing);
  assert.equal(recount.counted, 0);
  assert.deepEqual(recount.rejectedBy['bad-token'], 2);
  assert.deepEqual(problems.map((p) => [p.index, p.problem, p.error]), [[1, 'bad-token', 'cannot import'], [2, 'bad-token', 'cannot import']]);
});

test('property: the counts are those of a plain sequential reading of the rule', async () => {
  const kinds = ['valid', 'forged', 'invalid', 'garbage', 'close'] as const;
  const choices = [['bikes'], ['library'], ['park'], ['bikes', 'park'], ['library', 'park']];
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...kinds), fc.nat({ max: 4 }), fc.nat({ max: 39 })), { maxLength: 30 }), async (plan) => {
      const entries: (Entry | null)[] = [];
      const expected = { bikes: 0, library: 0, park: 0 } as Record<string, number>;
      const used = new Set<string>();
      let closed = false;
      let counted = 0;
      let before = 0;
      for (const [kind, c, k] of plan) {
        const t = TOKENS[k]!;
        const choice = choices[c]!;
        const e: Entry | null =
          kind === 'valid' ? ballot(t, choice) : kind === 'forged' ? ballot(forged(t), choice) : kind === 'invalid' ? ballot(t, ['zoo']) : kind === 'close' ? close(0) : null;
        entries.push(e);
        const id = e instanceof Ballot ? toHex(e.tokenId()) : null;
        if (!closed && e !== null && e.type !== 'close') before++;
        if (!closed && e === null) before++;
        if (!closed && kind === 'valid' && !used.has(id!)) {
          counted++;
          for (const o of choice) expected[o]!++;
        }
        if (id !== null) used.add(id);
        if (kind === 'close') closed = true;
      }
      const { recount } = await recountOf(entries);
      assert.deepEqual(recount.counts(), expected);
      assert.equal(recount.counted, counted);
      assert.equal(recount.counted + recount.rejected, before);
    }),
    { numRuns: 50 },
  );
});
