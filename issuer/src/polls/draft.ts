/**
 * Poll drafts: defaults, validation and the manifest they become. A draft is valid iff the
 * manifest it would become is: `checkDraft` builds that manifest with placeholder key material,
 * so the rules are crypto's `Poll` rules, written once (option ids, 2..256 options, text limits,
 * whole-second UTC times, closes_at after opens_at, max_choices).
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { FormatError, Poll, TOKEN_SUITE } from '@blindvote/crypto';
import type { BallotKind, PollOption, ResultsPolicy } from '@blindvote/crypto';
import { PollInvalid } from '../errors.ts';
import type { PollDraft, PollRecord, RollSummary } from '../store.ts';

/** What an admin sends to create a poll; every field of `PollDraft`, some with defaults. */
export interface DraftInput {
  readonly title: string;
  readonly description?: string;
  readonly options: readonly PollOption[];
  readonly kind: BallotKind;
  /** Default: 1 for single, the number of options for multi. */
  readonly max_choices?: number;
  readonly opens_at: string;
  readonly closes_at: string;
  readonly results: ResultsPolicy;
}

function defaultMaxChoices(kind: BallotKind, options: readonly PollOption[]): number {
  return kind === 'single' ? 1 : options.length;
}

export function draftFrom(input: DraftInput): PollDraft {
  return {
    title: input.title,
    description: input.description ?? '',
    kind: input.kind,
    options: input.options.map((o) => ({ id: o.id, label: o.label })),
    max_choices: input.max_choices ?? defaultMaxChoices(input.kind, input.options),
    opens_at: input.opens_at,
    closes_at: input.closes_at,
    results: input.results,
  };
}

/**
 * A draft with `changes` applied. Changing kind or options without max_choices resets
 * max_choices to its default (the old value may no longer fit).
 */
export function patchDraft(draft: PollDraft, changes: Partial<DraftInput>): PollDraft {
  const merged = { ...draft, ...changes };
  const reset = changes.max_choices === undefined && (changes.kind !== undefined || changes.options !== undefined);
  return draftFrom({ ...merged, max_choices: reset ? defaultMaxChoices(merged.kind, merged.options) : merged.max_choices });
}

/** A fresh poll id matching `[a-z0-9][a-z0-9-]{0,63}`: 16 hex digits. */
export function newPollId(): string {
  return randomBytes(8).toString('hex');
}

export function manifestFor(pollId: string, draft: PollDraft, tokenKeySpki: Uint8Array, boardKey: string, roll: RollSummary): Poll {
  return new Poll({
    poll_id: pollId,
    title: draft.title,
    description: draft.description,
    ballot: { kind: draft.kind, options: draft.options, max_choices: draft.max_choices },
    opens_at: draft.opens_at,
    closes_at: draft.closes_at,
    results: draft.results,
    token_key: { suite: TOKEN_SUITE, spki: tokenKeySpki },
    board_key: boardKey,
    roll,
  });
}

/** An RSA SPKI that `parseTokenKeySpki` accepts (n = 2^2048 − 1, e = 65537): a shape, not a key. */
const PLACEHOLDER_SPKI = new Uint8Array(
  createPublicKey({ key: { kty: 'RSA', n: Buffer.alloc(256, 0xff).toString('base64url'), e: 'AQAB' }, format: 'jwk' })
    .export({ type: 'spki', format: 'der' }),
);
const PLACEHOLDER_ROLL: RollSummary = { size: 0, commitment: new Uint8Array(32) };

/** Throws PollInvalid (400) naming the field, as the request spells it, unless the draft makes a valid manifest. */
export function checkDraft(pollId: string, draft: PollDraft, boardKey: string): void {
  try {
    manifestFor(pollId, draft, PLACEHOLDER_SPKI, boardKey, PLACEHOLDER_ROLL);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    throw new PollInvalid(error.message.replace(/^poll\.(ballot\.)?/, ''));
  }
}

/** Why a poll's draft and roll can no longer change, or null when they can. */
export function notEditable(poll: PollRecord): string | null {
  if (poll.state !== 'draft') return `is ${poll.state}`;
  return poll.manifest === null ? null : 'is being published (POST .../publish again to finish)';
}
