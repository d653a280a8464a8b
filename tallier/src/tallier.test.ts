/**
 * The Tallier against an in-memory board with a real log (entries, RFC 9162 root, Ed25519-signed
 * C2SP checkpoints): live counts, sealed polls, the final recount and tally, board misbehaviour,
 * restarts, and feed failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Checkpoint, CompactRange, Recount, Tally, TokenVerifier, leafHash, openCheckpoint, parseEntry, signCheckpoint, utf8 } from '@blindvote/crypto';
import type { Entry } from '@blindvote/crypto';
import { SLICE } from './follower.ts';
import { MemoryLiveStore } from './live-memory.ts';
import type { BoardFeed, LiveStore } from './ports.ts';
import { Tallier } from './tallier.ts';
import type { ErrorKind, TallierOptions } from './tallier.ts';
import type { ResultsSnapshot } from './snapshot.ts';
import { BOARD_SIGNER, HOST, OTHER_SIGNER, ballot, ballots, close, election, forged, tokens } from './testing/election.ts';
import type { Election } from './testing/election.ts';
import { MemoryBoard } from './testing/memory-board.ts';

interface Reported {
  readonly pollId: string;
  readonly message: string;
  readonly kind: ErrorKind;
}

async function started(board: MemoryBoard, options: Partial<TallierOptions> = {}): Promise<{ tallier: Tallier; errors: Reported[] }> {
  const errors: Reported[] = [];
  const tallier = new Tallier({ feed: board, onError: (pollId, err, kind) => errors.push({ pollId, message: err.message, kind }), ...options });
  await tallier.start();
  await tallier.idle();
  return { tallier, errors };
}

function snapshotOf(tallier: Tallier, pollId: string): ResultsSnapshot {
  const s = tallier.snapshot(pollId);
  assert.ok(s !== null, `no snapshot for ${pollId}`);
  return s;
}

/** crypto's Recount run directly over the board's entries [1, upTo). */
async function directRecount(e: Election, entries: readonly Uint8Array[], upTo = entries.length): Promise<Recount> {
  const recount = new Recount(e.poll, await TokenVerifier.fromPoll(e.poll));
  for (let i = 1; i < upTo; i++) {
    let entry: Entry | null = null;
    try {
      entry = parseEntry(entries[i]!);
    } catch {
      // not a v1 entry
    }
    recount.add(i, entry);
  }
  await recount.settle();
  return recount;
}

function rootOf(entries: readonly Uint8Array[], size: number): Uint8Array {
  const range = new CompactRange();
  for (const e of entries.slice(0, size)) range.append(leafHash(e));
  return range.root();
}

test('live counts follow the board batch by batch and equal a direct recount of the verified prefix', async () => {
  const E = await election('live-counts');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll]);
  const { tallier, errors } = await started(board);
  assert.deepEqual(snapshotOf(tallier, id), {
    poll_id: id,
    state: 'open',
    tree_size: 1,
    ballots: 0,
    ballots_counted: 0,
    ballots_rejected: 0,
    counts: { bikes: 0, library: 0, park: 0 },
    final: null,
  });

  const first = ballots(E, 10);
  board.append(id, first);
  const [t] = tokens(E, 1);
  board.append(id, [
    ...ballots(E, 5, 10),
    ballot(E, forged(t!), ['bikes']), // forged signature
    ballot(E, first[0]!.token, ['library']), // the token of entry 1 again
    ballot(E, tokens(E, 1)[0]!, ['zoo']), // not an option
    utf8('not an entry'),
  ]);
  await tallier.idle();
  const s = snapshotOf(tallier, id);
  const direct = await directRecount(E, board.entriesOf(id));
  assert.equal(s.tree_size, board.size(id));
  assert.equal(s.tree_size, 20);
  assert.deepEqual([s.ballots, s.ballots_counted, s.ballots_rejected], [19, 15, 4]);
  assert.deepEqual([direct.counted, direct.rejected], [15, 4]);
  assert.deepEqual(s.counts, direct.counts());
  assert.equal(s.state, 'open');
  assert.deepEqual(errors, []);
  await tallier.stop();
});

test('the final tally: a fresh recount up to the close, appended once, then read back as verified', async () => {
  const E = await election('final-tally');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 7)]);
  const [t] = tokens(E, 1);
  board.append(id, [ballot(E, forged(t!), ['park']), ...ballots(E, 3, 7)]);
  const { tallier, errors } = await started(board);
  board.append(id, [close(E, 11)]);
  await tallier.idle();

  const entries = board.entriesOf(id);
  const closeIndex = 12;
  assert.equal(parseEntry(entries[closeIndex]!).type, 'close');
  const expected = (await directRecount(E, entries, closeIndex + 1)).tally(rootOf(entries, closeIndex + 1));
  assert.equal(expected.ballots_counted, 10);
  assert.equal(expected.ballots_rejected, 1);

  assert.equal(board.tallyCalls.length, 1);
  assert.deepEqual(board.tallyCalls[0]!.tally, expected.serialize());
  assert.equal(board.size(id), closeIndex + 2);
  assert.deepEqual(entries[closeIndex + 1], expected.serialize());

  const s = snapshotOf(tallier, id);
  assert.equal(s.state, 'tallied');
  assert.equal(s.tree_size, closeIndex + 2);
  assert.deepEqual([s.ballots, s.ballots_counted, s.ballots_rejected], [11, 10, 1]);
  assert.deepEqual(s.counts, { ...expected.counts });
  assert.deepEqual(s.final?.tally, expected.toJSON());
  assert.equal(s.final?.verified, true);
  const cp = openCheckpoint(s.final!.checkpoint, [BOARD_SIGNER.verifierKey], `${HOST}/poll/${id}`).checkpoint;
  assert.equal(cp.size, closeIndex + 2);
  assert.deepEqual(cp.root, rootOf(entries, closeIndex + 2));

  // More notifications (a ballot after the close, say) append nothing more.
  board.append(id, ballots(E, 1));
  await tallier.idle();
  assert.equal(board.tallyCalls.length, 1);
  assert.equal(snapshotOf(tallier, id).state, 'tallied');
  assert.deepEqual(errors, []);
  await tallier.stop();
});

test('a sealed poll shows only how many ballots there are until its tally is on the board', async () => {
  const S = await election('sealed-poll', 'sealed');
  const id = S.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [S.poll, ...ballots(S, 6), ballot(S, forged(tokens(S, 1)[0]!), ['bikes'])]);
  const { tallier } = await started(board);
  const hidden = { ballots: 7, ballots_counted: null, ballots_rejected: null, counts: null, final: null };
  const open = snapshotOf(tallier, id);
  assert.deepEqual({ ...open, state: undefined, tree_size: undefined, poll_id: undefined }, { ...hidden, state: undefined, tree_size: undefined, poll_id: undefined });
  assert.equal(open.state, 'open');
  assert.doesNotMatch(JSON.stringify(open), /bikes|library|park/);

  board.holdTallies = true;
  board.append(id, [close(S, 7)]);
  await tallier.idle();
  const closed = snapshotOf(tallier, id);
  assert.equal(closed.state, 'closed');
  assert.equal(board.tallyCalls.length, 1);
  assert.deepEqual([closed.counts, closed.ballots_counted, closed.ballots_rejected, closed.final, closed.ballots], [null, null, null, null, 7]);

  board.releaseTallies();
  await tallier.idle();
  const tallied = snapshotOf(tallier, id);
  assert.equal(tallied.state, 'tallied');
  assert.deepEqual(tallied.counts, { bikes: 3, library: 2, park: 2 });
  assert.deepEqual([tallied.ballots_counted, tallied.ballots_rejected], [6, 1]);
  assert.equal(tallied.final?.tally.ballots_counted, 6);
  await tallier.stop();
});

test('entries that do not match the signed checkpoint: state error, nothing counted past the last verified size, no tally', async () => {
  const E = await election('tampered');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 4)]);
  const { tallier, errors } = await started(board);
  assert.equal(snapshotOf(tallier, id).ballots_counted, 4);

  board.append(id, ballots(E, 4, 4));
  board.tamper(id, 7, ballot(E, tokens(E, 1)[0]!, ['park']).serialize());
  await tallier.idle();
  const s = snapshotOf(tallier, id);
  assert.equal(s.state, 'error');
  assert.match(s.error!, /entries \[0, 9\) hash to [0-9a-f]{64}, its signed checkpoint of that size says [0-9a-f]{64}: the log does not match its checkpoint/);
  assert.deepEqual([s.tree_size, s.ballots_counted], [5, 4]);
  assert.deepEqual(errors.map((e) => [e.pollId, e.kind]), [[id, 'board']]);

  board.append(id, [close(E, 8)]);
  await tallier.idle();
  assert.equal(board.tallyCalls.length, 0);
  assert.equal(snapshotOf(tallier, id).state, 'error');
  await tallier.stop();

  // A tallier meeting the tampered board for the first time: error, nothing counted.
  const fresh = await started(board);
  const f = snapshotOf(fresh.tallier, id);
  assert.deepEqual([f.state, f.tree_size, f.counts, f.ballots_counted], ['error', 0, null, null]);
  assert.equal(board.tallyCalls.length, 0);
  await fresh.tallier.stop();
});

test('a checkpoint not signed by the manifest\'s board key, and a rollback, are errors', async () => {
  const E = await election('bad-checkpoints');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 2)]);
  const early = (await board.checkpoint(id))!;
  board.append(id, ballots(E, 2, 2));

  const other = new MemoryBoard(OTHER_SIGNER);
  other.append(id, [E.poll, ...ballots(E, 2)]);
  const forgedBoard = await started(other);
  assert.match(snapshotOf(forgedBoard.tallier, id).error!, /does not verify under the manifest's board key vote\.test\+[0-9a-f]{8}/);
  await forgedBoard.tallier.stop();

  const { tallier } = await started(board);
  assert.equal(snapshotOf(tallier, id).tree_size, 5);
  board.serveCheckpoint(id, early);
  board.notify(id);
  await tallier.idle();
  const s = snapshotOf(tallier, id);
  assert.equal(s.state, 'error');
  assert.match(s.error!, /rollback: the latest checkpoint has 3 entries, 5 were already read/);
  assert.equal(s.tree_size, 5);
  await tallier.stop();

  // A checkpoint whose origin names another poll.
  const wrongOrigin = new MemoryBoard();
  wrongOrigin.append(id, [E.poll]);
  wrongOrigin.serveCheckpoint(id, signCheckpoint(new Checkpoint({ origin: `${HOST}/poll/another`, size: 1, root: rootOf(wrongOrigin.entriesOf(id), 1) }), [BOARD_SIGNER]));
  const w = await started(wrongOrigin);
  assert.match(snapshotOf(w.tallier, id).error!, /origin "vote\.test\/poll\/another" is not <host>\/poll\/bad-checkpoints/);
  await w.tallier.stop();
});

test('a restarted tallier reads the tally it appended, appends nothing, and agrees', async () => {
  const E = await election('restart');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 5)]);
  board.append(id, [close(E, 5)]);
  // Closed before any tallier ran: the first one appends the tally when it starts.
  const one = await started(board);
  assert.equal(board.tallyCalls.length, 1);
  const final = snapshotOf(one.tallier, id);
  assert.equal(final.state, 'tallied');
  await one.tallier.stop();

  const two = await started(board);
  assert.equal(board.tallyCalls.length, 1);
  assert.deepEqual(snapshotOf(two.tallier, id), final);
  assert.deepEqual(two.errors, []);
  await two.tallier.stop();
});

test('two talliers at the close append the byte-identical tally; the board keeps one', async () => {
  const E = await election('two-talliers');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 3)]);
  const a = await started(board);
  const b = await started(board);
  board.append(id, [close(E, 3)]);
  await Promise.all([a.tallier.idle(), b.tallier.idle()]);
  assert.equal(board.tallyCalls.length, 2);
  assert.deepEqual(board.tallyCalls[0]!.tally, board.tallyCalls[1]!.tally);
  assert.equal(board.size(id), 6);
  assert.deepEqual(snapshotOf(a.tallier, id), snapshotOf(b.tallier, id));
  assert.equal(snapshotOf(a.tallier, id).state, 'tallied');
  await Promise.all([a.tallier.stop(), b.tallier.stop()]);
});

test('a tally on the board that differs from the recount is reported as an error, loudly', async () => {
  const E = await election('wrong-tally');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 4)]);
  board.append(id, [close(E, 4)]);
  const entries = board.entriesOf(id);
  const right = (await directRecount(E, entries)).tally(rootOf(entries, 6));
  const wrong = new Tally({ ...right, counts: { ...right.counts, bikes: right.counts['bikes']! + 1, park: right.counts['park']! - 1 } });
  board.append(id, [wrong]);

  const warned: string[] = [];
  const onWarning = (w: Error) => warned.push(w.message);
  process.on('warning', onWarning);
  const tallier = new Tallier({ feed: board }); // the default onError: a process warning
  await tallier.start();
  await tallier.idle();
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  const s = snapshotOf(tallier, id);
  assert.equal(s.state, 'error');
  assert.match(s.error!, /the board's tally \(entry 6\) differs from this tallier's recount/);
  assert.equal(s.final, null);
  assert.equal(board.tallyCalls.length, 0);
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /poll wrong-tally: the board's tally/);
  await tallier.stop();
});

test('feed failures are retried with backoff and do not put the poll in error', async () => {
  const E = await election('flaky-feed');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 3)]);
  board.failReads = 2;
  const { tallier, errors } = await started(board, { retryMs: 10 });
  assert.equal(tallier.snapshot(id), null);
  assert.deepEqual(errors.map((e) => [e.kind, e.message]), [['feed', 'board unreachable (test)']]);
  for (let i = 0; i < 100 && tallier.snapshot(id)?.tree_size !== 4; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const s = snapshotOf(tallier, id);
  assert.deepEqual([s.state, s.tree_size, s.ballots_counted], ['open', 4, 3]);
  assert.deepEqual(errors.map((e) => e.kind), ['feed', 'feed']);
  await tallier.stop();
});

test('entries are read in chunks of at most `chunk`, and polls created later are followed', async () => {
  const E = await election('chunks');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  const reads: [number, number][] = [];
  const feed: BoardFeed = {
    polls: () => board.polls(),
    checkpoint: (p) => board.checkpoint(p),
    entries: (p, from, to) => {
      reads.push([from, to]);
      return board.entries(p, from, to);
    },
    onAppend: (listener) => board.onAppend(listener),
    appendTally: (p, tally) => board.appendTally(p, tally),
  };
  const tallier = new Tallier({ feed, chunk: 4 });
  await tallier.start();
  board.append(id, [E.poll, ...ballots(E, 9)]);
  await tallier.idle();
  assert.equal(snapshotOf(tallier, id).ballots_counted, 9);
  assert.ok(reads.every(([from, to]) => to - from <= 4), JSON.stringify(reads));
  assert.throws(() => new Tallier({ feed, chunk: 4097 }), /1\.\.4096/);
  await tallier.stop();
});

test('catching up on a long board gives the event loop turns between slices of entries', async () => {
  // In the all-in-one process the ballot box waits while the tallier holds the event loop.
  // Each entry records the turn it is first read in (a setImmediate chain counts turns).
  const E = await election('turns');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 1000)]);
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const readIn: number[] = [];
  class Recorded extends Uint8Array {
    readonly #index: number;
    constructor(bytes: Uint8Array, index: number) {
      super(bytes);
      this.#index = index;
    }
    override get length(): number {
      readIn[this.#index] ??= turn;
      return super.length;
    }
  }
  const feed: BoardFeed = {
    polls: () => board.polls(),
    checkpoint: (p) => board.checkpoint(p),
    entries: async (p, from, to) => (await board.entries(p, from, to)).map((bytes, k) => new Recorded(bytes, from + k)),
    onAppend: (listener) => board.onAppend(listener),
    appendTally: (p, tally) => board.appendTally(p, tally),
  };
  let tallier: Tallier;
  try {
    ({ tallier } = await started(board, { feed }));
  } finally {
    ticking = false;
  }
  assert.equal(snapshotOf(tallier, id).ballots_counted, 1000);
  const ballotTurns = new Set(readIn.slice(1));
  assert.equal(readIn.length, 1001);
  assert.ok(ballotTurns.size >= Math.floor(1000 / SLICE), `1000 entries read in ${ballotTurns.size} event-loop turns (slices of ${SLICE})`);
  await tallier.stop();
});

test('the LiveStore: each published snapshot lands in it; republishing refills a store that lost everything, without new votes', async () => {
  const E = await election('republish');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 4)]);
  const live = new MemoryLiveStore();
  const { tallier, errors } = await started(board, { live, republishMs: 30 });
  assert.equal(tallier.live, live);
  assert.deepEqual(await live.snapshot(id), snapshotOf(tallier, id));

  const got: ResultsSnapshot[] = [];
  live.subscribe(id, (s) => got.push(s));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(got, [], 'republishing an unchanged snapshot notifies no one');

  live.clear();
  assert.equal(await live.snapshot(id), null);
  for (let i = 0; i < 100 && (await live.snapshot(id)) === null; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(await live.snapshot(id), snapshotOf(tallier, id));
  assert.deepEqual(got, [snapshotOf(tallier, id)], 'subscribers see the counts again');
  assert.deepEqual(errors, []);
  await tallier.stop();
  assert.throws(() => new Tallier({ feed: board, republishMs: 0 }), /republishMs: expected a positive number/);
});

test('a LiveStore that fails: reported once (kind "live"), counting goes on, and the next republish catches up', async () => {
  const E = await election('live-down');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 2)]);
  const inner = new MemoryLiveStore();
  let down = true;
  const live: LiveStore = {
    publish: async (s) => {
      if (down) throw new Error('live store unreachable (test)');
      return inner.publish(s);
    },
    snapshot: (p) => inner.snapshot(p),
    subscribe: (p, l) => inner.subscribe(p, l),
  };
  const { tallier, errors } = await started(board, { live, republishMs: 20, updateIntervalMs: 0 });
  board.append(id, ballots(E, 3, 2));
  await tallier.idle();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(errors, [{ pollId: id, message: 'live store unreachable (test)', kind: 'live' }]);
  assert.equal(snapshotOf(tallier, id).ballots_counted, 5);
  assert.equal(await inner.snapshot(id), null);

  down = false;
  for (let i = 0; i < 100 && (await inner.snapshot(id)) === null; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(await inner.snapshot(id), snapshotOf(tallier, id));
  down = true;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(errors.length, 2, 'a new outage after a success is reported again, once');
  await tallier.stop();
});

test('a LiveStore that hangs: republishes do not pile up behind a publish under way', async () => {
  const E = await election('live-hangs');
  const id = E.poll.poll_id;
  const board = new MemoryBoard();
  board.append(id, [E.poll, ...ballots(E, 2)]);
  const inner = new MemoryLiveStore();
  let calls = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const live: LiveStore = {
    publish: async (s) => {
      calls++;
      await held;
      return inner.publish(s);
    },
    snapshot: (p) => inner.snapshot(p),
    subscribe: (p, l) => inner.subscribe(p, l),
  };
  const { tallier } = await started(board, { live, republishMs: 10 });
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(calls, 1, 'one publish, no republish while it is under way');
  release();
  for (let i = 0; i < 100 && calls < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(calls >= 3, 'republishing resumes once the store answers');
  await tallier.stop();
  assert.deepEqual(await inner.snapshot(id), snapshotOf(tallier, id));
});
