/**
 * JSON schemas of the board's read routes (TypeBox; also the OpenAPI document). Numbers in query
 * strings are decimal strings checked here and read by the handlers, so the routes do not
 * depend on the validator's type coercion.
 */
import { POLL_ID_PATTERN } from '@blindvote/crypto';
import { Type } from 'typebox';

const TAGS = ['bulletin-board'];

export const ErrorReply = Type.Object(
  { statusCode: Type.Integer(), code: Type.String(), error: Type.String(), message: Type.String() },
  { description: 'what was refused and why' },
);

const Decimal = (description: string) => Type.String({ pattern: '^(?:0|[1-9][0-9]{0,15})$', description: `${description} (decimal)` });
const Base64 = (description: string) => Type.String({ description: `${description}, standard base64 with padding` });

const PollId = Type.String({ pattern: POLL_ID_PATTERN.source, description: 'the poll id' });
const PollParams = Type.Object({ pollId: PollId });

const Bytes = (description: string) => ({
  description,
  content: { 'application/octet-stream': { schema: Type.Unsafe<Uint8Array>(Type.String({ format: 'binary' })) } },
});

const errors = (...codes: (400 | 403 | 404)[]) => ({
  ...Object.fromEntries(codes.map((code) => [code, ErrorReply])),
  '5xx': ErrorReply,
});

export const checkpointSchema = {
  summary: "A poll board's latest signed checkpoint (C2SP tlog-checkpoint)",
  tags: TAGS,
  params: PollParams,
  response: {
    200: { description: 'signed note text', content: { 'text/plain; charset=utf-8': { schema: Type.String() } } },
    ...errors(400, 404),
  },
};

export const tileSchema = {
  summary: 'A hash tile or entry bundle of a poll board (C2SP tlog-tiles)',
  description:
    'tile/<L>/<N>[.p/<W>]: hash tile; tile/entries/<N>[.p/<W>]: entry bundle (each entry a big-endian uint16 length, then ' +
    'its bytes). Sealed polls serve entry bundles only once the close entry is on the board.',
  tags: TAGS,
  params: Type.Object({ pollId: PollId, '*': Type.String({ description: 'the rest of the tlog-tiles path after tile/' }) }),
  response: { 200: Bytes('tile or bundle bytes, immutable'), ...errors(400, 403, 404) },
};

export const statusSchema = {
  summary: "A poll board's size, lifecycle and latest checkpoint",
  tags: TAGS,
  params: PollParams,
  response: {
    200: Type.Object({
      poll_id: Type.String(),
      board: Type.String({ description: 'the tlog-tiles prefix URL' }),
      size: Type.Integer({ minimum: 0, description: 'tree size of the latest checkpoint' }),
      closed: Type.Boolean({ description: 'the close entry is on the board' }),
      tallied: Type.Boolean({ description: 'the tally entry is on the board' }),
      checkpoint: Type.String({ description: 'the latest signed checkpoint' }),
    }),
    ...errors(400, 404),
  },
};

export const inclusionSchema = {
  summary: 'Inclusion proof of a leaf (by index or leaf hash) in a checkpoint of a poll board (RFC 9162 §2.1.3)',
  tags: TAGS,
  params: PollParams,
  querystring: Type.Object(
    {
      index: Type.Optional(Decimal('leaf index; give it or leaf_hash')),
      leaf_hash: Type.Optional(Base64('RFC 9162 leaf hash; give it or index')),
      size: Type.Optional(Decimal('tree size of a checkpoint the board published; default: the latest')),
    },
    { additionalProperties: false },
  ),
  response: {
    200: Type.Object({
      leaf_index: Type.Integer({ minimum: 0 }),
      tree_size: Type.Integer({ minimum: 1 }),
      inclusion_proof: Type.Array(Base64('hash')),
      checkpoint: Type.String({ description: 'the signed checkpoint of tree_size' }),
    }),
    ...errors(400, 404),
  },
};

export const consistencySchema = {
  summary: 'Consistency proof between two tree sizes of a poll board (RFC 9162 §2.1.4)',
  tags: TAGS,
  params: PollParams,
  querystring: Type.Object(
    {
      from: Decimal('the smaller tree size, at least 1'),
      to: Type.Optional(Decimal('the larger tree size; default: the latest')),
    },
    { additionalProperties: false },
  ),
  response: {
    200: Type.Object({ from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }), consistency_proof: Type.Array(Base64('hash')) }),
    ...errors(400, 404),
  },
};
