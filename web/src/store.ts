/**
 * What the client keeps in localStorage, and why (web/README.md lists it):
 *   bv:session           the bearer token of the signed-in account (cleared on sign-out)
 *   bv:vote:<acct>:<poll> the RFC 9474 blinding state, written BEFORE the blinded message is sent,
 *                        then the blind signature and the exact ballot, written BEFORE it is cast:
 *                        a reload or retry re-sends the same bytes and gets the same signature /
 *                        the same receipt. Secret (its `inv` links voter and token): MUST be
 *                        deleted once the receipt is verified (crypto/src/token.ts BlindingState).
 *   bv:receipts          verified receipts with the board key they were checked against, for
 *                        later re-checks against newer checkpoints (consistency).
 */
import type { BlindingStateJSON, ReceiptJSON } from '@blindvote/crypto';

export interface Session {
  readonly token: string;
  readonly account: string;
  readonly admin: boolean;
  readonly via: 'password' | 'idp';
}

export interface VoteProgress {
  readonly blinding: BlindingStateJSON;
  readonly blind_sig?: string;
  /** The ballot entry JSON exactly as first sent: retries MUST send these bytes again. */
  readonly ballot?: unknown;
  /** The signed acceptance of a ballot box that answered 202, until the receipt is kept beside it. */
  readonly acceptance?: string;
}

/** A ballot box's signed acceptance (a 202) and what checking it found (vote.ts `checkAcceptance`). */
export interface AcceptanceCheck {
  /** The signed note, as received. */
  readonly note: string;
  /** The C2SP verifier key it was checked under, as the ballot box served it (absent if none came). */
  readonly key?: string;
  readonly ok: boolean;
  /** What was found, in words. */
  readonly detail: string;
}

export interface StoredReceipt {
  readonly receipt: ReceiptJSON;
  /** The manifest's board key the receipt was verified against. */
  readonly board_key: string;
  readonly title: string;
  readonly saved_at: string;
  /** The ballot box's signed acceptance, when it first answered 202, and what checking it found. */
  readonly acceptance?: AcceptanceCheck;
  /** The newest checkpoint size it was found consistent with. */
  readonly checked_size?: number;
  readonly checked_at?: string;
}

function get<T>(key: string): T | null {
  const text = localStorage.getItem(key);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

function put(key: string, value: unknown): void {
  localStorage.setItem(key, JSON.stringify(value));
}

export const session = (): Session | null => get<Session>('bv:session');
export const setSession = (s: Session | null): void => (s === null ? localStorage.removeItem('bv:session') : put('bv:session', s));

const voteKey = (account: string, pollId: string) => `bv:vote:${account}:${pollId}`;
export const voteProgress = (account: string, pollId: string): VoteProgress | null => get<VoteProgress>(voteKey(account, pollId));
export const setVoteProgress = (account: string, pollId: string, p: VoteProgress): void => put(voteKey(account, pollId), p);
export const forgetVoteProgress = (account: string, pollId: string): void => localStorage.removeItem(voteKey(account, pollId));

export const receipts = (): StoredReceipt[] => get<StoredReceipt[]>('bv:receipts') ?? [];
export function saveReceipt(r: StoredReceipt): void {
  const others = receipts().filter((x) => !(x.receipt.poll_id === r.receipt.poll_id && x.receipt.leaf_index === r.receipt.leaf_index));
  put('bv:receipts', [...others, r]);
}
