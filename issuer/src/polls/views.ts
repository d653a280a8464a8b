/**
 * What the API shows of a poll. Public states (DESIGN.md discovery): upcoming, open, closed;
 * admins also see drafts. A poll is closed for everyone once closes_at has passed or issuance
 * was frozen, even before the board has its close entry.
 */
import { timeMs } from '@blindvote/crypto';
import type { BallotKind, PollJSON, PollOption, ResultsPolicy } from '@blindvote/crypto';
import type { PollRecord } from '../store.ts';

export type PublicState = 'draft' | 'upcoming' | 'open' | 'closed';

export function publicState(poll: PollRecord, now: Date): PublicState {
  if (poll.state === 'draft') return 'draft';
  const t = now.getTime();
  if (poll.state === 'closed' || poll.frozen !== null || t >= timeMs(poll.draft.closes_at)) return 'closed';
  return t < timeMs(poll.draft.opens_at) ? 'upcoming' : 'open';
}

export interface PollSummary {
  poll_id: string;
  title: string;
  state: PublicState;
  opens_at: string;
  closes_at: string;
  results: ResultsPolicy;
  /** The board's tlog-tiles prefix URL; null for drafts (no board yet). */
  board: string | null;
}

export interface PollDetail extends PollSummary {
  description: string;
  options: PollOption[];
  kind: BallotKind;
  max_choices: number;
  manifest?: PollJSON;
  eligible?: boolean;
  token_issued?: boolean;
}

export function pollSummary(poll: PollRecord, now: Date, boardUrl: (pollId: string) => string): PollSummary {
  const state = publicState(poll, now);
  const { title, opens_at, closes_at, results } = poll.draft;
  return { poll_id: poll.pollId, title, state, opens_at, closes_at, results, board: state === 'draft' ? null : boardUrl(poll.pollId) };
}

export function pollDetail(poll: PollRecord, now: Date, boardUrl: (pollId: string) => string): PollDetail {
  const { description, options, kind, max_choices } = poll.draft;
  const detail: PollDetail = { ...pollSummary(poll, now, boardUrl), description, options: [...options], kind, max_choices };
  if (poll.state !== 'draft' && poll.manifest !== null) detail.manifest = JSON.parse(new TextDecoder().decode(poll.manifest)) as PollJSON;
  return detail;
}
