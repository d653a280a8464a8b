/**
 * Follows one poll's log through the BoardFeed: verifies, counts live, recounts at the close and
 * appends the tally. One `sync()` at a time per poll (the Tallier schedules them).
 *
 * A sync, against the latest signed checkpoint:
 *   1. entry 0 (first sync only) MUST be this poll's manifest; its board_key is the key trusted
 *      for checkpoints and its token key the one tokens verify under (DESIGN.md promise 5).
 *   2. the checkpoint MUST verify under that key (C2SP signed-note, Ed25519), its origin MUST be
 *      `<host>/poll/<poll_id>`, and its size MUST NOT be below a size already verified.
 *   3. entries up to its size are read in chunks (≤ 4096), hashed into a compact range (RFC 9162)
 *      and, for live polls, fed to the live Recount; the recomputed root MUST equal the
 *      checkpoint's. Only then is a snapshot published, naming that size.
 *   4. once the close entry is in a verified tree: a FRESH Recount over entries [0, close] read
 *      again from the board, whose root MUST equal the root the verified tree has at close + 1
 *      (so it is the root of a signed checkpoint, or a prefix of one); its tally passes
 *      `Poll.checkTally` and is appended, unless the board has a tally already, which MUST be
 *      byte-identical to it. The state is "tallied" once a verified tree holds an equal tally.
 *
 * Any MUST above that fails is board misbehaviour: the poll goes to state "error" for good, with
 * the reason, and nothing more is counted or appended for it. Feed failures (I/O) are thrown to
 * the caller, which retries; nothing read but not yet verified is ever published.
 *
 * Sealed polls: before the close, ballot entries are hashed but their contents are not parsed
 * (a canonical ballot is the only entry whose bytes begin `{"choice":`, RFC 8785 key order), so
 * the tallier holds no choice to leak; only their number is kept.
 */
import { Checkpoint, CompactRange, Recount, TokenVerifier, VerifierKey, equalBytes, leafHash, openCheckpoint, parseEntry, parseNote, toHex, utf8 } from '@blindvote/crypto';
import type { Entry, Poll, Tally } from '@blindvote/crypto';
import type { BoardFeed } from './ports.ts';
import type { ResultsSnapshot } from './snapshot.ts';

/** Most entries asked of the feed at once (BoardFeed.entries). */
export const MAX_CHUNK = 4096;

/**
 * Entries hashed and parsed per event-loop turn (exported for the test that checks the turns). In
 * the all-in-one process the tallier shares its event loop with the ballot box: a 4096-entry
 * chunk in one go held it for ~250 ms by the profile's ~60 µs per entry (then with a synchronous
 * token check), and every ballot arriving meanwhile waited it out: the bench measured latency
 * p99 up to 2 s. 128 is a round figure, not tuned: ~2 ms per turn at today's per-entry cost.
 */
export const SLICE = 128;

/** `fn` on each entry in order, giving the event loop a turn after every SLICE entries. */
async function forEachSliced(entries: readonly Uint8Array[], fn: (bytes: Uint8Array) => void): Promise<void> {
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    fn(entries[i]!);
  }
}

/** The board contradicted itself or the recount: the poll stops, in state "error". */
export class BoardMisbehaviourError extends Error {
  override name = 'BoardMisbehaviourError';
}

const BALLOT_PREFIX = utf8('{"choice":');

function ballotShaped(bytes: Uint8Array): boolean {
  if (bytes.length < BALLOT_PREFIX.length) return false;
  for (let i = 0; i < BALLOT_PREFIX.length; i++) if (bytes[i] !== BALLOT_PREFIX[i]) return false;
  return true;
}

function entryOrNull(bytes: Uint8Array, index: number): Entry | null {
  try {
    return parseEntry(bytes, `entry ${index}`);
  } catch {
    return null;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface FollowerOptions {
  readonly feed: BoardFeed;
  readonly pollId: string;
  readonly chunk: number;
  /** Called with every new snapshot (verified, or the error state). */
  readonly publish: (snapshot: ResultsSnapshot) => void;
  /** True once the tallier is stopping: a sync returns between chunks. */
  readonly stopping: () => boolean;
}

export class PollFollower {
  readonly pollId: string;
  readonly #feed: BoardFeed;
  readonly #chunk: number;
  readonly #publish: (snapshot: ResultsSnapshot) => void;
  readonly #stopping: () => boolean;

  #poll: Poll | null = null;
  #verifier: TokenVerifier | null = null;
  #key: VerifierKey | null = null;
  readonly #range = new CompactRange();
  #verified: { size: number; note: string } | null = null;
  /** Live polls only: the running count. */
  #live: Recount | null = null;
  #close: { index: number; root: Uint8Array } | null = null;
  #boardTally: { index: number; tally: Tally } | null = null;
  #recounted: Tally | null = null;
  #appended = false;
  #snapshot: ResultsSnapshot | null = null;

  constructor(options: FollowerOptions) {
    this.pollId = options.pollId;
    this.#feed = options.feed;
    this.#chunk = options.chunk;
    this.#publish = options.publish;
    this.#stopping = options.stopping;
  }

  /** The latest snapshot; null until entry 0 was read and a checkpoint verified (or that failed). */
  get snapshot(): ResultsSnapshot | null {
    return this.#snapshot;
  }

  /**
   * Catches up with the latest checkpoint. Resolves true when another sync should follow at once
   * (a tally was just appended). Rejects on feed failures only; misbehaviour ends in state "error".
   */
  async sync(): Promise<boolean> {
    if (this.#snapshot?.state === 'error') return false;
    try {
      return await this.#sync();
    } catch (err) {
      if (!(err instanceof BoardMisbehaviourError)) throw err;
      this.#fail(err.message);
      return false;
    }
  }

  async #sync(): Promise<boolean> {
    const note = await this.#feed.checkpoint(this.pollId);
    if (note === null) return false;
    let claimed: Checkpoint;
    try {
      claimed = Checkpoint.parse(parseNote(note).text);
    } catch (err) {
      throw new BoardMisbehaviourError(`the latest checkpoint is malformed: ${message(err)}`);
    }
    if (claimed.size === 0) return false;
    if (this.#poll === null) await this.#manifest();
    const cp = this.#open(note);

    while (this.#range.size < cp.size) {
      if (this.#stopping()) return false;
      const from = this.#range.size;
      await forEachSliced(await this.#read(from, Math.min(cp.size, from + this.#chunk)), (bytes) => this.#entry(bytes));
      await this.#live?.settle();
    }
    const root = this.#range.root();
    if (!equalBytes(root, cp.root)) {
      throw new BoardMisbehaviourError(
        `the board's entries [0, ${cp.size}) hash to ${toHex(root)}, its signed checkpoint of that size says ${toHex(cp.root)}: the log does not match its checkpoint`,
      );
    }
    this.#verified = { size: cp.size, note };
    let again = false;
    if (this.#close !== null) again = await this.#finish();
    this.#publishSnapshot();
    return again;
  }

  async #manifest(): Promise<void> {
    const [bytes] = await this.#read(0, 1);
    const poll = entryOrNull(bytes!, 0);
    if (poll?.type !== 'poll') throw new BoardMisbehaviourError('entry 0 is not a valid v1 poll manifest');
    if (poll.poll_id !== this.pollId) throw new BoardMisbehaviourError(`entry 0 is the manifest of poll "${poll.poll_id}", not of "${this.pollId}"`);
    try {
      // Token checks run on the thread pool: the event loop only parses and hashes.
      this.#verifier = await TokenVerifier.fromPoll(poll, { offThread: true });
    } catch (err) {
      throw new BoardMisbehaviourError(`the manifest's token key cannot be imported: ${message(err)}`);
    }
    this.#key = new VerifierKey(poll.board_key);
    this.#poll = poll;
    if (poll.results === 'live') this.#live = new Recount(poll, this.#verifier);
    this.#range.append(leafHash(bytes!));
  }

  /** The checkpoint, verified: signature, origin, no rollback. */
  #open(note: string): Checkpoint {
    let cp: Checkpoint;
    try {
      cp = openCheckpoint(note, [this.#key!]).checkpoint;
    } catch (err) {
      throw new BoardMisbehaviourError(`the latest checkpoint does not verify under the manifest's board key ${this.#key!.id}: ${message(err)}`);
    }
    const suffix = `/poll/${this.pollId}`;
    if (!cp.origin.endsWith(suffix) || cp.origin.length === suffix.length) {
      throw new BoardMisbehaviourError(`the checkpoint's origin ${JSON.stringify(cp.origin)} is not <host>${suffix}`);
    }
    if (cp.size < this.#range.size) {
      throw new BoardMisbehaviourError(`rollback: the latest checkpoint has ${cp.size} entries, ${this.#range.size} were already read under earlier checkpoints`);
    }
    return cp;
  }

  /** Entries [from, to), however the feed splits them. */
  async #read(from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    while (from + out.length < to) {
      const at = from + out.length;
      const got = await this.#feed.entries(this.pollId, at, to);
      if (got.length === 0 || got.length > to - at) throw new Error(`the feed returned ${got.length} entries for [${at}, ${to}) of poll ${this.pollId}`);
      out.push(...got);
    }
    return out;
  }

  #entry(bytes: Uint8Array): void {
    const index = this.#range.size;
    this.#range.append(leafHash(bytes));
    if (this.#close === null) {
      if (this.#live === null && ballotShaped(bytes)) return;
      const entry = entryOrNull(bytes, index);
      this.#live?.add(index, entry);
      if (entry?.type === 'close') this.#close = { index, root: this.#range.root() };
    } else if (this.#boardTally === null) {
      const entry = entryOrNull(bytes, index);
      if (entry?.type === 'tally') this.#boardTally = { index, tally: entry };
    }
  }

  /** Closed: recount once, then append the tally or check the board's. True: sync again now. */
  async #finish(): Promise<boolean> {
    this.#recounted ??= await this.#recount();
    const board = this.#boardTally;
    if (board !== null) {
      if (!equalBytes(board.tally.serialize(), this.#recounted.serialize())) {
        throw new BoardMisbehaviourError(
          `the board's tally (entry ${board.index}) differs from this tallier's recount: board ${JSON.stringify(board.tally.toJSON())}, recount ${JSON.stringify(this.#recounted.toJSON())}`,
        );
      }
      return false;
    }
    if (this.#appended) return false;
    await this.#feed.appendTally(this.pollId, this.#recounted.serialize());
    this.#appended = true;
    return true;
  }

  /** A fresh recount of entries [0, close], read again from the board. */
  async #recount(): Promise<Tally> {
    const close = this.#close!;
    // Token checks on the thread pool (the manifest's verifier), parsing goes on meanwhile.
    const recount = new Recount(this.#poll!, this.#verifier!);
    const range = new CompactRange();
    while (range.size <= close.index) {
      const from = range.size;
      await forEachSliced(await this.#read(from, Math.min(close.index + 1, from + this.#chunk)), (bytes) => {
        const index = range.size;
        range.append(leafHash(bytes));
        if (index > 0) recount.add(index, entryOrNull(bytes, index));
      });
      await recount.settle(this.#chunk);
    }
    await recount.settle();
    const root = range.root();
    if (!equalBytes(root, close.root)) {
      throw new BoardMisbehaviourError(
        `the entries [0, ${close.index + 1}) read again for the recount hash to ${toHex(root)}, not to the verified ${toHex(close.root)}: the board served different entries`,
      );
    }
    return recount.tally(root);
  }

  #publishSnapshot(): void {
    const poll = this.#poll!;
    const verified = this.#verified!;
    const tally = this.#boardTally !== null && this.#recounted !== null ? this.#boardTally.tally : null;
    const hidden = tally === null && poll.results === 'sealed';
    const live = this.#live;
    const snapshot: ResultsSnapshot = {
      poll_id: this.pollId,
      state: tally !== null ? 'tallied' : this.#close !== null ? 'closed' : 'open',
      tree_size: verified.size,
      ballots: (this.#close?.index ?? verified.size) - 1,
      ballots_counted: tally?.ballots_counted ?? (hidden || live === null ? null : live.counted),
      ballots_rejected: tally?.ballots_rejected ?? (hidden || live === null ? null : live.rejected),
      counts: tally !== null ? Object.fromEntries(poll.ballot.options.map((o) => [o.id, tally.counts[o.id]!])) : hidden || live === null ? null : live.counts(),
      final: tally === null ? null : { tally: tally.toJSON(), verified: true, checkpoint: verified.note },
    };
    this.#emit(snapshot);
  }

  #fail(error: string): void {
    const last: ResultsSnapshot = this.#snapshot ?? {
      poll_id: this.pollId,
      state: 'error',
      tree_size: 0,
      ballots: 0,
      ballots_counted: null,
      ballots_rejected: null,
      counts: null,
      final: null,
    };
    this.#emit({ ...last, state: 'error', error });
  }

  #emit(snapshot: ResultsSnapshot): void {
    if (this.#snapshot !== null && JSON.stringify(this.#snapshot) === JSON.stringify(snapshot)) return;
    this.#snapshot = snapshot;
    this.#publish(snapshot);
  }
}
