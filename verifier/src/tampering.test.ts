/**
 * Tampering cases the other verifier tests do not cover (issue 7, split view and tampering): an
 * honest-looking growth whose hash tiles serve a consistency proof that does not verify. The
 * monitor reports it with both signed notes and the proof as evidence, and keeps its state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as bulletinBoard from '@blindvote/bulletin-board';
import { dirFetcher } from './fetch.ts';
import { monitor } from './monitor.ts';
import { ballot, buildBoard, directTokens, election, entry, useBulletinBoard } from './testing/election.ts';
import type { BoardEntry } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const E = await election(0);
const TOKENS = directTokens(E, 8);
const ENTRIES: BoardEntry[] = [entry(E.poll), ...TOKENS.slice(0, 6).map((t) => entry(ballot(t, ['bikes'])))];

test('a bad consistency proof: the grown board\'s tiles do not prove it extends the checkpoint seen; the proof is evidence, the state stays', async () => {
  const board = await buildBoard(ENTRIES, E.signer);
  const seen = await monitor(dirFetcher(board.dir), null, { boardKey: E.signer.verifierKey });
  assert.ok(seen.advanced);
  const grown = await board.grow(TOKENS.slice(6, 8).map((t) => entry(ballot(t, ['park']))));
  // Leaf 8's hash in the level-0 tile: a node of the proof from size 7 to 9, not of the signed root.
  const tile = join(grown.dir, 'tile/0/000.p/9');
  const bytes = readFileSync(tile);
  bytes[8 * 32]! ^= 1;
  writeFileSync(tile, bytes);

  const result = await monitor(dirFetcher(grown.dir), seen.state);
  const failed = result.checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => c.check), ['consistency']);
  assert.match(failed[0]!.detail, /not proven to extend the earlier one of size 7/);
  const ev = failed[0]!.evidence as { reason: string; earlier: string; newer: string; proof: string[] };
  assert.deepEqual([ev.reason, ev.earlier, ev.newer], ['inconsistent', board.checkpoint, grown.checkpoint]);
  assert.ok(ev.proof.length > 0, 'the proof served is kept');
  assert.equal(result.advanced, false);
  assert.equal(result.state, seen.state);
});
