/**
 * One token, many ballots at once (DESIGN.md promise 2): whatever the interleaving, exactly one
 * ballot is appended; its identical copies get its receipt (201 once, then 200), every other
 * ballot with that token gets 409 naming the same index.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Receipt, receiptValid, verifyReceipt } from '@blindvote/crypto';
import { fixture, testPolls } from './testing/app.ts';
import type { Fixture } from './testing/app.ts';

const polls = await testPolls();
let f: Fixture;
before(async () => {
  f = await fixture(polls);
});
after(() => f.app.close());

test('100 concurrent submissions of one token with mixed choices: one ballot appended, the rest 409', async () => {
  const token = f.alpha.token();
  const choices = [['a'], ['b'], ['a', 'c'], ['b', 'c']];
  const ballots = Array.from({ length: 100 }, (_, i) => f.alpha.ballot(choices[i % choices.length]!, token));
  const responses = await Promise.all(ballots.map((b) => f.post(b.toJSON())));

  const created = responses.filter((r) => r.statusCode === 201);
  assert.equal(created.length, 1, 'exactly one 201');
  const winner = Receipt.parse(created[0]!.body);
  assert.ok(receiptValid(await verifyReceipt(winner, f.alpha.poll)));
  const winnerChoice = JSON.stringify(winner.ballot.choice);

  let duplicates = 0;
  let spent = 0;
  for (const [i, res] of responses.entries()) {
    const sameBallot = JSON.stringify(ballots[i]!.choice) === winnerChoice;
    if (res.statusCode === 201) continue;
    if (sameBallot) {
      assert.equal(res.statusCode, 200, res.body);
      const receipt = Receipt.parse(res.body);
      assert.equal(receipt.leaf_index, winner.leaf_index);
      assert.ok(receiptValid(await verifyReceipt(receipt, f.alpha.poll)));
      duplicates++;
    } else {
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().code, 'BV_TOKEN_SPENT');
      assert.match(res.json().message, new RegExp(`at index ${winner.leaf_index} of the board`));
      spent++;
    }
  }
  assert.equal(duplicates, 24);
  assert.equal(spent, 75);
  assert.equal(f.sink.entries('alpha').length, 2, 'manifest + one ballot');
});
