/**
 * JSON schemas of `POST /v1/ballots` (TypeBox; also the OpenAPI document). They give the outer
 * shape only: base64, lengths, option ids and their order are `Ballot.fromJSON`'s to check
 * (crypto/ is where the wire formats live, DESIGN.md "Wire formats, version 1").
 */
import { Type } from 'typebox';

const Base64 = (description: string) => Type.String({ description: `${description}, standard base64 with padding` });

export const TokenBody = Type.Object(
  {
    nonce: Base64('32 random bytes chosen by the voter'),
    prefix: Base64('32-byte RFC 9474 Randomized-suite prefix'),
    sig: Base64("RSASSA-PSS signature over prefix || token message, as long as the poll key's modulus"),
  },
  { additionalProperties: false },
);

/** `{"type":"ballot","v":1,"poll_id","token":{"nonce","prefix","sig"},"choice":[option ids]}` */
export const BallotBody = Type.Object(
  {
    type: Type.Literal('ballot'),
    v: Type.Literal(1),
    poll_id: Type.String({ description: 'the poll, [a-z0-9][a-z0-9-]{0,63}' }),
    token: TokenBody,
    choice: Type.Array(Type.String(), { description: 'option ids, distinct, in ascending order' }),
  },
  { additionalProperties: false, description: 'a v1 ballot (DESIGN.md "Wire formats, version 1")' },
);

/** crypto's `Receipt` JSON. */
export const ReceiptBody = Type.Object(
  {
    v: Type.Literal(1),
    poll_id: Type.String(),
    board: Type.String({ description: "the board's tlog-tiles prefix URL" }),
    ballot: BallotBody,
    leaf_index: Type.Integer({ minimum: 1 }),
    leaf_hash: Base64('RFC 9162 leaf hash of the ballot entry'),
    checkpoint: Type.String({ description: 'C2SP signed checkpoint note whose tree holds the leaf' }),
    inclusion_proof: Type.Array(Base64('RFC 9162 inclusion proof hash')),
  },
  { additionalProperties: false, description: 'the receipt: keep it, verify it (blindvote-verify receipt)' },
);

/** Fastify's error reply. */
export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'BV_… (or FST_… for a request fastify refused before the route)' }),
    error: Type.String(),
    message: Type.String({ description: 'what is wrong, naming the field, and what to do' }),
  },
  { additionalProperties: false },
);

const error = (description: string) => ({ ...ErrorBody, description });

/** 202 (distributed mode): durable, not yet on the board; exchange at `receipt` later. */
export const AcceptanceBody = Type.Object(
  {
    v: Type.Literal(1),
    poll_id: Type.String(),
    leaf_hash: Type.String({ description: 'RFC 9162 leaf hash of the ballot entry, base64' }),
    accepted_at: Type.String({ description: 'RFC 3339 UTC' }),
    max_merge_delay: Type.Integer({ minimum: 0, description: 'seconds within which the board promises the leaf' }),
    acceptance: Type.String({ description: 'C2SP signed note: blindvote/acceptance/v1, signed by the ballot boxes (crypto/src/acceptance.ts)' }),
    receipt: Type.String({ description: 'path where the receipt is fetched once the ballot is on the board' }),
  },
  { additionalProperties: false, description: 'accepted: durable, on the board within max_merge_delay' },
);

export const ballotRouteSchema = {
  summary: 'Cast a ballot (anonymous: no credential, no cookie)',
  description:
    'Verifies the ballot (shape, poll window, choice, token signature) and hands it to the board. ' +
    'Returns the receipt once the ballot is durable. An identical resubmission returns the original receipt.',
  tags: ['ballot-box'],
  params: Type.Object({}, { additionalProperties: false }),
  querystring: Type.Object({}, { additionalProperties: false }),
  body: BallotBody,
  response: {
    200: { ...ReceiptBody, description: 'identical resubmission: the original receipt' },
    201: { ...ReceiptBody, description: 'appended: the receipt' },
    202: AcceptanceBody,
    400: error('not JSON, not a v1 ballot, bad base64 or lengths'),
    403: error("the token does not verify under the poll's key"),
    404: error('no such poll'),
    409: error('the token was spent by another ballot (its index is in the message)'),
    410: error('the poll is closed'),
    413: error('body too large'),
    415: error('Content-Type is not application/json'),
    422: error("the choice is not valid for the poll's ballot"),
    425: error('the poll is not open yet'),
    429: error('the board is busy; retry after Retry-After seconds'),
    500: error('internal error; resubmitting the same ballot is safe'),
  },
};

export const receiptRouteSchema = {
  summary: 'Exchange a signed acceptance for the receipt',
  description: 'The receipt of the ballot with this leaf hash once it is on the board; 404 with Retry-After until then.',
  tags: ['ballot-box'],
  params: Type.Object(
    {
      pollId: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }),
      leafHash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'the leaf hash in lowercase hex' }),
    },
    { additionalProperties: false },
  ),
  response: {
    200: { ...ReceiptBody, description: 'the receipt' },
    400: error('poll id or leaf hash malformed (64 lowercase hex digits)'),
    403: error('a sealed poll before its close: resubmit the identical ballot instead'),
    404: error('no such poll, or the ballot is not on the board yet (Retry-After)'),
  },
};
