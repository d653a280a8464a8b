/**
 * monitor.ts: following real boards from one checkpoint to the next. Growth is proven
 * consistent; a rollback, a fork (same size, other root) and a diverging history are reported
 * with both signed notes as evidence and leave the state where it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint, parseNote, signCheckpoint } from '@blindvote/crypto';
import * as bulletinBoard from '@blindvote/bulletin-board';
import type { Check } from './checks.ts';
import { dirFetcher, httpFetcher } from './fetch.ts';
import { monitor, parseMonitorState, serializeMonitorState } from './monitor.ts';
import { ballot, buildBoard, directTokens, election, entry, staticServer, tempDir, useBulletinBoard } from './testing/election.ts';
import type { BoardEntry } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const E = await election(0);
const KEY = E.signer.verifierKey;
const TOKENS = directTokens(E, 12);
const ENTRIES: BoardEntry[] = [entry(E.poll), ...TOKENS.slice(0, 6).map((t) => entry(ballot(t, ['bikes'])))];
const NOW = () => new Date('2026-03-01T12:00:00.123Z');

const failed = (checks: readonly Check[]) => checks.filter((c) => !c.ok).map((c) => c.check);
const named = (checks: readonly Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `no check named ${name}`);
  return c;
};

test('first run remembers the checkpoint and the key; growth is proven consistent and advances the state', async () => {
  const board = await buildBoard(ENTRIES, E.signer);
  const first = await monitor(dirFetcher(board.dir), null, { now: NOW });
  assert.deepEqual(failed(first.checks), []);
  assert.deepEqual(first.checks.map((c) => c.check), ['checkpoint', 'board-key', 'checkpoint-signature', 'checkpoint-origin', 'consistency']);
  assert.match(named(first.checks, 'board-key').detail, /board's own manifest.*first run/);
  assert.match(named(first.checks, 'consistency').detail, /first checkpoint seen \(size 7\)/);
  assert.ok(first.advanced);
  assert.deepEqual(first.state, {
    v: 1,
    board: board.dir,
    origin: 'vote.example/poll/city-2026',
    board_key: KEY,
    checkpoint: board.checkpoint,
    checked_at: '2026-03-01T12:00:00Z',
  });

  const again = await monitor(dirFetcher(board.dir), first.state);
  assert.deepEqual(failed(again.checks), []);
  assert.match(named(again.checks, 'consistency').detail, /the same tree \(size 7/);
  assert.match(named(again.checks, 'board-key').detail, /as in the state/);

  const grown = await board.grow(TOKENS.slice(6, 9).map((t) => entry(ballot(t, ['park']))));
  const next = await monitor(dirFetcher(grown.dir), again.state, { boardKey: KEY });
  assert.deepEqual(failed(next.checks), []);
  assert.match(named(next.checks, 'consistency').detail, /size 7 → 10: consistency proof of \d hash\(es\) verified/);
  assert.equal(next.state?.checkpoint, grown.checkpoint);
});

test('a rollback: the newer checkpoint is smaller; both notes are evidence and the state stays', async () => {
  const board = await buildBoard(ENTRIES, E.signer);
  const grown = await board.grow(TOKENS.slice(6, 8).map((t) => entry(ballot(t, ['park']))));
  const seen = await monitor(dirFetcher(grown.dir), null, { boardKey: KEY });
  const back = await monitor(dirFetcher(board.dir), seen.state, { boardKey: KEY });
  assert.deepEqual(failed(back.checks), ['consistency']);
  const c = named(back.checks, 'consistency');
  assert.match(c.detail, /rollback: the board's checkpoint has size 7, smaller than the earlier checkpoint's 9/);
  assert.deepEqual(c.evidence, { reason: 'rollback', earlier: grown.checkpoint, newer: board.checkpoint });
  assert.equal(back.advanced, false);
  assert.equal(back.state, seen.state);
});

test('two checkpoints of the same size with different roots: a fork, with both notes', async () => {
  const a = await buildBoard(ENTRIES, E.signer);
  const b = await buildBoard([...ENTRIES.slice(0, -1), entry(ballot(TOKENS[11]!, ['library']))], E.signer);
  const seen = await monitor(dirFetcher(a.dir), null, { boardKey: KEY });
  const fork = await monitor(dirFetcher(b.dir), seen.state);
  assert.deepEqual(failed(fork.checks), ['consistency']);
  const c = named(fork.checks, 'consistency');
  assert.match(c.detail, /fork: two signed checkpoints of size 7 with different roots/);
  assert.deepEqual(c.evidence, { reason: 'fork', earlier: a.checkpoint, newer: b.checkpoint });

  // The fork grows on: its tiles cannot prove it extends what was seen.
  const longer = await b.grow([entry(ballot(TOKENS[10]!, ['park']))]);
  const diverged = await monitor(dirFetcher(longer.dir), seen.state);
  assert.deepEqual(failed(diverged.checks), ['consistency']);
  const ev = named(diverged.checks, 'consistency').evidence as { reason: string; earlier: string; newer: string; proof: string[] };
  assert.deepEqual([ev.reason, ev.earlier, ev.newer], ['inconsistent', a.checkpoint, longer.checkpoint]);
});

test('over HTTP; a checkpoint signed by another key; a key or origin other than the state\'s', async () => {
  const server = await staticServer();
  const board = await buildBoard(ENTRIES, E.signer, server.origin);
  server.serve(board.dir);
  const seen = await monitor(httpFetcher(server.url), null, { boardKey: KEY });
  assert.deepEqual(failed(seen.checks), []);
  assert.equal(named(seen.checks, 'checkpoint-origin').detail, server.origin);

  const dir = tempDir();
  const copy = join(dir, 'checkpoint');
  const forged = signCheckpoint(Checkpoint.parse(parseNote(board.checkpoint).text), [E.otherSigner]);
  writeFileSync(copy, forged);
  const fake = await monitor(dirFetcher(dir), seen.state);
  assert.deepEqual(failed(fake.checks), ['checkpoint-signature', 'consistency']);
  assert.deepEqual(named(fake.checks, 'checkpoint-signature').evidence, { checkpoint: forged, board_key: KEY });
  assert.match(named(fake.checks, 'consistency').detail, /not checked/);

  const other = await monitor(httpFetcher(server.url), seen.state, { boardKey: E.otherSigner.verifierKey, origin: 'x.example/poll/city-2026' });
  assert.deepEqual(failed(other.checks), ['board-key', 'checkpoint-signature', 'checkpoint-origin', 'consistency']);
  assert.match(named(other.checks, 'board-key').detail, /start a new state file/);
  assert.match(named(other.checks, 'checkpoint-origin').detail, /the state follows origin/);
});

test('state files: round trip, and refusal of anything malformed or not signed by their own key', async () => {
  const board = await buildBoard(ENTRIES, E.signer);
  const { state } = await monitor(dirFetcher(board.dir), null, { boardKey: KEY });
  const text = serializeMonitorState(state!);
  assert.deepEqual(parseMonitorState(text), state);
  const edit = (f: (s: Record<string, unknown>) => void) => {
    const o = JSON.parse(text) as Record<string, unknown>;
    f(o);
    return JSON.stringify(o);
  };
  const cases: [string, RegExp][] = [
    ['', /state/],
    ['[]', /expected a JSON object/],
    ['{"a":1,"a":2}', /duplicate/i],
    [edit((s) => (s['v'] = 2)), /v: expected 1, got 2/],
    [edit((s) => (s['extra'] = 1)), /unknown field "extra"/],
    [edit((s) => delete s['checkpoint']), /checkpoint: expected a string/],
    [edit((s) => (s['board_key'] = 'nope')), /board_key: /],
    [edit((s) => (s['board_key'] = E.otherSigner.verifierKey)), /checkpoint: does not verify under the state's key/],
    [edit((s) => (s['origin'] = 'other.example/poll/city-2026')), /origin mismatch/],
  ];
  for (const [input, message] of cases) assert.throws(() => parseMonitorState(input), message, input);
});
