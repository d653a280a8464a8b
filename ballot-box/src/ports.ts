/**
 * What the ballot box needs from the rest of the system, declared here (the code that uses an
 * interface declares it). `blindvote serve` wires them: in one process straight to the bulletin
 * board; in the distributed mode over HTTP and Kafka. The ballot box never learns who votes:
 * nothing here carries an account, an IP address or a cookie.
 */
import type { Ballot, Poll, TokenVerifier } from '@blindvote/crypto';

/** A published poll as the ballot box needs it. The manifest is immutable; `closed` is not. */
export interface OpenPoll {
  readonly poll: Poll;
  /** The manifest's token key, imported once. */
  readonly verifier: TokenVerifier;
  /** The board's tlog-tiles prefix URL (goes into receipts). */
  readonly board: string;
  /** True once the board holds the poll's close entry. */
  readonly closed: boolean;
}

export interface PollDirectory {
  /** null: no such poll on the board (never published). */
  get(pollId: string): Promise<OpenPoll | null>;
}

/** What a submitted ballot became. Receipt material comes with `appended` and `duplicate`. */
export type SubmitOutcome =
  | {
      readonly status: 'appended' | 'duplicate';
      readonly leafIndex: number;
      readonly leafHash: Uint8Array;
      /** A signed checkpoint (C2SP signed note text) whose tree contains the leaf. */
      readonly checkpoint: string;
      /** RFC 9162 inclusion proof of the leaf in that checkpoint's tree. */
      readonly inclusionProof: readonly Uint8Array[];
    }
  /**
   * Durable (Kafka acks=all) but not yet on the board within the ballot box's wait: the voter
   * gets a signed acceptance and exchanges it for the receipt by leaf hash later (`byLeafHash`).
   */
  | { readonly status: 'pending'; readonly leafHash: Uint8Array }
  /** The token was spent by another entry: its index is the evidence. */
  | { readonly status: 'spent'; readonly index: number }
  /** The board closed the poll (close entry appended); nothing is appended. */
  | { readonly status: 'closed' }
  /** Pushback: queues are full; nothing is appended. */
  | { readonly status: 'overloaded'; readonly retryAfterSeconds: number };

export interface BallotSink {
  /**
   * Hands a checked ballot to the sequencer. MUST resolve `appended`/`duplicate` only once the
   * ballot is durable (DESIGN.md promise 3). Rejects only on an internal failure.
   */
  submit(ballot: Ballot): Promise<SubmitOutcome>;
  /**
   * The receipt material of exactly this ballot if it is already on the board (a retry whose
   * answer was lost, arriving after the poll closed); null otherwise. MUST NOT append anything.
   */
  recorded(ballot: Ballot): Promise<Recorded | null>;
  /**
   * The ballot with this leaf hash and its receipt material, if it is on the board (the exchange
   * of a signed acceptance); null when it is not there (yet). MUST NOT append anything.
   */
  byLeafHash(pollId: string, leafHash: Uint8Array): Promise<{ readonly ballot: Ballot; readonly recorded: Recorded } | null>;
}

export type Recorded = Extract<SubmitOutcome, { status: 'appended' | 'duplicate' }>;
