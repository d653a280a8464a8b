/**
 * POST /v1/polls/:id/tokens: blind issuance, DESIGN.md promise 1 (one token per eligible voter
 * per poll). RFC 9474 BlindSign is deterministic, so the issuer keeps only SHA-256 of the blinded
 * message: the same message again gets the same signature (a dropped connection costs nothing),
 * a different one gets 409.
 *
 * Order: validate → BlindSign (pure: a message the key cannot sign is refused with nothing
 * stored) → record (poll, voter, hash) under UNIQUE, durably → compare hashes → answer. No
 * signature leaves before its row is committed. Nothing here logs, stores or echoes the blinded
 * message or the signature.
 */
import { Type } from 'typebox';
import { FormatError, equalBytes, formatTime, fromBase64, sha256, toBase64 } from '@blindvote/crypto';
import { requireAccount } from '../context.ts';
import type { Api, IssuerContext } from '../context.ts';
import { BlindedMsgInvalid, NotOnRoll, PollClosed, PollNotFound, PollNotPublished, TokenConflict } from '../errors.ts';
import { publicState } from '../polls/views.ts';
import { ipKey } from '../rate-limits.ts';
import { errors, PollIdParams, TAGS } from './schemas.ts';

export function tokenRoutes(api: Api, ctx: IssuerContext): void {
  const { store, keys, limits } = ctx;

  api.post('/v1/polls/:id/tokens', {
    schema: {
      summary: 'Get a blind signature on a token (RFC 9474 BlindSign): one per voter per poll, retries answered alike',
      tags: TAGS,
      params: PollIdParams,
      body: Type.Object(
        { blinded_msg: Type.String({ description: 'base64 RFC 9474 blinded_msg, exactly the poll key modulus length' }) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ blind_sig: Type.String({ description: 'base64 RFC 9474 blind_sig' }) }),
        ...errors(400, 401, 403, 404, 409, 410, 415, 429, 500, 503),
      },
    },
    onRequest: async (request, reply) => {
      await limits.tokensPerIp(request, reply, ipKey(request));
      const principal = ctx.principal(request);
      if (principal !== null) await limits.tokensPerAccount(request, reply, principal.account);
    },
  }, async (request) => {
    const voter = requireAccount(ctx, request);
    const pollId = request.params.id;
    const poll = await store.poll(pollId);
    if (poll === null || (poll.state === 'draft' && !voter.admin)) throw new PollNotFound(pollId);
    const state = publicState(poll, ctx.now());
    if (state === 'draft') throw new PollNotPublished(pollId, poll.manifest === null ? 'a draft' : 'being published');
    if (state === 'closed') throw new PollClosed(pollId, poll.frozen?.closedAt ?? poll.draft.closes_at);

    let blindedMsg: Uint8Array;
    let blindSig: Uint8Array;
    try {
      blindedMsg = fromBase64(request.body.blinded_msg, 'blinded_msg');
      // Checks the length (the key's modulus length) and the value (below the modulus).
      blindSig = await keys.sign(pollId, blindedMsg);
    } catch (error) {
      if (error instanceof FormatError) throw new BlindedMsgInvalid(error.message.replace(/^blinded_msg: /, ''));
      throw error;
    }

    const blindedHash = sha256(blindedMsg);
    const outcome = await store.issue(pollId, voter.account, blindedHash);
    if (outcome.status === 'not_on_roll') throw new NotOnRoll(voter.account, pollId);
    if (outcome.status === 'not_open') throw new PollClosed(pollId, (await store.poll(pollId))?.frozen?.closedAt ?? formatTime(ctx.now()));
    if (!equalBytes(outcome.blindedHash, blindedHash)) throw new TokenConflict();
    return { blind_sig: toBase64(blindSig) };
  });
}
