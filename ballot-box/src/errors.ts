/**
 * Every way `POST /v1/ballots` refuses a ballot, one error per reason (never one "invalid" for
 * all: STYLE.md, Belenios anti-pattern). Fastify replies `{statusCode, code, error, message}`;
 * each message names the field and says what to fix. A refused ballot changes no state.
 */
import createError from '@fastify/error';

/** 413: the body is over the plugin's `maxBodyBytes`. Argument: the limit in bytes. */
export const BallotTooLarge = createError<'BV_BALLOT_TOO_LARGE', 413, [number]>(
  'BV_BALLOT_TOO_LARGE',
  'request body: larger than %d bytes; send one v1 ballot object and nothing else',
  413,
);

/** 415: anything but application/json. Argument: what the request said. */
export const UnsupportedMediaType = createError<'BV_UNSUPPORTED_MEDIA_TYPE', 415, [string]>(
  'BV_UNSUPPORTED_MEDIA_TYPE',
  'Content-Type: must be application/json, got %s',
  415,
);

/** 400: not JSON, not a v1 ballot, bad base64 or lengths. Argument: the problem with its field path. */
export const BallotMalformed = createError<'BV_BALLOT_MALFORMED', 400, [string]>('BV_BALLOT_MALFORMED', '%s', 400);

/** 404. Argument: the poll id. */
export const PollNotFound = createError<'BV_POLL_NOT_FOUND', 404, [string]>(
  'BV_POLL_NOT_FOUND',
  'ballot.poll_id: no published poll "%s"; use the poll_id of a poll listed by GET /v1/polls',
  404,
);

/** 425 Too Early. Arguments: poll id, opens_at. */
export const PollNotOpen = createError<'BV_POLL_NOT_OPEN', 425, [string, string]>(
  'BV_POLL_NOT_OPEN',
  'poll "%s" opens at %s; cast the ballot from then on',
  425,
);

/** 410. Arguments: poll id, how it closed ("closed at <closes_at>" or that the board closed it). */
export const PollClosed = createError<'BV_POLL_CLOSED', 410, [string, string]>(
  'BV_POLL_CLOSED',
  'poll "%s" %s; it accepts no more ballots',
  410,
);

/** 422: a well-formed choice the manifest refuses. Argument: the problem with its field path. */
export const ChoiceInvalid = createError<'BV_CHOICE_INVALID', 422, [string]>('BV_CHOICE_INVALID', '%s', 422);

/** 403. Argument: the poll id. */
export const TokenInvalid = createError<'BV_TOKEN_INVALID', 403, [string]>(
  'BV_TOKEN_INVALID',
  'ballot.token: token signature does not verify under this poll\'s key; cast a token issued for poll "%s", unaltered',
  403,
);

/** 409 (DESIGN.md promise 2). Argument: the board index of the entry that spent the token. */
export const TokenSpent = createError<'BV_TOKEN_SPENT', 409, [number]>(
  'BV_TOKEN_SPENT',
  'ballot.token: already spent by the ballot at index %d of the board; a token casts one ballot (resubmitting that exact ballot returns its receipt)',
  409,
);

/** 429 + Retry-After. Argument: seconds to wait. */
export const Overloaded = createError<'BV_OVERLOADED', 429, [number]>(
  'BV_OVERLOADED',
  'the board is busy and recorded nothing; resubmit the same ballot after %d seconds (Retry-After)',
  429,
);

/** 500: details stay in the log. Resubmitting is safe: an identical ballot is idempotent. */
export const Internal = createError<'BV_INTERNAL', 500, []>(
  'BV_INTERNAL',
  'internal error: the ballot may not have been recorded; resubmit the same ballot (an identical resubmission returns the original receipt)',
  500,
);

/** 404 on the receipt exchange: the leaf is not on the board yet. Arguments: poll id, seconds to wait. */
export const ReceiptNotYet = createError<'BV_RECEIPT_NOT_YET', 404, [string, number]>(
  'BV_RECEIPT_NOT_YET',
  'poll "%s": no ballot with this leaf hash is on the board yet; it was accepted if you hold a signed acceptance, so ask again after %d seconds',
  404,
);

/** 403 on the receipt exchange of a sealed poll before its close: it would reveal ballots by leaf hash. Argument: poll id. */
export const ReceiptSealed = createError<'BV_RECEIPT_SEALED', 403, [string]>(
  'BV_RECEIPT_SEALED',
  'poll "%s" is sealed until it closes, so ballots are not served by leaf hash; to get your receipt, POST your identical ballot to /v1/ballots again',
  403,
);
