/**
 * Every way the board's read routes refuse, one error per reason. Fastify replies
 * `{statusCode, code, error, message}`; each message names what was asked and what is wrong.
 */
import createError from '@fastify/error';

/** 404. Argument: the poll id. */
export const PollNotFound = createError<'BV_POLL_NOT_FOUND', 404, [string]>(
  'BV_POLL_NOT_FOUND',
  'poll "%s": not on this board; check the poll id (GET /v1/polls lists the polls)',
  404,
);

/** 400. Argument: what is wrong with the path. */
export const PathMalformed = createError<'BV_PATH_MALFORMED', 400, [string]>('BV_PATH_MALFORMED', '%s', 400);

/** 404: a tile or bundle the tree does not hold (yet). Arguments: the path, why. */
export const TileNotFound = createError<'BV_TILE_NOT_FOUND', 404, [string, string]>('BV_TILE_NOT_FOUND', '%s: %s', 404);

/** 403 (DESIGN.md promise 7). Argument: the poll id. */
export const EntriesSealed = createError<'BV_ENTRIES_SEALED', 403, [string]>(
  'BV_ENTRIES_SEALED',
  'poll "%s": sealed until the poll closes; its entry bundles are served from the close entry on (checkpoints, hash tiles and the manifest alone, tile/entries/000.p/1, are served now)',
  403,
);

/** 400: a proof query that can never be answered. Argument: the parameter and the problem. */
export const ProofQueryInvalid = createError<'BV_PROOF_QUERY_INVALID', 400, [string]>('BV_PROOF_QUERY_INVALID', '%s', 400);

/** 404: a proof about a tree or leaf the board does not have. Argument: the parameter and the problem. */
export const ProofNotFound = createError<'BV_PROOF_NOT_FOUND', 404, [string]>('BV_PROOF_NOT_FOUND', '%s', 404);
