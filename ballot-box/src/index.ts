/**
 * @blindvote/ballot-box: anonymous ballot intake. A fastify plugin (`ballotBox`) serving
 * `POST /v1/ballots`, coded against two ports the composition root wires (`ports.ts`).
 */
export { ballotBox, BALLOTS_ROUTE, DEFAULT_MAX_BODY_BYTES } from './plugin.ts';
export type { BallotBoxOptions } from './plugin.ts';
export { admitBallot } from './admit.ts';
export type { Admitted } from './admit.ts';
export type { BallotSink, OpenPoll, PollDirectory, SubmitOutcome } from './ports.ts';
export {
  BallotMalformed,
  BallotTooLarge,
  ChoiceInvalid,
  Internal,
  Overloaded,
  PollClosed,
  PollNotFound,
  PollNotOpen,
  TokenInvalid,
  TokenSpent,
  UnsupportedMediaType,
} from './errors.ts';
export { BallotBody, ErrorBody, ReceiptBody, TokenBody, ballotRouteSchema } from './schemas.ts';
export { schemaErrorFormatter } from './schema-errors.ts';
