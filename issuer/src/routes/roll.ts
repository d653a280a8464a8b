/** PUT /v1/polls/:id/roll: import a draft's voter roll (JSON list, every account, or CSV). */
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { toBase64 } from '@blindvote/crypto';
import { adminOnly } from '../context.ts';
import type { Api, IssuerContext } from '../context.ts';
import { PollNotEditable, PollNotFound } from '../errors.ts';
import { notEditable } from '../polls/draft.ts';
import { parseRollCsv, parseRollList, ROLL_SALT_LENGTH, rollCommitment } from '../polls/roll.ts';
import type { ParsedRoll } from '../polls/roll.ts';
import { AccountId, errors, PollIdParams, TAGS } from './schemas.ts';

/** Largest roll upload: ~1.5 M account ids of 20 characters. */
export const ROLL_BODY_LIMIT = 32 * 1024 * 1024;

const JsonRoll = Type.Union([
  Type.Object({ voters: Type.Array(Type.String()) }, { additionalProperties: false }),
  Type.Object({ all_accounts: Type.Literal(true, { description: 'every registered account, now' }) }, { additionalProperties: false }),
]);

export function rollRoutes(api: Api, ctx: IssuerContext): void {
  api.put('/v1/polls/:id/roll', {
    bodyLimit: ROLL_BODY_LIMIT,
    preValidation: adminOnly(ctx, 'set voter rolls'),
    schema: {
      summary: "Replace a draft's voter roll: a JSON list, all registered accounts, or text/csv (one account id per row) (admins)",
      tags: TAGS,
      params: PollIdParams,
      querystring: Type.Object({ dry_run: Type.Optional(Type.Boolean({ description: 'parse and report, save nothing' })) }),
      body: {
        content: {
          'application/json': { schema: JsonRoll },
          'text/csv': { schema: Type.String({ description: 'one account id per row; optional header "account"' }) },
        },
      },
      response: {
        200: Type.Object({
          size: Type.Integer({ description: 'distinct valid account ids' }),
          commitment: Type.String({ description: 'base64; with dry_run, under a salt that is thrown away' }),
          errors: Type.Array(Type.Object({
            row: Type.Integer({ description: '1-based element of voters, or CSV line number' }),
            value: AccountId,
            error: Type.String(),
          })),
        }),
        ...errors(400, 401, 403, 404, 409, 413, 415, 500),
      },
    },
  }, async (request) => {
    const pollId = request.params.id;
    const poll = await ctx.store.poll(pollId);
    if (poll === null) throw new PollNotFound(pollId);
    const why = notEditable(poll);
    if (why !== null) throw new PollNotEditable(pollId, why);

    // Per-content-type body schemas are not inferred: these are the two the schema allows.
    const body = request.body as Static<typeof JsonRoll> | string;
    let parsed: ParsedRoll;
    if (typeof body === 'string') parsed = parseRollCsv(body);
    else if ('voters' in body) parsed = parseRollList(body.voters);
    else parsed = { accountIds: await ctx.store.accountIds(), errors: [] };

    const salt = randomBytes(ROLL_SALT_LENGTH);
    const commitment = rollCommitment(salt, parsed.accountIds);
    if (request.query.dry_run !== true) {
      const saved = await ctx.store.replaceRoll(pollId, { accountIds: parsed.accountIds, salt, commitment });
      if (!saved) throw new PollNotEditable(pollId, 'changed while the roll was imported');
    }
    return { size: parsed.accountIds.length, commitment: toBase64(commitment), errors: parsed.errors };
  });
}
