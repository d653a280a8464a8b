/**
 * Every error the issuer's routes answer with (fastify's reply `{statusCode, code, error,
 * message}`). Messages say what to fix. They MUST NOT contain a blinded message, a signature, a
 * password or a token: only ids the caller already sent or owns.
 */
import createError from '@fastify/error';

// 400
export const PollInvalid = createError('BV_POLL_INVALID', '%s', 400);
export const PowRequired = createError('BV_POW_REQUIRED', 'pow: required here: GET /v1/accounts/challenge, solve it and send {challenge, solution}', 400);
export const PowInvalid = createError('BV_POW_INVALID', 'pow.%s', 400);
export const BlindedMsgInvalid = createError('BV_BLINDED_MSG_INVALID', 'blinded_msg: %s', 400);
// 401
export const Unauthenticated = createError('BV_UNAUTHENTICATED', 'Authorization: %s', 401);
export const BadCredentials = createError('BV_BAD_CREDENTIALS', 'username or password is wrong', 401);
// 403
export const AdminOnly = createError('BV_ADMIN_ONLY', 'only admins may %s', 403);
export const RegistrationClosed = createError('BV_REGISTRATION_CLOSED', 'registration is closed here: ask an admin for an account', 403);
export const UsernameReserved = createError('BV_USERNAME_RESERVED', 'username "%s" is reserved for an admin: choose another', 403);
export const WrongPassword = createError('BV_WRONG_PASSWORD', 'current_password: not the password of this account', 403);
export const NotOnRoll = createError('BV_NOT_ON_ROLL', 'account "%s" is not on the roll of poll "%s"', 403);
// 404
export const PollNotFound = createError('BV_POLL_NOT_FOUND', 'no poll "%s"', 404);
export const PowDisabled = createError('BV_POW_DISABLED', 'registration needs no proof of work here: POST /v1/accounts directly', 404);
// 409
export const UsernameTaken = createError('BV_USERNAME_TAKEN', 'username "%s" is taken: choose another', 409);
export const NoPassword = createError('BV_NO_PASSWORD', 'account "%s" signs in through the identity provider and has no password here', 409);
export const PollExists = createError('BV_POLL_EXISTS', 'poll_id: "%s" exists: choose another or leave poll_id out', 409);
export const PollNotEditable = createError('BV_POLL_NOT_EDITABLE', 'poll "%s" %s; only drafts that are not being published can change', 409);
export const PollNotPublishable = createError('BV_POLL_NOT_PUBLISHABLE', 'poll "%s" cannot be published: %s', 409);
export const PollNotPublished = createError('BV_POLL_NOT_PUBLISHED', 'poll "%s" is %s: publish it first', 409);
export const PollNotOpenYet = createError('BV_POLL_NOT_OPEN_YET', 'poll "%s" opens at %s: it can be closed once it has opened', 409);
export const TokenConflict = createError(
  'BV_TOKEN_CONFLICT',
  'a token was already issued for a different blinded message; reuse the blinding state you saved',
  409,
);
// 410
export const PollClosed = createError('BV_POLL_CLOSED', 'poll "%s" closed at %s: no more tokens are issued', 410);
// 429
export const RateLimited = createError('BV_RATE_LIMITED', 'too many %s: retry in %d seconds', 429);
// 502
export const BoardFailed = createError('BV_BOARD_FAILED', 'the bulletin board did not %s: retry the request', 502);
