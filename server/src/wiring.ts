/**
 * The in-process wiring of the all-in-one mode: each component's declared ports (issuer's
 * BoardPublisher, the ballot box's PollDirectory and BallotSink, the tallier's BoardFeed)
 * backed straight by the bulletin board. The distributed mode backs the same ports with HTTP
 * and Kafka clients instead; the components cannot tell. Also what both modes pass the issuer
 * from the configuration (`issuerSettings`).
 */
import type { BallotSink, PollDirectory, OpenPoll, SubmitOutcome } from '@blindvote/ballot-box';
import { Board, OverloadedError, PollClosedError, UnknownPollError } from '@blindvote/bulletin-board';
import { TokenVerifier } from '@blindvote/crypto';
import type { Ballot, Poll } from '@blindvote/crypto';
import type { BoardPublisher, IdpOptions, IssuerOptions } from '@blindvote/issuer';
import type { BoardFeed } from '@blindvote/tallier';
import type { Config } from './config.ts';

/** The issuer's options that come from the configuration: the same in both modes. */
export function issuerSettings(config: Config) {
  return {
    admins: [config.adminUsername, ...config.admins],
    allowRegistration: config.allowRegistration,
    registrationPow: config.registrationPow,
    tokenKeyBits: config.tokenKeyBits,
    signingThreads: config.signingThreads,
    rateLimit: config.rateLimits,
    idp: config.idp as IdpOptions | null,
  } satisfies Partial<IssuerOptions>;
}

export function boardPublisher(board: Board): BoardPublisher {
  if (board.verifierKey === null) throw new Error('boardPublisher: the board is a reader; publish through the sequencer');
  return {
    verifierKey: board.verifierKey,
    boardUrl: (pollId) => board.boardUrl(pollId),
    publish: (manifest) => board.publish(manifest),
    close: (pollId, issued, closedAt) => board.closePoll(pollId, issued, closedAt),
  };
}

export function boardFeed(board: Board): BoardFeed {
  return {
    polls: () => board.polls(),
    checkpoint: (pollId) => board.checkpoint(pollId),
    entries: (pollId, from, to) => board.entries(pollId, from, to),
    onAppend: (listener) => board.onAppend(listener),
    appendTally: (pollId, tally) => board.appendTally(pollId, tally),
  };
}

/** Manifests are immutable, so each poll's parsed manifest and imported token key are kept. */
export function pollDirectory(board: Board): PollDirectory {
  const verifiers = new Map<string, { poll: Poll; verifier: Promise<TokenVerifier> }>();
  return {
    async get(pollId: string): Promise<OpenPoll | null> {
      const state = await board.status(pollId);
      if (state === null) return null;
      let known = verifiers.get(pollId);
      if (known === undefined) {
        known = { poll: state.poll, verifier: TokenVerifier.fromPoll(state.poll) };
        verifiers.set(pollId, known);
      }
      return { poll: known.poll, verifier: await known.verifier, board: board.boardUrl(pollId), closed: state.closed };
    },
  };
}

export function ballotSink(board: Board): BallotSink {
  return {
    async submit(ballot: Ballot): Promise<SubmitOutcome> {
      try {
        return await board.appendBallot(ballot);
      } catch (err) {
        if (err instanceof PollClosedError) return { status: 'closed' };
        if (err instanceof OverloadedError) return { status: 'overloaded', retryAfterSeconds: err.retryAfterSeconds };
        // Published polls always have a log; a missing one is an internal fault, not a 404.
        if (err instanceof UnknownPollError) throw new Error(`the board has no log for poll ${JSON.stringify(ballot.poll_id)}`, { cause: err });
        throw err;
      }
    },
    recorded: (ballot: Ballot) => board.recordedBallot(ballot),
    byLeafHash: (pollId: string, leafHash: Uint8Array) => board.ballotByLeafHash(pollId, leafHash),
  };
}
