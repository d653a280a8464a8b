/**
 * A reader Board (no signing key) on the writer's storage: what the distributed mode's board
 * readers, ballot boxes and talliers hold. It serves what the writer committed, refuses every
 * write, and learns of a close from the log within its status TTL.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { leafHash } from '@blindvote/crypto';
import { Board, ReadOnlyBoardError } from './board.ts';
import { BASE_URL, ballot, manifest, testBoard } from './testing/board.ts';

const writer = testBoard();
after(() => writer.close());
const reader = new Board({ storage: writer.storage, baseUrl: BASE_URL, statusTtlMs: 50 });

test('a reader serves the writer\'s entries, receipts by leaf hash, and refuses writes', async () => {
  const poll = await manifest(writer.signer, 'r1');
  await writer.board.publish(poll);
  const b = ballot('r1', 'b');
  const appended = await writer.board.appendBallot(b);
  assert.equal(reader.verifierKey, null);
  assert.equal((await reader.state('r1'))?.size, 2);
  const found = await reader.ballotByLeafHash('r1', leafHash(b.serialize()));
  assert.ok(found !== null);
  assert.deepEqual(found.ballot.serialize(), b.serialize());
  assert.equal(found.recorded.leafIndex, appended.status === 'appended' ? appended.leafIndex : -1);
  assert.equal(await reader.ballotByLeafHash('r1', leafHash(poll.serialize())), null, 'the manifest is no ballot');
  assert.equal(await reader.ballotByLeafHash('r1', new Uint8Array(32)), null);
  assert.ok((await reader.recordedBallot(b)) !== null);
  await assert.rejects(reader.appendBallot(ballot('r1')), ReadOnlyBoardError);
  await assert.rejects(reader.publish(poll), ReadOnlyBoardError);
  await assert.rejects(reader.closePoll('r1', 1, new Date('2026-03-01T12:00:00Z')), ReadOnlyBoardError);
  assert.equal((await reader.state('r1'))?.size, 2, 'a refused write appended nothing');
});

test('a reader sees the writer\'s close within its status TTL', async () => {
  await writer.board.publish(await manifest(writer.signer, 'r2'));
  assert.equal((await reader.status('r2'))?.closed, false);
  await writer.board.closePoll('r2', 0, new Date('2026-03-01T12:00:00Z'));
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal((await reader.status('r2'))?.closed, true);
});
