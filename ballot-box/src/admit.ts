/**
 * Whether a ballot may go to the board: every check the ballot box makes before the sequencer
 * (DESIGN.md protocol: "verify sig, poll open, choice valid"), in a fixed order so that each
 * refusal is the first problem found:
 *
 *   1. the ballot is well-formed v1 (`Ballot.fromJSON`: base64, lengths, option id syntax) → 400
 *   2. the poll exists → 404, has opened → 425, has not closed → 410
 *   3. the choice fits the manifest (`Poll.checkChoice`) → 422; so does a choice that no manifest
 *      could accept (empty, duplicated or unsorted ids), reported after step 2
 *   4. the signature has the key's length → 400, and verifies under the poll's key → 403
 *
 * Nothing here writes anything: a refused ballot changes no state. The ballot box learns what,
 * never who (promise 5): the only input is the ballot.
 */
import { Ballot, FormatError, checkPollId } from '@blindvote/crypto';
import type { Static } from 'typebox';
import { BallotMalformed, ChoiceInvalid, PollClosed, PollNotFound, PollNotOpen, TokenInvalid } from './errors.ts';
import type { OpenPoll, PollDirectory } from './ports.ts';
import type { BallotBody } from './schemas.ts';

export interface Admitted {
  readonly ballot: Ballot;
  readonly poll: OpenPoll;
  /**
   * Why the poll takes no new ballots (closed on its board, or past closes_at), or null. A closed
   * poll still answers a byte-identical retry with its original receipt, so the ballot comes back.
   */
  readonly closed: string | null;
}

/** crypto's messages start with the field path: `ballot.choice: …` or `ballot.choice[2]: …`. */
const CHOICE_PROBLEM = /^ballot\.choice[:[]/;

/** `body` has passed `BallotBody`; `now` is ms since the epoch. Throws the errors of `errors.ts`. */
export async function admitBallot(body: Static<typeof BallotBody>, polls: PollDirectory, now: number): Promise<Admitted> {
  let ballot: Ballot | null = null;
  let choiceProblem: string | null = null;
  try {
    ballot = Ballot.fromJSON(body);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    if (!CHOICE_PROBLEM.test(err.message)) throw new BallotMalformed(err.message);
    choiceProblem = err.message;
  }
  const pollId = ballot?.poll_id ?? pollIdOf(body);

  const open = await polls.get(pollId);
  if (open === null) throw new PollNotFound(pollId);
  const { poll } = open;
  const closed = open.closed ? 'was closed on its board' : now >= Date.parse(poll.closes_at) ? `closed at ${poll.closes_at}` : null;
  if (closed !== null) {
    if (ballot === null) throw new PollClosed(pollId, closed);
    return { ballot, poll: open, closed };
  }
  if (now < Date.parse(poll.opens_at)) throw new PollNotOpen(pollId, poll.opens_at);

  if (ballot === null) throw new ChoiceInvalid(choiceProblem ?? 'ballot.choice: invalid');
  try {
    poll.checkChoice(ballot.choice);
  } catch (err) {
    if (err instanceof FormatError) throw new ChoiceInvalid(err.message);
    throw err;
  }

  if (ballot.token.sig.length !== poll.tokenSigLength) {
    throw new BallotMalformed(`ballot.token.sig: ${ballot.token.sig.length} bytes, poll "${pollId}" has a token key that signs ${poll.tokenSigLength}`);
  }
  if (!(await open.verifier.verify(pollId, ballot.token))) throw new TokenInvalid(pollId);
  return { ballot, poll: open, closed: null };
}

/** The poll id of a ballot refused only for its choice: still a well-formed id, or 400. */
function pollIdOf(body: Static<typeof BallotBody>): string {
  try {
    return checkPollId(body.poll_id, 'ballot.poll_id');
  } catch (err) {
    throw new BallotMalformed((err as Error).message);
  }
}
