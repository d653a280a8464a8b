/**
 * The Board's lifecycle on a real SQLite log: publish → ballots (receipt material verifies) →
 * close (after every accepted ballot, before any other) → tally; idempotency of each step;
 * state read back from the log after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Ballot, Checkpoint, Close, generateSignerKey, parseNote, leafHash, NoteSigner, openCheckpoint, parseEntry, Tally, verifyInclusion,
} from '@blindvote/crypto';
import { Board } from './board.ts';
import type { BallotAppend } from './board.ts';
import { BoardConflictError, PollClosedError, UnknownPollError } from './errors.ts';
import { EntryRejectedError, OverloadedError } from './sequencer.ts';
import { BASE_URL, ballot, manifest, tallyOf, testBoard } from './testing/board.ts';

const ORIGIN = (pollId: string) => `board.test/poll/${pollId}`;

/** Asserts the receipt material: a checkpoint signed by the board, whose tree holds the ballot's leaf. */
function assertReceipt(board: Board, pollId: string, r: BallotAppend, bytes: Uint8Array): void {
  assert.ok(r.status === 'appended' || r.status === 'duplicate', `status ${r.status}`);
  assert.deepEqual(r.leafHash, leafHash(bytes));
  const { checkpoint } = openCheckpoint(r.checkpoint, [board.verifierKey!], ORIGIN(pollId));
  verifyInclusion(r.leafHash, r.leafIndex, checkpoint.size, r.inclusionProof, checkpoint.root);
}

async function allEntries(board: Board, pollId: string): Promise<Uint8Array[]> {
  const state = await board.state(pollId);
  return board.entries(pollId, 0, state!.size);
}

test('publish: the manifest is entry 0 of a new log; the same again resolves; another manifest or key is refused', async () => {
  const t = testBoard();
  try {
    const { board, signer } = t;
    assert.equal(board.boardUrl('p1'), `${BASE_URL}/poll/p1`);
    assert.equal(await board.state('p1'), null);
    const poll = await manifest(signer, 'p1');
    await board.publish(poll);
    await board.publish(poll);
    const state = await board.state('p1');
    assert.equal(state?.size, 1);
    assert.deepEqual([state?.closed, state?.tallied], [false, false]);
    assert.deepEqual(state?.poll.serialize(), poll.serialize());
    assert.equal(openCheckpoint(state!.checkpoint, [board.verifierKey!], ORIGIN('p1')).checkpoint.size, 1);
    assert.deepEqual(await board.entries('p1', 0, 10), [poll.serialize()]);
    assert.equal(await board.checkpoint('p1'), state?.checkpoint);

    await assert.rejects(board.publish(await manifest(signer, 'p1', { title: 'Another title' })), BoardConflictError);
    const foreign = await manifest(new NoteSigner(generateSignerKey('board.test').signerKey), 'p2');
    await assert.rejects(board.publish(foreign), (e: Error) => e instanceof BoardConflictError && /board_key/.test(e.message));
    assert.equal(await board.state('p2'), null, 'a refused manifest creates no log');
    assert.deepEqual(await board.polls(), ['p1']);
    assert.equal((await board.state('p1'))?.size, 1);
  } finally {
    await t.close();
  }
});

test('publish: concurrent calls with the same manifest append it once; a new Board sees a different one as a conflict', async () => {
  const t = testBoard();
  try {
    const poll = await manifest(t.signer, 'p1');
    await Promise.all(Array.from({ length: 5 }, () => t.board.publish(poll)));
    assert.equal((await t.board.state('p1'))?.size, 1);
    const again = new Board({ storage: t.storage, signer: t.signer, baseUrl: BASE_URL });
    await again.publish(poll);
    await assert.rejects(again.publish(await manifest(t.signer, 'p1', { description: 'changed' })), BoardConflictError);
    // Two different manifests racing for one new poll: exactly one wins.
    const [x, y] = await Promise.allSettled([
      t.board.publish(await manifest(t.signer, 'p4', { title: 'one' })),
      again.publish(await manifest(t.signer, 'p4', { title: 'two' })),
    ]);
    assert.deepEqual([x.status, y.status].sort(), ['fulfilled', 'rejected']);
    assert.ok((x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason) instanceof BoardConflictError);
    assert.equal((await t.board.state('p4'))?.size, 1);
  } finally {
    await t.close();
  }
});

test('appendBallot: appended and duplicate come with a verifiable receipt; a spent token names its entry', async () => {
  const t = testBoard();
  try {
    const { board } = t;
    await board.publish(await manifest(t.signer, 'p1'));
    const ballots = Array.from({ length: 40 }, (_, i) => ballot('p1', ['a', 'b', 'c'][i % 3]));
    const results = await Promise.all(ballots.map((b) => board.appendBallot(b)));
    results.forEach((r, i) => {
      assert.equal(r.status, 'appended');
      assertReceipt(board, 'p1', r, ballots[i]!.serialize());
    });
    assert.deepEqual(results.map((r) => (r.status === 'appended' ? r.leafIndex : -1)).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));

    // Later appends move the head: a duplicate's receipt is against the latest checkpoint.
    await board.appendBallot(ballot('p1'));
    const dup = await board.appendBallot(ballots[7]!);
    assert.equal(dup.status, 'duplicate');
    assertReceipt(board, 'p1', dup, ballots[7]!.serialize());
    assert.equal(openCheckpoint((dup as { checkpoint: string }).checkpoint, [board.verifierKey!]).checkpoint.size, 42);
    assert.equal((dup as { leafIndex: number }).leafIndex, (results[7] as { leafIndex: number }).leafIndex);

    const other = ballot('p1', 'c', ballots[7]!.token);
    assert.deepEqual(await board.appendBallot(other), { status: 'spent', index: (results[7] as { leafIndex: number }).leafIndex });
    assert.equal((await board.state('p1'))?.size, 42);
  } finally {
    await t.close();
  }
});

test('appendBallot: unknown poll, a choice the manifest refuses, a full queue are refused and append nothing', async () => {
  const t = testBoard({ sequencer: { maxQueue: 3 } });
  try {
    const { board } = t;
    await assert.rejects(board.appendBallot(ballot('nope')), UnknownPollError);
    await board.publish(await manifest(t.signer, 'p1'));
    await assert.rejects(board.appendBallot(ballot('p1', 'z')), (e: Error) => e instanceof EntryRejectedError && /unknown option id "z"/.test(e.message));
    const settled = await Promise.allSettled(Array.from({ length: 8 }, () => board.appendBallot(ballot('p1'))));
    const refused = settled.filter((s) => s.status === 'rejected');
    assert.ok(refused.length > 0 && refused.every((s) => s.reason instanceof OverloadedError), 'a full queue pushes back');
    assert.equal((await board.state('p1'))?.size, 1 + settled.length - refused.length);
    assert.deepEqual(await board.polls(), ['p1']);
  } finally {
    await t.close();
  }
});

test('closePoll: the close entry counts the ballots before it; afterwards ballots are refused; closing again appends nothing', async () => {
  const t = testBoard();
  try {
    const { board } = t;
    await board.publish(await manifest(t.signer, 'p1'));
    const early = Array.from({ length: 5 }, () => ballot('p1'));
    const receipts = await Promise.all(early.map((b) => board.appendBallot(b)));
    // Checks that fail change nothing: more ballots than issued tokens, more issued than the roll, before opening.
    await assert.rejects(board.closePoll('p1', 4, new Date('2026-03-01T18:00:00Z')), (e: Error) => e instanceof EntryRejectedError && /exceeds issued/.test(e.message));
    await assert.rejects(board.closePoll('p1', 1001, new Date('2026-03-01T18:00:00Z')), /roll has 1000/);
    await assert.rejects(board.closePoll('p1', 10, new Date('2026-02-01T00:00:00Z')), /before the poll's opens_at/);
    await assert.rejects(board.closePoll('p1', 10, new Date(Number.NaN)), EntryRejectedError);
    assert.equal((await board.appendBallot(ballot('p1'))).status, 'appended', 'a refused close leaves the poll open');
    await assert.rejects(board.closePoll('nope', 1, new Date()), UnknownPollError);

    await board.closePoll('p1', 9, new Date('2026-03-01T18:00:00.750Z'));
    const entries = await allEntries(board, 'p1');
    assert.equal(entries.length, 8);
    const close = Close.deserialize(entries[7]!);
    assert.deepEqual(close.toJSON(), { type: 'close', v: 1, poll_id: 'p1', closed_at: '2026-03-01T18:00:00Z', ballots: 6, issued: 9 });
    const state = await board.state('p1');
    assert.deepEqual([state?.size, state?.closed, state?.tallied], [8, true, false]);
    const status = await board.status('p1');
    assert.deepEqual([status?.poll.poll_id, status?.closed, status?.tallied], ['p1', true, false]);
    assert.equal(await board.status('nope'), null);

    await assert.rejects(board.appendBallot(ballot('p1')), PollClosedError);
    await board.closePoll('p1', 20, new Date());
    assert.equal((await board.state('p1'))?.size, 8);

    // A retry whose answer was lost still finds its receipt after the close; nothing else does.
    const found = await board.recordedBallot(early[2]!);
    assert.equal(found?.status, 'duplicate');
    assert.equal(found?.leafIndex, (receipts[2] as { leafIndex: number }).leafIndex);
    assert.equal(Checkpoint.parse(parseNote(found!.checkpoint).text).size, 8);
    assert.equal(await board.recordedBallot(ballot('p1')), null, 'a new ballot');
    assert.equal(await board.recordedBallot(new Ballot({ poll_id: 'p1', token: early[2]!.token, choice: early[2]!.choice[0] === 'park' ? ['bikes'] : ['park'] })), null, 'same token, other choice');
    assert.equal((await board.state('p1'))?.size, 8, 'lookups append nothing');
  } finally {
    await t.close();
  }
});

test('closing race: every ballot acknowledged is before the close entry and counted in it; every other one got PollClosedError', async () => {
  for (const [round, maxBatch] of [[0, 4096], [1, 7], [2, 1], [3, 32]] as const) {
    const t = testBoard({ sequencer: { maxBatch } });
    try {
      const { board } = t;
      await board.publish(await manifest(t.signer, 'p1'));
      const calls: Promise<BallotAppend>[] = [];
      const fire = (n: number) => {
        for (let i = 0; i < n; i++) calls.push(board.appendBallot(ballot('p1', 'b')));
      };
      fire(150 + round * 40);
      let closing: Promise<void> | undefined;
      // Ballots keep arriving on later turns while the close is under way.
      await new Promise<void>((resolve) => {
        let turns = 0;
        const tick = () => {
          fire(20);
          if (turns === 2 + round) closing = board.closePoll('p1', 1000, new Date('2026-03-01T18:00:00Z'));
          if (++turns < 12) setImmediate(tick);
          else resolve();
        };
        setImmediate(tick);
      });
      await closing;
      const settled = await Promise.allSettled(calls);
      const appended = settled.flatMap((s) => (s.status === 'fulfilled' && s.value.status === 'appended' ? [s.value.leafIndex] : []));
      const refused = settled.filter((s) => s.status === 'rejected');
      assert.equal(appended.length + refused.length, calls.length, `round ${round}: every call either appended or was refused`);
      for (const s of refused) assert.ok((s as PromiseRejectedResult).reason instanceof PollClosedError, `round ${round}: ${(s as PromiseRejectedResult).reason}`);
      assert.ok(appended.length > 0 && refused.length > 0, `round ${round}: the close raced the ballots (${appended.length} appended, ${refused.length} refused)`);

      const entries = await allEntries(board, 'p1');
      const closeIndex = entries.findIndex((e) => parseEntry(e).type === 'close');
      assert.equal(closeIndex, entries.length - 1, `round ${round}: the close entry is last`);
      assert.equal(Close.deserialize(entries[closeIndex]!).ballots, appended.length, `round ${round}: close.ballots`);
      assert.ok(appended.every((i) => i < closeIndex), `round ${round}: every acknowledged ballot precedes the close`);
      assert.equal(entries.length, appended.length + 2);
    } finally {
      await t.close();
    }
  }
});

test('appendTally: only after the close, only the board\'s tree and root, only once', async () => {
  const t = testBoard();
  try {
    const { board } = t;
    await board.publish(await manifest(t.signer, 'p1'));
    await Promise.all(['a', 'b', 'b', 'c', 'b'].map((c) => board.appendBallot(ballot('p1', c))));
    // A tally of the board as it would be, closed at another time: well-formed, not this board's.
    const early = new Close({ poll_id: 'p1', closed_at: '2026-03-01T12:00:00Z', ballots: 5, issued: 5 });
    const premature = tallyOf([...(await allEntries(board, 'p1')), early.serialize()]);
    await assert.rejects(board.appendTally('p1', premature.serialize()), (e: Error) => e instanceof BoardConflictError && /not closed/.test(e.message));
    await assert.rejects(board.appendTally('nope', premature.serialize()), UnknownPollError);

    await board.closePoll('p1', 5, new Date('2026-03-01T18:00:00Z'));
    const entries = await allEntries(board, 'p1');
    const tally = tallyOf(entries);
    assert.deepEqual({ ...tally.counts }, { a: 1, b: 3, c: 1 });
    const wrong = (fields: Partial<ConstructorParameters<typeof Tally>[0]>) => new Tally({ ...tally.toJSON(), root: tally.root, counts: { ...tally.counts }, ...fields }).serialize();
    await assert.rejects(board.appendTally('p1', new Uint8Array([123, 125])), EntryRejectedError);
    await assert.rejects(board.appendTally('p1', wrong({ tree_size: 8, ballots_rejected: 1 })), /tally.tree_size: 8, but the board up to and including its close entry has 7/);
    await assert.rejects(board.appendTally('p1', premature.serialize()), /tally.root: not the root/);
    await assert.rejects(board.appendTally('p1', wrong({ counts: { a: 1, b: 4, c: 1 } })), (e: Error) => e instanceof EntryRejectedError && /sum 6/.test(e.message));
    await assert.rejects(board.appendTally('p1', wrong({ counts: { a: 1, b: 3, d: 1 } })), EntryRejectedError);
    assert.equal((await board.state('p1'))?.size, 7, 'refused tallies append nothing');

    await board.appendTally('p1', tally.serialize());
    await board.appendTally('p1', tally.serialize());
    const state = await board.state('p1');
    assert.deepEqual([state?.size, state?.closed, state?.tallied], [8, true, true]);
    assert.deepEqual((await board.entries('p1', 7, 8))[0], tally.serialize());
    const other = wrong({ counts: { a: 2, b: 2, c: 1 } });
    await assert.rejects(board.appendTally('p1', other), (e: Error) => e instanceof BoardConflictError && /different tally/.test(e.message));
    await board.closePoll('p1', 5, new Date());
    assert.equal((await board.state('p1'))?.size, 8);
  } finally {
    await t.close();
  }
});

test('restart: a new Board over the same storage reads open, closed and tallied from the log', async () => {
  const t = testBoard();
  try {
    const { board, storage, signer } = t;
    for (const id of ['open', 'closed', 'tallied']) {
      await board.publish(await manifest(signer, id));
      await Promise.all([board.appendBallot(ballot(id)), board.appendBallot(ballot(id, 'c'))]);
    }
    await board.closePoll('closed', 2, new Date('2026-03-01T18:00:00Z'));
    await board.closePoll('tallied', 2, new Date('2026-03-01T18:00:00Z'));
    const tally = tallyOf(await allEntries(board, 'tallied'));
    await board.appendTally('tallied', tally.serialize());
    await board.shutdown();

    const again = new Board({ storage, signer, baseUrl: BASE_URL });
    assert.deepEqual(await again.polls(), ['closed', 'open', 'tallied']);
    const flags = async (id: string) => {
      const s = await again.state(id);
      return [s?.size, s?.closed, s?.tallied];
    };
    assert.deepEqual(await flags('open'), [3, false, false]);
    assert.deepEqual(await flags('closed'), [4, true, false]);
    assert.deepEqual(await flags('tallied'), [5, true, true]);

    assert.equal((await again.appendBallot(ballot('open'))).status, 'appended');
    await assert.rejects(again.appendBallot(ballot('closed')), PollClosedError);
    await assert.rejects(again.appendBallot(ballot('tallied')), PollClosedError);
    await again.closePoll('closed', 2, new Date());
    await again.appendTally('tallied', tally.serialize());
    await again.appendTally('closed', tallyOf(await allEntries(again, 'closed')).serialize());
    await again.publish((await again.state('open'))!.poll);
    assert.deepEqual(await flags('closed'), [5, true, true]);
    assert.deepEqual(await flags('tallied'), [5, true, true]);
    await again.shutdown();
  } finally {
    await t.close();
  }
});

test('onAppend: a log created (0), then every committed growth once; unsubscribe; a throwing listener harms nothing', async () => {
  const t = testBoard();
  try {
    const { board } = t;
    const seen: [string, number][] = [];
    const stop = board.onAppend((pollId, size) => seen.push([pollId, size]));
    board.onAppend(() => {
      throw new Error('listener failure');
    });
    await board.publish(await manifest(t.signer, 'p1'));
    await Promise.all(Array.from({ length: 10 }, () => board.appendBallot(ballot('p1'))));
    await board.appendBallot(ballot('p1'));
    assert.deepEqual(seen.slice(0, 2), [['p1', 0], ['p1', 1]]);
    const sizes = seen.slice(2).map(([, size]) => size);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => a - b), 'sizes only grow');
    assert.equal(new Set(sizes).size, sizes.length, 'each size once');
    assert.equal(sizes.at(-1), 12);
    stop();
    await board.closePoll('p1', 11, new Date('2026-03-01T18:00:00Z'));
    assert.equal(seen.at(-1)?.[1], 12, 'no call after unsubscribing');
  } finally {
    await t.close();
  }
});

test('shutdown: appends in progress complete; every later write is refused with OverloadedError', async () => {
  const t = testBoard();
  try {
    const { board } = t;
    await board.publish(await manifest(t.signer, 'p1'));
    const pending = Array.from({ length: 50 }, () => board.appendBallot(ballot('p1')));
    let settled = 0;
    for (const p of pending) void p.then(() => settled++);
    await board.shutdown();
    assert.equal(settled, 50, 'shutdown resolved after every append in progress');
    assert.ok((await Promise.all(pending)).every((r) => r.status === 'appended'));
    await assert.rejects(board.appendBallot(ballot('p1')), OverloadedError);
    await assert.rejects(board.closePoll('p1', 50, new Date()), OverloadedError);
    await assert.rejects(board.publish(await manifest(t.signer, 'p2')), OverloadedError);
    assert.equal((await board.state('p1'))?.size, 51, 'reads still work');
  } finally {
    await t.close();
  }
});

test('construction: the base URL must be a normalized http(s) URL without a trailing slash', () => {
  const signer = new NoteSigner(generateSignerKey('board.test').signerKey);
  const storage = {} as never;
  for (const baseUrl of ['http://board.test/', 'ftp://board.test', 'http://Board.test', 'board.test']) {
    assert.throws(() => new Board({ storage, signer, baseUrl }), /baseUrl/, baseUrl);
  }
  assert.equal(new Board({ storage, signer, baseUrl: 'https://vote.example/x' }).boardUrl('p'), 'https://vote.example/x/poll/p');
});
