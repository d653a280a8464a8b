/**
 * The recount rule, in one place: the tallier counts with it and the verifier's audit checks the
 * tally with it, so their numbers MUST agree (docs/decisions.md "The recount rule").
 *
 *   A ballot counts iff it comes before the close entry, passes `Poll.checkBallot`, its token
 *   verifies under the manifest's key (RFC 9474 RSASSA-PSS), and no EARLIER ballot on the board
 *   carries the same token id (DESIGN.md promise 2). Every other entry between the manifest and
 *   the close is a rejected ballot, so ballots_rejected = (close index − 1) − ballots_counted.
 *
 * Flow: `new Recount(manifest, verifier)`, then `add(index, entry)` for entries 1, 2, … in log
 * order (synchronous: it decides everything but the signature, and starts the signature check),
 * `await settle()` whenever the numbers are read (token checks run concurrently; `settle(n)`
 * bounds how many are in flight), and at the end `tally(root)`.
 *
 * Contracts and threats:
 *   - "Earlier" is log order, decided in `add` and never by which signature check finishes
 *     first. Any earlier ballot with the token id blocks a later one, even if the earlier one
 *     is itself rejected: the token id is the spent-set key and the sequencer spends it once.
 *   - Entries MUST be added in increasing index order; entry 0 is the manifest given to the
 *     constructor. Entries after the close entry count for nothing (they are still checked,
 *     so that the audit can name what is wrong with them).
 *   - Rejections are typed (`RejectionReason`), never one "invalid" bucket: a forged token and a
 *     replayed one are different findings.
 *   - Pure: no I/O; the verifier does the only asynchronous work. Runs in Node and browsers.
 */
import { toHex } from './bytes.ts';
import { Tally } from './entries.ts';
import type { Ballot, Entry, Poll } from './entries.ts';
import type { TokenVerifier } from './token.ts';

/** Why an entry between the manifest and the close did not count, the first rule it fails. */
export type RejectionReason = 'not-a-ballot' | 'invalid-ballot' | 'bad-token' | 'token-reused';
export const REJECTION_REASONS: readonly RejectionReason[] = ['not-a-ballot', 'invalid-ballot', 'bad-token', 'token-reused'];

/**
 * One thing wrong with one ballot, before or after the close: a ballot can have both problems.
 * `invalid-ballot`: `Poll.checkBallot` refused it; `bad-token`: its token does not verify (or
 * cannot be checked) under the manifest's key. `token_id` is hex.
 */
export interface BallotProblem {
  readonly index: number;
  readonly problem: 'invalid-ballot' | 'bad-token';
  readonly token_id: string;
  readonly error: string;
}

export interface RecountOptions {
  /** Called once per problem found, as it is found (signature problems arrive after `add`). */
  readonly onProblem?: (problem: BallotProblem) => void;
}

interface Waiter {
  readonly atMost: number;
  readonly wake: () => void;
}

export const BAD_SIGNATURE = "the signature does not verify under the manifest's token key";

export class Recount {
  readonly poll: Poll;
  readonly #verifier: Promise<TokenVerifier>;
  readonly #onProblem: (problem: BallotProblem) => void;
  #last = 0;
  #closeIndex: number | null = null;
  /** Entries added between the manifest and the close (or so far, while open). */
  #beforeClose = 0;
  #counted = 0;
  readonly #counts = new Map<string, number>();
  readonly #rejected: Record<RejectionReason, number> = { 'not-a-ballot': 0, 'invalid-ballot': 0, 'bad-token': 0, 'token-reused': 0 };
  /** Token id (hex) → index of the first ballot carrying it. */
  readonly #firstUse = new Map<string, number>();
  /** Token id (hex) → every index carrying it, for the ids seen more than once. */
  readonly #reused = new Map<string, number[]>();
  #unsettled = 0;
  /** Callers of settle() waiting for #unsettled to fall to their bound. */
  #waiters: Waiter[] = [];
  /** The first error thrown by onProblem, for settle() to reject with. */
  #failure: { readonly error: unknown } | null = null;

  /**
   * `verifier`: the manifest's token key, imported (`TokenVerifier.fromPoll(poll)`). A promise is
   * accepted so that a caller may add entries while the key is still being imported; if it
   * rejects, every ballot is a `bad-token` problem naming that error.
   */
  constructor(poll: Poll, verifier: TokenVerifier | Promise<TokenVerifier>, options: RecountOptions = {}) {
    this.poll = poll;
    this.#verifier = Promise.resolve(verifier);
    this.#verifier.catch(() => {}); // reported per ballot
    this.#onProblem = options.onProblem ?? (() => {});
  }

  /**
   * Entry `index` of the board, in log order. `entry`: the parsed entry, or null when its bytes
   * are not a v1 entry (`parseEntry` threw). Throws RangeError on an index not after the last.
   */
  add(index: number, entry: Entry | null): void {
    if (!Number.isSafeInteger(index) || index <= this.#last) {
      throw new RangeError(`recount: entry ${index} added after entry ${this.#last}; entries MUST be added in increasing order from 1`);
    }
    this.#last = index;
    const beforeClose = this.#closeIndex === null;
    if (entry?.type === 'ballot') {
      if (beforeClose) this.#beforeClose++;
      this.#ballot(index, entry, beforeClose);
      return;
    }
    if (!beforeClose) return;
    if (entry?.type === 'close') {
      this.#closeIndex = index;
      return;
    }
    this.#beforeClose++;
    this.#rejected['not-a-ballot']++;
  }

  #ballot(index: number, ballot: Ballot, beforeClose: boolean): void {
    const id = toHex(ballot.tokenId());
    const first = this.#firstUse.get(id);
    if (first === undefined) this.#firstUse.set(id, index);
    else {
      const uses = this.#reused.get(id);
      if (uses === undefined) this.#reused.set(id, [first, index]);
      else uses.push(index);
    }
    let invalid = false;
    try {
      this.poll.checkBallot(ballot, `entry ${index}`);
    } catch (err) {
      invalid = true;
      this.#report({ index, problem: 'invalid-ballot', token_id: id, error: errorMessage(err) });
    }
    this.#unsettled++;
    const decide = (tokenError: string | null) => {
      // Reported before the count drops: a settle() from now on sees a throwing onProblem.
      if (tokenError !== null) this.#report({ index, problem: 'bad-token', token_id: id, error: tokenError });
      this.#unsettled--;
      if (beforeClose) {
        const reason: RejectionReason | null = invalid ? 'invalid-ballot' : tokenError !== null ? 'bad-token' : first !== undefined ? 'token-reused' : null;
        if (reason !== null) this.#rejected[reason]++;
        else this.#count(ballot);
      }
      this.#wake();
    };
    void this.#verifier
      .then((verifier) => verifier.verify(ballot.poll_id, ballot.token))
      .then(
        (ok) => decide(ok ? null : BAD_SIGNATURE),
        (err: unknown) => decide(errorMessage(err)),
      );
  }

  /** Tells onProblem; what it throws is kept for settle() to reject with (the first only). */
  #report(problem: BallotProblem): void {
    try {
      this.#onProblem(problem);
    } catch (error) {
      this.#failure ??= { error };
    }
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#unsettled <= w.atMost) w.wake();
      else still.push(w);
    }
    this.#waiters = still;
  }

  #count(ballot: Ballot): void {
    this.#counted++;
    for (const id of ballot.choice) this.#counts.set(id, (this.#counts.get(id) ?? 0) + 1);
  }

  /**
   * Resolves when at most `atMost` signature checks are undecided (default 0: every one decided),
   * counting those added while it waits. Rejects if `onProblem` threw (and throws RangeError on a
   * bound that is not a non-negative integer). A bound lets a caller
   * with many entries keep adding while checks run, with a bounded number in flight.
   */
  async settle(atMost = 0): Promise<void> {
    if (!Number.isSafeInteger(atMost) || atMost < 0) throw new RangeError(`settle: atMost must be a non-negative integer, got ${atMost}`);
    if (this.#unsettled > atMost) await new Promise<void>((wake) => this.#waiters.push({ atMost, wake }));
    if (this.#failure !== null) throw this.#failure.error;
  }

  /** Signature checks started and not yet decided: the numbers below are final only at 0. */
  get pending(): number {
    return this.#unsettled;
  }

  /** Index of the close entry, once added. */
  get closeIndex(): number | null {
    return this.#closeIndex;
  }

  get counted(): number {
    return this.#counted;
  }

  /** Entries between the manifest and the close (or so far) that did not count, decided so far. */
  get rejected(): number {
    return REJECTION_REASONS.reduce((sum, r) => sum + this.#rejected[r], 0);
  }

  /** `rejected`, by the first rule each entry fails. */
  get rejectedBy(): Readonly<Record<RejectionReason, number>> {
    return { ...this.#rejected };
  }

  /** Option id → counted ballots choosing it: every option of the poll, in its order, zeros included. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const o of this.poll.ballot.options) out[o.id] = this.#counts.get(o.id) ?? 0;
    return out;
  }

  /** Token ids (hex) carried by more than one ballot, each with every index carrying it. */
  get reused(): ReadonlyMap<string, readonly number[]> {
    return this.#reused;
  }

  /** Distinct token ids seen. */
  get distinctTokens(): number {
    return this.#firstUse.size;
  }

  /**
   * The tally this recount gives for a board whose RFC 9162 root up to and including the close
   * entry is `root`. Throws unless the close entry was added, every entry before it was added,
   * and every signature check is settled; the result passes `Poll.checkTally`.
   */
  tally(root: Uint8Array): Tally {
    const close = this.#closeIndex;
    if (close === null) throw new Error('recount: no tally before the close entry');
    if (this.#beforeClose !== close - 1) throw new Error(`recount: ${close - 1 - this.#beforeClose} entries before the close entry (${close}) were not added`);
    if (this.pending > 0) throw new Error('recount: settle() before taking the tally');
    const tally = new Tally({
      poll_id: this.poll.poll_id,
      tree_size: close + 1,
      root,
      counts: this.counts(),
      ballots_counted: this.#counted,
      ballots_rejected: close - 1 - this.#counted,
    });
    this.poll.checkTally(tally);
    return tally;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
