/**
 * The issuer's storage, declared by the code that uses it. Two native implementations, no shared
 * base class: `store/sqlite.ts` (embedded, `npm start`) and a PostgreSQL one; both MUST pass
 * `store-contract.ts`. The issuer's database holds nothing from the board, and the board's holds
 * nothing from here (DESIGN.md promise 5: separate databases, no shared identifier).
 *
 * What is stored, and what never is:
 * - accounts: username, argon2id hash, admin flag, session version, creation time;
 * - polls: the draft, the state, the poll's RSA token key (PKCS#8, never leaves this store), the
 *   manifest bytes once publishing began, the roll's size, salted commitment and salt;
 * - roll: (poll, account id);
 * - issuance: (poll, account id, SHA-256 of the blinded message), UNIQUE (poll, account id):
 *   DESIGN.md promise 1. The blinded message and the blind signature are NEVER stored (the
 *   signature is recomputed on a retry: RFC 9474 BlindSign is deterministic), and no time of
 *   issuance either (a time would help line issuances up with ballots on the board);
 * - meta: the session signing key and other installation secrets.
 *
 * Every method is one transaction; a method that returns has committed durably (an issuance
 * MUST be on disk before its signature is returned, or a crash could hand a voter a second one).
 */
import type { BallotKind, PollOption, ResultsPolicy } from '@blindvote/crypto';

export interface NewAccount {
  /** A built-in username (`auth/account-id.ts`); identity-provider users have no row. */
  readonly username: string;
  /** PHC string of argon2id. */
  readonly passwordHash: string;
  readonly admin: boolean;
  readonly createdAt: Date;
}

export interface AccountRecord extends NewAccount {
  /** Goes up with every password change; sessions carry it, so a change ends older sessions. */
  readonly sessionVersion: number;
}

/** What an admin edits before publishing (the fields of the manifest the issuer chooses). */
export interface PollDraft {
  readonly title: string;
  readonly description: string;
  readonly kind: BallotKind;
  readonly options: readonly PollOption[];
  readonly max_choices: number;
  /** RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ` (crypto's `checkTime`). */
  readonly opens_at: string;
  readonly closes_at: string;
  readonly results: ResultsPolicy;
}

/**
 * draft → published → closed. Between the first two, a draft with a `manifest` is being
 * published (the board may or may not have it); between the last two, a published poll with
 * `frozen` is being closed (no more issuance; the board may or may not have the close entry).
 */
export type PollState = 'draft' | 'published' | 'closed';

export interface RollSummary {
  readonly size: number;
  /** 32 bytes: `polls/roll.ts` says how it is computed. */
  readonly commitment: Uint8Array;
}

export interface Frozen {
  /** RFC 3339 UTC: when issuance stopped (the close entry's `closed_at`). */
  readonly closedAt: string;
  /** Tokens issued, counted in the transaction that stopped issuance (the close entry's `issued`). */
  readonly issued: number;
}

export interface PollRecord {
  readonly pollId: string;
  readonly draft: PollDraft;
  readonly state: PollState;
  readonly createdAt: Date;
  /** null: no roll imported yet. */
  readonly roll: RollSummary | null;
  /** Canonical manifest bytes, fixed when publishing began; null before. */
  readonly manifest: Uint8Array | null;
  /** Set when issuance stopped; null before. */
  readonly frozen: Frozen | null;
  /** Goes up with every change of the draft or the roll: `beginPublish` fixes one revision. */
  readonly revision: number;
}

export interface NewRoll {
  /** Distinct account ids. */
  readonly accountIds: readonly string[];
  /** 32 random bytes, kept so the issuer can open the commitment to an auditor. */
  readonly salt: Uint8Array;
  readonly commitment: Uint8Array;
}

export interface TokenKeyMaterial {
  /** PKCS#8 DER of the RSA private key. */
  readonly pkcs8: Uint8Array;
  /** DER SPKI of its public key (the manifest's `token_key.spki`). */
  readonly spki: Uint8Array;
}

export type IssueOutcome =
  /** The (poll, account) row, new or older: its hash may differ from the one offered. */
  | { readonly status: 'recorded'; readonly blindedHash: Uint8Array }
  | { readonly status: 'not_on_roll' }
  /** Not published, or issuance already frozen: nothing recorded. */
  | { readonly status: 'not_open' };

export interface IssuerStore {
  /** The value stored under `key`; if there is none, stores `value` first (race-free across processes). */
  metaIfAbsent(key: string, value: Uint8Array): Promise<Uint8Array>;

  /** false: the username exists (nothing changed). */
  createAccount(account: NewAccount): Promise<boolean>;
  account(username: string): Promise<AccountRecord | null>;
  /** Replaces the hash and increments the session version; false: no such account. */
  setPassword(username: string, passwordHash: string): Promise<boolean>;
  /** Every account's username, ascending. */
  accountIds(): Promise<string[]>;

  /** false: the poll id exists (nothing changed). */
  createPoll(pollId: string, draft: PollDraft, createdAt: Date): Promise<boolean>;
  poll(pollId: string): Promise<PollRecord | null>;
  /** Every poll, by poll id. */
  polls(): Promise<PollRecord[]>;
  /** Only while a draft without a manifest; false otherwise (nothing changed). */
  updateDraft(pollId: string, draft: PollDraft): Promise<boolean>;
  /** Deletes the poll and its roll, only while a draft without a manifest; false otherwise. */
  deleteDraft(pollId: string): Promise<boolean>;
  /** Replaces the whole roll, only while a draft without a manifest; false otherwise. */
  replaceRoll(pollId: string, roll: NewRoll): Promise<boolean>;

  /**
   * Stores the token key and the manifest bytes, only while a draft without a manifest at
   * `revision` (the one the manifest was built from); false otherwise (nothing changed: read the
   * poll back). The state stays draft.
   */
  beginPublish(pollId: string, revision: number, key: TokenKeyMaterial, manifest: Uint8Array): Promise<boolean>;
  /** A draft with a manifest becomes published (the board has the manifest); false otherwise. */
  markPublished(pollId: string): Promise<boolean>;
  /** PKCS#8 of the poll's token key; null before publishing began. */
  tokenKey(pollId: string): Promise<Uint8Array | null>;

  /**
   * Stops issuance of a published poll: in ONE transaction, records `closedAt` and the number of
   * issuance rows. MUST be atomic with `issue`: every issuance that returned before is counted,
   * none is recorded after. Idempotent: a frozen poll returns what was recorded. null: the poll
   * is not published (no such poll, a draft, or closed).
   */
  freeze(pollId: string, closedAt: string): Promise<Frozen | null>;
  /** A frozen published poll becomes closed (the board has the close entry); false otherwise. */
  markClosed(pollId: string): Promise<boolean>;
  /** Published polls that are frozen, or whose closes_at ≤ `now`: the ones to close. */
  pollsToClose(now: Date): Promise<string[]>;

  onRoll(pollId: string, accountId: string): Promise<boolean>;
  /** The hash recorded for (poll, account); null: no token issued. */
  issuance(pollId: string, accountId: string): Promise<Uint8Array | null>;
  issuedCount(pollId: string): Promise<number>;
  /**
   * DESIGN.md promise 1, in ONE transaction: the poll MUST be published and not frozen, the
   * account on its roll; then inserts (poll, account, blindedHash) unless a row exists, and
   * returns the row's hash. Concurrent calls for one (poll, account) leave exactly one row.
   */
  issue(pollId: string, accountId: string, blindedHash: Uint8Array): Promise<IssueOutcome>;

  close(): Promise<void>;
}
