/**
 * The board: each poll's log through its lifecycle, on top of the sequencer (DESIGN.md
 * promises 2-4 and 7):
 *
 *     publish(manifest)      creates the log; the manifest is entry 0
 *     appendBallot(ballot)   ballots, each spending its token id; receipt material back
 *     closePoll(...)         the close entry, after every ballot accepted before it, before any other
 *     appendTally(bytes)     the tally, once, committing to the board up to the close entry
 *
 * Contracts:
 * - Entries without a voter token (manifest, close, tally) spend a deterministic id,
 *   SHA-256("blindvote/board/v1" 0x00 type 0x00 poll_id), so a retry after an unknown outcome
 *   cannot append one twice (Sequencer.append).
 * - Whether a poll is closed or tallied is read from the log itself (after the close entry only
 *   the tally may follow, so the last entry tells) and then kept in memory: the Board MUST be the
 *   only writer of its logs (the close ordering holds within one Board).
 * - Every call that appends resolves only after the commit (promise 3); a refused call appends
 *   nothing.
 */
import {
  formatTime, Ballot, Checkpoint, Close, FormatError, Poll, Tally, boardOrigin, concatBytes, equalBytes, leafHash, parseEntry, parseNote,
  sha256, utf8,
} from '@blindvote/crypto';
import type { NoteSigner } from '@blindvote/crypto';
import { BoardConflictError, PollClosedError, UnknownPollError } from './errors.ts';
import { LogReader } from './reader.ts';
import type { TreeProofs } from './reader.ts';
import { EntryRejectedError, OverloadedError, Sequencer } from './sequencer.ts';
import type { SequencerOptions } from './sequencer.ts';
import type { LogStorage } from './storage.ts';

export interface BoardOptions {
  readonly storage: LogStorage;
  /**
   * The Ed25519 key that signs every checkpoint (C2SP signed note). Without it the Board is a
   * reader: it serves what the one writer (a Board with the signer, elsewhere) committed, every
   * write rejects, and the closed flag of an open poll is re-read at most `statusTtlMs` late.
   */
  readonly signer?: NoteSigner;
  /** Public base URL, e.g. `https://vote.example` (normalized, no trailing slash). */
  readonly baseUrl: string;
  readonly sequencer?: SequencerOptions;
  /** Readers only: how long an "open" status is trusted before it is read again (default 1000 ms). */
  readonly statusTtlMs?: number;
}

export interface PollState {
  readonly poll: Poll;
  /** Tree size of the latest checkpoint. */
  readonly size: number;
  /** The latest signed checkpoint (C2SP signed note text), of `size`. */
  readonly checkpoint: string;
  readonly closed: boolean;
  readonly tallied: boolean;
}

export type BallotAppend =
  | {
      readonly status: 'appended' | 'duplicate';
      readonly leafIndex: number;
      readonly leafHash: Uint8Array;
      /** Signed checkpoint whose tree holds the leaf: the batch's (appended) or the latest (duplicate). */
      readonly checkpoint: string;
      /** RFC 9162 inclusion proof of the leaf in that checkpoint's tree. */
      readonly inclusionProof: Uint8Array[];
    }
  /** The token was spent by another entry, at `index`. */
  | { readonly status: 'spent'; readonly index: number };

/** Receipt material of a ballot already on the board. */
export type RecordedBallot = Extract<BallotAppend, { status: 'appended' | 'duplicate' }> & { readonly status: 'duplicate' };

interface Status {
  readonly closed: boolean;
  readonly tallied: boolean;
  /** Readers: when an open status is to be read again (writers know every change they make). */
  readonly until?: number;
}

const OPEN: Status = { closed: false, tallied: false };
const DOMAIN = utf8('blindvote/board/v1');

/** The spent-set id of a tokenless entry of `pollId`. */
function entryTokenId(type: 'poll' | 'close' | 'tally', pollId: string): Uint8Array {
  return sha256(concatBytes(DOMAIN, new Uint8Array([0]), utf8(type), new Uint8Array([0]), utf8(pollId)));
}

/** Runs `check`; a FormatError (what crypto throws at a bad entry) becomes EntryRejectedError. */
function rejecting<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof FormatError) throw new EntryRejectedError(error.message, { cause: error });
    throw error;
  }
}


/** A write asked of a reader Board (one without the signer). */
export class ReadOnlyBoardError extends Error {
  override name = 'ReadOnlyBoardError';
}

export class Board {
  /** The checkpoint verifier key (C2SP); null on a reader. */
  readonly verifierKey: string | null;
  /** Reads of the logs: tiles, bundles, checkpoints, proofs (what the HTTP routes serve). */
  readonly reader: LogReader;
  readonly #storage: LogStorage;
  readonly #sequencer: Sequencer | null;
  readonly #baseUrl: string;
  readonly #statusTtlMs: number;
  /** Parsed manifests (immutable once on the board). */
  readonly #polls = new Map<string, Poll>();
  readonly #status = new Map<string, Status>();
  /** Polls whose close entry is being appended: their ballots are refused. */
  readonly #closing = new Map<string, Promise<void>>();
  /** Ballot appends handed to the sequencer and not yet settled, per poll. */
  readonly #inflight = new Map<string, Set<Promise<unknown>>>();
  /** Every write call not yet settled (drained by shutdown). */
  readonly #work = new Set<Promise<unknown>>();
  readonly #listeners = new Set<(pollId: string, size: number) => void>();
  /** Largest size announced per poll (onAppend fires once per committed batch). */
  readonly #announced = new Map<string, number>();
  /** Per poll, proofs in the tree of the latest checkpoint a receipt was made for. */
  readonly #trees = new Map<string, { readonly checkpoint: string; readonly tree: TreeProofs }>();
  #stopped = false;

  constructor(options: BoardOptions) {
    if (options.baseUrl.endsWith('/')) throw new RangeError(`baseUrl: ${options.baseUrl} must not end with "/"`);
    boardOrigin(`${options.baseUrl}/poll/p`, 'baseUrl');
    this.#storage = options.storage;
    this.#sequencer = options.signer === undefined ? null : new Sequencer(options.storage, [options.signer], options.sequencer);
    this.reader = new LogReader(options.storage);
    this.#baseUrl = options.baseUrl;
    this.#statusTtlMs = options.statusTtlMs ?? 1000;
    this.verifierKey = options.signer?.verifierKey ?? null;
  }

  /** The poll's C2SP tlog-tiles prefix URL; its checkpoint origin is this without the scheme. */
  boardUrl(pollId: string): string {
    return `${this.#baseUrl}/poll/${pollId}`;
  }

  /**
   * Creates the poll's log with the manifest as entry 0. The manifest's board_key MUST be this
   * board's key. Idempotent: the byte-identical manifest again resolves; another rejects.
   */
  publish(manifest: Poll): Promise<void> {
    return this.#write(() => this.#publish(manifest));
  }

  /**
   * Appends the ballot, spending its token id. Unknown poll: UnknownPollError; closed or closing:
   * PollClosedError; a ballot the manifest refuses (`Poll.checkBallot`; the token signature is
   * the ballot box's to verify): EntryRejectedError; full queue: OverloadedError.
   */
  appendBallot(ballot: Ballot): Promise<BallotAppend> {
    return this.#write(() => this.#appendBallot(ballot));
  }

  /**
   * Appends the close entry (`ballots` = ballot entries before it). New ballots are refused from
   * the call on; the entry goes in after every ballot already accepted has settled. Idempotent:
   * a closed poll resolves with nothing appended; a call while a close is under way joins it.
   * A close that fails leaves the poll open.
   */
  closePoll(pollId: string, issued: number, closedAt: Date): Promise<void> {
    return this.#write(() => this.#close(pollId, issued, closedAt));
  }

  /**
   * Appends the tally (canonical entry bytes) after the close entry, once: the byte-identical
   * tally again resolves; another rejects with BoardConflictError. Its tree_size and root MUST
   * be the board's up to and including the close entry.
   */
  appendTally(pollId: string, tally: Uint8Array): Promise<void> {
    return this.#write(() => this.#appendTally(pollId, tally));
  }

  /** The poll's manifest, size and lifecycle; null when it was never published. */
  async state(pollId: string): Promise<PollState | null> {
    const poll = await this.#manifest(pollId);
    if (poll === null) return null;
    const head = await this.#storage.head(pollId);
    if (head === null) return null;
    const status = await this.#statusOf(pollId, head.size);
    return { poll, size: head.size, checkpoint: head.checkpoint, ...status };
  }

  /**
   * The manifest and closed/tallied flags, from memory once known (no read of the log head): what
   * a ballot path needs per ballot. null: no log. `state` adds the size and latest checkpoint.
   */
  async status(pollId: string): Promise<{ readonly poll: Poll; readonly closed: boolean; readonly tallied: boolean } | null> {
    const poll = await this.#manifest(pollId);
    if (poll === null) return null;
    return { poll, ...(await this.#statusOf(pollId)) };
  }

  /** Every poll id with a log. */
  polls(): Promise<string[]> {
    return this.#storage.logs();
  }

  /** The latest signed checkpoint (C2SP signed note text), or null without a log. */
  async checkpoint(pollId: string): Promise<string | null> {
    return (await this.#storage.head(pollId))?.checkpoint ?? null;
  }

  /** Committed entries [from, to), at most 4096 (LogReader.entries). */
  entries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    return this.reader.entries(pollId, from, to);
  }

  /**
   * Calls `listener(pollId, size)` after each committed batch that grew a log, and with size 0
   * when a log is created. Listeners MUST NOT throw (what they throw is dropped). Returns the
   * function that removes the listener.
   */
  onAppend(listener: (pollId: string, size: number) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Refuses new writes (OverloadedError), then waits for every write in progress to settle. Storage stays open. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  // -------------------------------------------------------------------------------------------

  /** The sequencer of a writer Board: only write operations use it, and `#write` refuses them on a reader. */
  get #writer(): Sequencer {
    return this.#sequencer!;
  }

  #write<T>(op: () => Promise<T>): Promise<T> {
    if (this.#sequencer === null) return Promise.reject(new ReadOnlyBoardError('board: this is a reader (no signing key); writes go to the sequencer'));
    if (this.#stopped) return Promise.reject(new OverloadedError('board: shutting down, nothing was appended; retry later'));
    const work = op();
    this.#work.add(work);
    const done = () => this.#work.delete(work);
    work.then(done, done);
    return work;
  }

  #announce(pollId: string, size: number): void {
    if (size <= (this.#announced.get(pollId) ?? -1)) return;
    this.#announced.set(pollId, size);
    for (const listener of this.#listeners) {
      try {
        listener(pollId, size);
      } catch {
        // Listeners MUST NOT throw; an append already committed is not undone by one that does.
      }
    }
  }

  /** The parsed manifest, or null when there is none (no log, or an empty one). */
  async #manifest(pollId: string): Promise<Poll | null> {
    const known = this.#polls.get(pollId);
    if (known !== undefined) return known;
    const [entry] = await this.#storage.readEntries(pollId, 0, 1);
    if (entry === undefined) return null;
    const poll = Poll.deserialize(entry);
    this.#polls.set(pollId, poll);
    return poll;
  }

  async #published(pollId: string): Promise<Poll> {
    const poll = await this.#manifest(pollId);
    if (poll === null) throw new UnknownPollError(pollId);
    return poll;
  }

  /** Closed/tallied, from memory or from the last of the log's `size` entries. */
  async #statusOf(pollId: string, size?: number): Promise<Status> {
    const known = this.#status.get(pollId);
    if (known !== undefined && (known.until === undefined || known.until > Date.now())) return known;
    if (known !== undefined) this.#status.delete(pollId);
    const n = size ?? (await this.#storage.head(pollId))?.size ?? 0;
    let status = OPEN;
    if (n > 1) {
      const [last] = await this.#storage.readEntries(pollId, n - 1, n);
      const type = last === undefined ? 'ballot' : parseEntry(last).type;
      status = { closed: type === 'close' || type === 'tally', tallied: type === 'tally' };
    }
    // A reader learns of the writer's close or tally only from the log: an open status expires.
    if (this.#sequencer === null && !status.tallied) status = { ...status, until: Date.now() + this.#statusTtlMs };
    // A status set meanwhile by this Board's own close or tally is newer: keep it.
    if (!this.#status.has(pollId)) this.#status.set(pollId, status);
    return this.#status.get(pollId)!;
  }

  async #publish(manifest: Poll): Promise<void> {
    const pollId = manifest.poll_id;
    if (manifest.board_key !== this.verifierKey) {
      throw new BoardConflictError(pollId, `manifest board_key ${manifest.board_key} is not this board's key ${this.verifierKey}`);
    }
    const bytes = manifest.serialize();
    const conflict = () => new BoardConflictError(pollId, 'already published with a different manifest; a manifest never changes');
    const known = this.#polls.get(pollId);
    if (known !== undefined) {
      if (!equalBytes(known.serialize(), bytes)) throw conflict();
      return;
    }
    if (await this.#writer.createLog(pollId, boardOrigin(this.boardUrl(pollId)))) this.#announce(pollId, 0);
    const [first] = await this.#storage.readEntries(pollId, 0, 1);
    if (first === undefined) {
      const r = await this.#writer.append(pollId, bytes, entryTokenId('poll', pollId));
      if (r.status === 'spent') throw conflict();
      if (r.index !== 0) throw new Error(`board: the manifest of "${pollId}" went to index ${r.index}, not 0`);
      if (r.status === 'appended') this.#announce(pollId, this.#tree(pollId, r.checkpoint).size);
    } else if (!equalBytes(first, bytes)) {
      throw conflict();
    }
    this.#polls.set(pollId, manifest);
  }

  async #appendBallot(ballot: Ballot): Promise<BallotAppend> {
    const pollId = ballot.poll_id;
    const poll = await this.#published(pollId);
    rejecting(() => poll.checkBallot(ballot));
    const bytes = ballot.serialize();
    const tokenId = ballot.tokenId();
    const status = await this.#statusOf(pollId);
    // From this check to the hand-over to the sequencer nothing awaits, so a close that starts
    // now finds this append in #inflight and waits for it.
    if (status.closed || this.#closing.has(pollId)) throw new PollClosedError(pollId);
    const append = this.#writer.append(pollId, bytes, tokenId);
    let inflight = this.#inflight.get(pollId);
    if (inflight === undefined) this.#inflight.set(pollId, (inflight = new Set()));
    inflight.add(append);
    const settle = () => inflight.delete(append);
    append.then(settle, settle);

    const r = await append;
    if (r.status === 'spent') return { status: 'spent', index: r.index };
    let checkpoint: string;
    if (r.status === 'appended') {
      checkpoint = r.checkpoint;
    } else {
      const head = await this.#storage.head(pollId);
      checkpoint = head!.checkpoint;
    }
    const tree = this.#tree(pollId, checkpoint);
    if (r.status === 'appended') this.#announce(pollId, tree.size);
    const hash = r.status === 'appended' ? r.leafHash : leafHash(bytes);
    return { status: r.status, leafIndex: r.index, leafHash: hash, checkpoint, inclusionProof: await tree.inclusionProof(r.index) };
  }

  /**
   * Receipt material of exactly `ballot` if it is on the board (a retry whose answer was lost,
   * arriving after the close), else null. Appends nothing, so it is safe on a closed poll.
   */
  async recordedBallot(ballot: Ballot): Promise<RecordedBallot | null> {
    const pollId = ballot.poll_id;
    await this.#published(pollId);
    const index = await this.#storage.spentIndex(pollId, ballot.tokenId());
    if (index === null) return null;
    const bytes = ballot.serialize();
    const [stored] = await this.#storage.readEntries(pollId, index, index + 1);
    if (stored === undefined || !equalBytes(stored, bytes)) return null;
    return this.#recorded(pollId, index, bytes);
  }

  /**
   * The ballot whose leaf hash this is, with its receipt material (how a voter exchanges a
   * signed acceptance for the receipt), or null when no ballot with it is on the board yet.
   */
  async ballotByLeafHash(pollId: string, hash: Uint8Array): Promise<{ readonly ballot: Ballot; readonly recorded: RecordedBallot } | null> {
    await this.#published(pollId);
    const index = await this.#storage.leafIndex(pollId, hash);
    if (index === null) return null;
    const [stored] = await this.#storage.readEntries(pollId, index, index + 1);
    if (stored === undefined) return null;
    const entry = parseEntry(stored);
    if (entry.type !== 'ballot') return null;
    return { ballot: entry, recorded: await this.#recorded(pollId, index, stored) };
  }

  async #recorded(pollId: string, index: number, bytes: Uint8Array): Promise<RecordedBallot> {
    const checkpoint = (await this.#storage.head(pollId))!.checkpoint;
    const tree = this.#tree(pollId, checkpoint);
    return { status: 'duplicate' as const, leafIndex: index, leafHash: leafHash(bytes), checkpoint, inclusionProof: await tree.inclusionProof(index) };
  }

  /** Proofs in the tree of `checkpoint` (one of ours, so its size is read without verifying it). */
  #tree(pollId: string, checkpoint: string): TreeProofs {
    const known = this.#trees.get(pollId);
    if (known?.checkpoint === checkpoint) return known.tree;
    const tree = this.reader.tree(pollId, Checkpoint.parse(parseNote(checkpoint).text).size);
    this.#trees.set(pollId, { checkpoint, tree });
    return tree;
  }

  async #close(pollId: string, issued: number, closedAt: Date): Promise<void> {
    const poll = await this.#published(pollId);
    if ((await this.#statusOf(pollId)).closed) return;
    const closed_at = rejecting(() => formatTime(closedAt));
    // What needs no ballot count is checked before ballots are stopped.
    rejecting(() => poll.checkClose(new Close({ poll_id: pollId, closed_at, ballots: 0, issued })));
    let closing = this.#closing.get(pollId);
    if (closing === undefined) {
      closing = this.#appendClose(poll, closed_at, issued).finally(() => this.#closing.delete(pollId));
      this.#closing.set(pollId, closing);
    }
    return closing;
  }

  async #appendClose(poll: Poll, closed_at: string, issued: number): Promise<void> {
    const pollId = poll.poll_id;
    try {
      while ((this.#inflight.get(pollId)?.size ?? 0) > 0) await Promise.allSettled([...this.#inflight.get(pollId)!]);
      const head = await this.#storage.head(pollId);
      // Before the close entry, the log holds the manifest and ballots only.
      const close = rejecting(() => {
        const entry = new Close({ poll_id: pollId, closed_at, ballots: head!.size - 1, issued });
        poll.checkClose(entry);
        return entry;
      });
      const r = await this.#writer.append(pollId, close.serialize(), entryTokenId('close', pollId));
      if (r.status === 'appended') {
        this.#status.set(pollId, { closed: true, tallied: false });
        this.#announce(pollId, this.#tree(pollId, r.checkpoint).size);
        return;
      }
    } catch (error) {
      // The outcome of a failed append may be unknown: read the status from the log next time.
      this.#status.delete(pollId);
      throw error;
    }
    // The close id was spent already: the log is closed (a retry after an unknown outcome).
    this.#status.delete(pollId);
    await this.#statusOf(pollId);
  }

  async #appendTally(pollId: string, bytes: Uint8Array): Promise<void> {
    const poll = await this.#published(pollId);
    const tally = rejecting(() => {
      const entry = Tally.deserialize(bytes);
      poll.checkTally(entry);
      return entry;
    });
    if (!(await this.#statusOf(pollId)).closed) {
      throw new BoardConflictError(pollId, 'not closed: the tally comes after the close entry');
    }
    const size = (await this.#storage.head(pollId))!.size;
    const [last] = await this.#storage.readEntries(pollId, size - 1, size);
    if (parseEntry(last!).type === 'tally') {
      if (equalBytes(last!, bytes)) return;
      throw new BoardConflictError(pollId, 'already has a different tally; a board holds one');
    }
    // The last entry is the close entry: the tally commits to the board up to and including it.
    if (tally.tree_size !== size) {
      throw new EntryRejectedError(`tally.tree_size: ${tally.tree_size}, but the board up to and including its close entry has ${size} entries`);
    }
    if (!equalBytes(tally.root, await this.reader.root(pollId, size))) {
      throw new EntryRejectedError(`tally.root: not the root of the board's first ${size} entries (up to and including the close entry)`);
    }
    const r = await this.#writer.append(pollId, bytes, entryTokenId('tally', pollId));
    if (r.status === 'spent') throw new BoardConflictError(pollId, 'already has a different tally; a board holds one');
    this.#status.set(pollId, { closed: true, tallied: true });
    if (r.status === 'appended') this.#announce(pollId, this.#tree(pollId, r.checkpoint).size);
  }
}
