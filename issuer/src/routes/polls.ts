/** Polls: discovery for everyone; drafts, publishing, closing and stats for admins. */
import { Type } from 'typebox';
import type { PollJSON } from '@blindvote/crypto';
import { adminOnly } from '../context.ts';
import type { Api, IssuerContext } from '../context.ts';
import { PollExists, PollNotEditable, PollNotFound } from '../errors.ts';
import { checkDraft, draftFrom, newPollId, notEditable, patchDraft } from '../polls/draft.ts';
import { pollDetail, pollSummary } from '../polls/views.ts';
import type { PollDetail } from '../polls/views.ts';
import type { PollRecord } from '../store.ts';
import {
  CreatePollBody, errors, Manifest, PatchPollBody, PollDetail as PollDetailSchema, PollIdParams, PollSummary, TAGS,
} from './schemas.ts';

export function pollRoutes(api: Api, ctx: IssuerContext): void {
  const { store, board } = ctx;
  const boardUrl = (pollId: string) => board.boardUrl(pollId);

  /** The poll as the caller may see it: drafts exist only for admins. */
  const visiblePoll = async (pollId: string, admin: boolean): Promise<PollRecord> => {
    const poll = await store.poll(pollId);
    if (poll === null || (poll.state === 'draft' && !admin)) throw new PollNotFound(pollId);
    return poll;
  };
  const editablePoll = async (pollId: string): Promise<PollRecord> => {
    const poll = await visiblePoll(pollId, true);
    const why = notEditable(poll);
    if (why !== null) throw new PollNotEditable(pollId, why);
    return poll;
  };

  api.get('/v1/polls', {
    schema: {
      summary: 'List polls (DESIGN.md discovery); admins also see drafts',
      tags: TAGS,
      response: { 200: Type.Object({ polls: Type.Array(PollSummary) }), ...errors(401, 500) },
    },
  }, async (request) => {
    const admin = ctx.principal(request)?.admin ?? false;
    const now = ctx.now();
    const polls = (await store.polls()).filter((p) => admin || p.state !== 'draft');
    return { polls: polls.map((p) => pollSummary(p, now, boardUrl)) };
  });

  api.get('/v1/polls/:id', {
    schema: {
      summary: 'One poll: options, times, manifest once published; eligibility for a signed-in voter',
      tags: TAGS,
      params: PollIdParams,
      response: { 200: PollDetailSchema, ...errors(400, 401, 404, 500) },
    },
  }, async (request) => {
    const principal = ctx.principal(request);
    const poll = await visiblePoll(request.params.id, principal?.admin ?? false);
    const detail: PollDetail = pollDetail(poll, ctx.now(), boardUrl);
    if (principal !== null && poll.state !== 'draft') {
      detail.eligible = await store.onRoll(poll.pollId, principal.account);
      detail.token_issued = (await store.issuance(poll.pollId, principal.account)) !== null;
    }
    return detail;
  });

  api.post('/v1/polls', {
    preValidation: adminOnly(ctx, 'create polls'),
    schema: {
      summary: 'Create a draft poll (admins)',
      tags: TAGS,
      body: CreatePollBody,
      response: { 201: PollDetailSchema, ...errors(400, 401, 403, 409, 415, 500) },
    },
  }, async (request, reply) => {
    const { poll_id, ...input } = request.body;
    const pollId = poll_id ?? newPollId();
    const draft = draftFrom(input);
    checkDraft(pollId, draft, board.verifierKey);
    if (!(await store.createPoll(pollId, draft, ctx.now()))) throw new PollExists(pollId);
    return reply.code(201).send(pollDetail((await store.poll(pollId))!, ctx.now(), boardUrl));
  });

  api.patch('/v1/polls/:id', {
    preValidation: adminOnly(ctx, 'change polls'),
    schema: {
      summary: 'Change a draft poll (admins; drafts only)',
      tags: TAGS,
      params: PollIdParams,
      body: PatchPollBody,
      response: { 200: PollDetailSchema, ...errors(400, 401, 403, 404, 409, 415, 500) },
    },
  }, async (request) => {
    const pollId = request.params.id;
    const poll = await editablePoll(pollId);
    const draft = patchDraft(poll.draft, request.body);
    checkDraft(pollId, draft, board.verifierKey);
    if (!(await store.updateDraft(pollId, draft))) await editablePoll(pollId);
    return pollDetail((await store.poll(pollId))!, ctx.now(), boardUrl);
  });

  api.delete('/v1/polls/:id', {
    preValidation: adminOnly(ctx, 'delete polls'),
    schema: {
      summary: 'Delete a draft poll and its roll (admins; drafts only)',
      tags: TAGS,
      params: PollIdParams,
      response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409, 500) },
    },
  }, async (request, reply) => {
    const pollId = request.params.id;
    await editablePoll(pollId);
    if (!(await store.deleteDraft(pollId))) await editablePoll(pollId);
    return reply.code(204).send(null);
  });

  api.post('/v1/polls/:id/publish', {
    preValidation: adminOnly(ctx, 'publish polls'),
    schema: {
      summary: "Publish a draft: generate its token key, put its manifest on the board (admins; idempotent)",
      tags: TAGS,
      params: PollIdParams,
      response: { 200: Manifest, ...errors(400, 401, 403, 404, 409, 500, 502) },
    },
  }, async (request) => {
    const manifest = await ctx.lifecycle.publish(request.params.id);
    return JSON.parse(new TextDecoder().decode(manifest)) as PollJSON;
  });

  api.post('/v1/polls/:id/close', {
    preValidation: adminOnly(ctx, 'close polls'),
    schema: {
      summary: 'Close a published poll now: issuance stops, the board gets the close entry (admins; idempotent)',
      tags: TAGS,
      params: PollIdParams,
      response: {
        200: Type.Object({ poll_id: Type.String(), closed_at: Type.String(), issued: Type.Integer({ description: 'tokens issued' }) }),
        ...errors(400, 401, 403, 404, 409, 500, 502),
      },
    },
  }, async (request) => {
    const frozen = await ctx.lifecycle.close(request.params.id);
    return { poll_id: request.params.id, closed_at: frozen.closedAt, issued: frozen.issued };
  });

  api.get('/v1/polls/:id/stats', {
    preValidation: adminOnly(ctx, 'read poll stats'),
    schema: {
      summary: 'Roll size and tokens issued (admins)',
      tags: TAGS,
      params: PollIdParams,
      response: { 200: Type.Object({ roll_size: Type.Integer(), issued: Type.Integer() }), ...errors(400, 401, 403, 404, 500) },
    },
  }, async (request) => {
    const poll = await visiblePoll(request.params.id, true);
    return { roll_size: poll.roll?.size ?? 0, issued: await store.issuedCount(poll.pollId) };
  });
}
