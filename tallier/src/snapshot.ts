/**
 * The results snapshot: what `GET /v1/results/:pollId` returns and what the WebSocket and SSE
 * streams push, one JSON shape for all three (the TypeBox schema below is the contract; the
 * OpenAPI document is generated from it).
 *
 * Contracts:
 *   - `tree_size` is the size of a signed checkpoint the tallier verified (signature under the
 *     manifest's board_key, root recomputed from the entries); the counts are those of the
 *     recount rule over entries [0, min(tree_size, close index + 1)), so anyone can recount them.
 *   - Sealed polls (manifest `results: "sealed"`) expose no choice before the tally is on the
 *     board: `counts`, `ballots_counted` and `ballots_rejected` are null; `ballots` is known.
 *   - `final` is set only once the board's tally entry equals the tallier's own recount and a
 *     verified checkpoint includes it; `state: "error"` says the board contradicted itself or
 *     the recount, and `error` says how.
 */
import { Type } from 'typebox';
import type { Static } from 'typebox';

export const PollIdSchema = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'The poll id, as in its manifest.' });

/** DESIGN.md "Wire formats, version 1": tally. */
export const TallyJSONSchema = Type.Object(
  {
    type: Type.Literal('tally'),
    v: Type.Literal(1),
    poll_id: Type.String(),
    tree_size: Type.Integer({ minimum: 2 }),
    root: Type.String({ description: 'RFC 9162 root of the board up to and including the close entry, base64.' }),
    counts: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    ballots_counted: Type.Integer({ minimum: 0 }),
    ballots_rejected: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const PollStateSchema = Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('tallied'), Type.Literal('error')]);
export type PollState = Static<typeof PollStateSchema>;

const Count = Type.Integer({ minimum: 0 });

export const ResultsSnapshotSchema = Type.Object(
  {
    poll_id: Type.String(),
    state: PollStateSchema,
    tree_size: Type.Integer({ minimum: 0, description: 'Size of the verified signed checkpoint these numbers count.' }),
    ballots: Type.Integer({ minimum: 0, description: 'Entries between the manifest and the close entry (or the end while open): counted + rejected.' }),
    ballots_counted: Type.Union([Count, Type.Null()]),
    ballots_rejected: Type.Union([Count, Type.Null()]),
    counts: Type.Union([Type.Record(Type.String(), Count), Type.Null()], { description: 'Option id → counted ballots; null for sealed polls before the tally.' }),
    final: Type.Union([
      Type.Null(),
      Type.Object(
        {
          tally: TallyJSONSchema,
          verified: Type.Literal(true),
          checkpoint: Type.String({ description: 'Signed note text of a checkpoint whose tree includes the tally entry.' }),
        },
        { additionalProperties: false },
      ),
    ]),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type ResultsSnapshot = Static<typeof ResultsSnapshotSchema>;

/** fastify's default error reply. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
