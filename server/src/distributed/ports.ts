/**
 * The distributed wiring: the same component ports as `wiring.ts`, backed by board commands over
 * Kafka (writes, answered by the sequencer through Redis) and a reader Board on the board's
 * database (reads). The components cannot tell the difference, except that a ballot the
 * sequencer has not committed within the wait comes back `pending` (the ballot box's 202).
 */
import type { BallotSink, SubmitOutcome } from '@blindvote/ballot-box';
import { Board } from '@blindvote/bulletin-board';
import { formatTime, leafHash } from '@blindvote/crypto';
import type { Ballot, Poll } from '@blindvote/crypto';
import type { BoardPublisher } from '@blindvote/issuer';
import type { BoardFeed } from '@blindvote/tallier';
import type { Bus, BusConsumer } from './bus.ts';
import type { BoardClient, Names, Reply } from './commands.ts';

/** How long the issuer and the tallier wait for the sequencer before they fail (and retry later); under the gateway's 30 s. */
const WRITE_WAIT_MS = 25_000;
/** How often a tallier looks at every poll whether or not it was notified (catches missed notifications). */
const SWEEP_MS = 10_000;

/** A reply that is not a success, as the error the in-process Board would have thrown. */
function failure(what: string, pollId: string, reply: Reply | null): Error {
  if (reply === null) return new Error(`board: the sequencer did not confirm the ${what} of poll "${pollId}" within ${WRITE_WAIT_MS / 1000} s; it is queued and retrying is safe`);
  if (reply.status === 'refused') return new Error(`board refused the ${what} of poll "${pollId}" (${reply.reason}): ${reply.message}`);
  return new Error(`board: unexpected answer "${reply.status}" to the ${what} of poll "${pollId}"`);
}

export function remoteBoardPublisher(client: BoardClient, verifierKey: string, publicUrl: string): BoardPublisher {
  return {
    verifierKey,
    boardUrl: (pollId) => `${publicUrl}/poll/${pollId}`,
    async publish(manifest: Poll) {
      const reply = await client.request({ kind: 'publish', poll_id: manifest.poll_id, entry: manifest.serialize() }, WRITE_WAIT_MS);
      if (reply?.status !== 'ok') throw failure('manifest', manifest.poll_id, reply);
    },
    async close(pollId: string, issued: number, closedAt: Date) {
      const reply = await client.request({ kind: 'close', poll_id: pollId, issued, closed_at: formatTime(closedAt) }, WRITE_WAIT_MS);
      if (reply?.status !== 'ok') throw failure('close', pollId, reply);
    },
  };
}

/** Ballots go to the sequencer; `recorded` and `byLeafHash` read the board's database. */
export function remoteBallotSink(client: BoardClient, reader: Board, waitMs: number): BallotSink {
  return {
    async submit(ballot: Ballot): Promise<SubmitOutcome> {
      const reply = await client.request({ kind: 'ballot', poll_id: ballot.poll_id, entry: ballot.serialize() }, waitMs);
      if (reply === null) return { status: 'pending', leafHash: leafHash(ballot.serialize()) };
      switch (reply.status) {
        case 'appended':
        case 'duplicate':
          return { status: reply.status, leafIndex: reply.leaf_index, leafHash: reply.leaf_hash, checkpoint: reply.checkpoint, inclusionProof: reply.inclusion_proof };
        case 'spent':
          return { status: 'spent', index: reply.index };
        case 'closed':
          return { status: 'closed' };
        default:
          throw failure('ballot', ballot.poll_id, reply);
      }
    },
    recorded: (ballot) => reader.recordedBallot(ballot),
    byLeafHash: (pollId, hash) => reader.ballotByLeafHash(pollId, hash),
  };
}

/**
 * The tallier's feed: reads from the board's database, append notifications from the entries
 * topic (a consumer group: each poll's notifications reach one tallier), tallies as commands.
 */
export function remoteBoardFeed(client: BoardClient, reader: Board, bus: Bus, names: Names): BoardFeed & { start(): Promise<void>; stop(): Promise<void> } {
  const listeners = new Set<(pollId: string, size: number) => void>();
  let consumer: BusConsumer | null = null;
  let sweep: ReturnType<typeof setInterval> | null = null;
  return {
    polls: () => reader.polls(),
    checkpoint: (pollId) => reader.checkpoint(pollId),
    entries: (pollId, from, to) => reader.entries(pollId, from, to),
    onAppend(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async appendTally(pollId, tally) {
      const reply = await client.request({ kind: 'tally', poll_id: pollId, entry: tally }, WRITE_WAIT_MS);
      if (reply?.status !== 'ok') throw failure('tally', pollId, reply);
    },
    async start() {
      consumer = await bus.consumer({ group: names.tallierGroup, topics: [names.entriesTopic], start: 'latest' });
      await consumer.run(async (records) => {
        for (const record of records) {
          let note: { poll_id: string; size: number };
          try {
            note = JSON.parse(Buffer.from(record.value).toString('utf8')) as { poll_id: string; size: number };
          } catch {
            continue; // not a notification: nothing to do, and it MUST NOT block the partition
          }
          for (const listener of listeners) listener(note.poll_id, note.size);
        }
      });
      // Notifications are committed as soon as they are handed over: if the tallier that got a
      // poll's last one dies before the tally, the sweep lets any tallier finish it.
      sweep = setInterval(() => {
        reader.polls().then((polls) => {
          for (const pollId of polls) for (const listener of listeners) listener(pollId, -1);
        }, () => undefined);
      }, SWEEP_MS);
      sweep.unref();
    },
    async stop() {
      if (sweep !== null) clearInterval(sweep);
      await consumer?.close();
    },
  };
}
