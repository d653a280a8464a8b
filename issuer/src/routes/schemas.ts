/**
 * TypeBox schemas shared by the routes (the OpenAPI document is generated from them). Bodies
 * check shapes; the poll rules themselves are crypto's (`polls/draft.ts`).
 */
import { Type } from 'typebox';
import { MAX_OPTIONS, MIN_OPTIONS, OPTION_ID_PATTERN, POLL_ID_PATTERN, TOKEN_SUITE } from '@blindvote/crypto';
import { USERNAME_PATTERN } from '../auth/account-id.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.ts';

export const TAGS = ['issuer'];

/** fastify's error reply. */
export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});

/** Response schemas for the error statuses a route answers with. */
export function errors<const C extends readonly number[]>(...codes: C): { [K in C[number]]: typeof ErrorReply } {
  return Object.fromEntries(codes.map((c) => [c, ErrorReply])) as { [K in C[number]]: typeof ErrorReply };
}

const TIME_DESCRIPTION = 'RFC 3339 UTC in whole seconds: YYYY-MM-DDTHH:MM:SSZ';

export const Username = Type.String({ pattern: USERNAME_PATTERN, description: '[a-z0-9][a-z0-9._-]{2,63}' });
export const NewPassword = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
/** Sign-in takes any password up to the maximum: a wrong one is a 401, not a 400. */
export const AnyPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
export const AccountId = Type.String({ description: 'a username, or idp:<id> for identity-provider users' });

export const PollIdParams = Type.Object({ id: Type.String({ pattern: POLL_ID_PATTERN.source }) });

export const PollOption = Type.Object({
  id: Type.String({ pattern: OPTION_ID_PATTERN.source }),
  label: Type.String(),
});
const Kind = Type.Union([Type.Literal('single'), Type.Literal('multi')]);
const Results = Type.Union([Type.Literal('live'), Type.Literal('sealed')]);
const Time = Type.String({ description: TIME_DESCRIPTION });

const draftFields = {
  title: Type.String(),
  description: Type.Optional(Type.String()),
  options: Type.Array(PollOption, { minItems: MIN_OPTIONS, maxItems: MAX_OPTIONS }),
  kind: Kind,
  max_choices: Type.Optional(Type.Integer({ minimum: 1, description: 'default: 1 for single, the number of options for multi' })),
  opens_at: Time,
  closes_at: Time,
  results: Results,
};

export const CreatePollBody = Type.Object(
  { poll_id: Type.Optional(Type.String({ pattern: POLL_ID_PATTERN.source, description: 'generated when absent' })), ...draftFields },
  { additionalProperties: false },
);

export const PatchPollBody = Type.Object(
  {
    title: Type.Optional(draftFields.title),
    description: draftFields.description,
    options: Type.Optional(draftFields.options),
    kind: Type.Optional(Kind),
    max_choices: draftFields.max_choices,
    opens_at: Type.Optional(Time),
    closes_at: Type.Optional(Time),
    results: Type.Optional(Results),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** The v1 `poll` entry (DESIGN.md wire formats), as published on the board. */
export const Manifest = Type.Object({
  type: Type.Literal('poll'),
  v: Type.Literal(1),
  poll_id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  ballot: Type.Object({ kind: Kind, options: Type.Array(PollOption), max_choices: Type.Integer() }),
  opens_at: Type.String(),
  closes_at: Type.String(),
  results: Results,
  token_key: Type.Object({ suite: Type.Literal(TOKEN_SUITE), spki: Type.String({ description: 'base64 DER SubjectPublicKeyInfo' }) }),
  board_key: Type.String({ description: 'C2SP signed-note verifier key of the board' }),
  roll: Type.Object({ size: Type.Integer(), commitment: Type.String({ description: 'base64 SHA-256 (issuer README: roll commitment)' }) }),
});

const summaryFields = {
  poll_id: Type.String(),
  title: Type.String(),
  state: Type.Union([Type.Literal('draft'), Type.Literal('upcoming'), Type.Literal('open'), Type.Literal('closed')], {
    description: 'draft: admins only',
  }),
  opens_at: Type.String(),
  closes_at: Type.String(),
  results: Results,
  board: Type.Union([Type.String({ description: "the board's tlog-tiles prefix URL" }), Type.Null()]),
};

export const PollSummary = Type.Object(summaryFields);

export const PollDetail = Type.Object({
  ...summaryFields,
  description: Type.String(),
  options: Type.Array(PollOption),
  kind: Kind,
  max_choices: Type.Integer(),
  manifest: Type.Optional(Manifest),
  eligible: Type.Optional(Type.Boolean({ description: 'authenticated callers: on the roll' })),
  token_issued: Type.Optional(Type.Boolean({ description: 'authenticated callers: a token was issued to them' })),
});
