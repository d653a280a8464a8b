/**
 * The sequencer: the one writer of each poll's log (append → integrate → publish).
 *
 * Appends to a poll are grouped into micro-batches (group commit: whatever arrived while the
 * previous batch was committing). Each batch is ONE transaction that
 *   1. spends the batch's token ids under UNIQUE(poll, token id) with a multi-row INSERT
 *      and learns which were spent before (DESIGN.md promise 2),
 *   2. appends the winning entries and integrates them into the hash tiles,
 *   3. signs and stores the new checkpoint (promise 4),
 * and a caller's promise resolves only after that transaction committed (promise 3).
 *
 * Outcomes are explicit: `appended`; `duplicate` (a byte-identical resubmission: the original
 * index); `spent` (the token was spent by a different entry: its index is the evidence).
 * A batch whose transaction fails rejects every caller in it; nothing of it was acknowledged.
 */
import { Checkpoint, equalBytes, EMPTY_ROOT, leafHash, MAX_ENTRY_SIZE, signCheckpoint } from '@blindvote/crypto';
import type { NoteSigner } from '@blindvote/crypto';
import { integrate } from './integrate.ts';
import { hexKey, UnknownLogError } from './storage.ts';
import type { ChunkWrite, LogHead, LogStorage, LogTx, SpendRow, TileWrite } from './storage.ts';

export type AppendResult =
  | { readonly status: 'appended'; readonly index: number; readonly leafHash: Uint8Array; readonly checkpoint: string }
  | { readonly status: 'duplicate'; readonly index: number }
  | { readonly status: 'spent'; readonly index: number };

/** Typed pushback: the ballot box answers it with 429 + Retry-After (docs/decisions.md). */
export class OverloadedError extends Error {
  override name = 'OverloadedError';
  readonly retryAfterSeconds = 1;
}

export class EntryRejectedError extends Error {
  override name = 'EntryRejectedError';
}

interface Pending {
  readonly entry: Uint8Array;
  /** Hashed on arrival, so hashing overlaps the previous batch's commit. */
  readonly leafHash: Uint8Array;
  readonly tokenId: Uint8Array | null;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** A token spent before the batch: where, and the entry that spent it. */
interface Decided {
  readonly index: number;
  readonly existing: Uint8Array;
}

/** A batch planned on `base`: what to write and what each caller gets if it commits. */
interface Plan {
  readonly base: LogHead;
  readonly next: LogHead;
  /** Batch positions of the appended entries, in leaf order from base.size. */
  readonly positions: readonly number[];
  readonly spend: readonly SpendRow[];
  readonly chunks: readonly ChunkWrite[];
  readonly tiles: readonly TileWrite[];
  readonly results: AppendResult[];
}

const NONE: ReadonlyMap<number, Decided> = new Map();

/** A batch's transaction: `head` is the log head it committed (null until then, or on failure). */
interface Inflight {
  readonly expected: LogHead | null;
  /** Settles once this batch holds the log lock (or failed): the next batch locks after it. */
  readonly locked: Promise<void>;
  isLocked: boolean;
  readonly done: Promise<void>;
  settled: boolean;
  head: LogHead | null;
}

/** Callers resumed per event-loop turn after a commit. */
const RESUME_SLICE = 256;

/** Transactions in flight per poll: one committing, one queued behind it on the row lock. */
const PIPELINE_DEPTH = 2;

function sameHead(a: LogHead, b: LogHead): boolean {
  return a.size === b.size && a.origin === b.origin && a.compact.length === b.compact.length
    && a.compact.every((h, i) => equalBytes(h, b.compact[i]!));
}

export interface SequencerOptions {
  /** Most entries per transaction. */
  readonly maxBatch?: number;
  /** Most entries waiting per poll before appends are refused with OverloadedError. */
  readonly maxQueue?: number;
  /** Most entry bytes per transaction (default 8 MiB). */
  readonly maxBatchBytes?: number;
  /** Most entry bytes waiting per poll before appends are refused with OverloadedError (default 64 MiB). */
  readonly maxQueueBytes?: number;
  /**
   * Called once per committed batch (never for a batch whose transaction failed), after the
   * commit and before its callers resume: `entries` in the batch, `appended` to the log (the rest
   * were duplicates or double spends), `seconds` from taking the batch off the queue to its
   * commit (waiting behind the previous batch's lock included). For metrics: it MUST be cheap and
   * MUST NOT retain the info; what it throws is dropped, appends go on.
   */
  readonly onBatch?: (info: { pollId: string; entries: number; appended: number; seconds: number }) => void;
}

export class Sequencer {
  readonly #storage: LogStorage;
  readonly #signers: readonly NoteSigner[];
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #maxBatchBytes: number;
  readonly #maxQueueBytes: number;
  readonly #onBatch: SequencerOptions['onBatch'];
  readonly #queues = new Map<string, Pending[]>();
  readonly #queuedBytes = new Map<string, number>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #wakers = new Map<string, () => void>();

  constructor(storage: LogStorage, signers: readonly NoteSigner[], options: SequencerOptions = {}) {
    if (signers.length === 0) throw new Error('sequencer: at least one checkpoint signer is required');
    this.#storage = storage;
    this.#signers = signers;
    this.#maxBatch = options.maxBatch ?? 4096;
    this.#maxQueue = options.maxQueue ?? 200_000;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 << 20;
    this.#maxQueueBytes = options.maxQueueBytes ?? 64 << 20;
    this.#onBatch = options.onBatch;
  }

  /** Creates the poll's empty log with a signed size-0 checkpoint; false if it exists. */
  async createLog(pollId: string, origin: string): Promise<boolean> {
    const checkpoint = this.#sign(origin, 0, EMPTY_ROOT);
    return this.#storage.createLog({ pollId, origin, size: 0, compact: [], checkpoint });
  }

  /**
   * Appends one entry. `tokenId` (32 bytes) is spent in the same transaction. Entries that
   * carry no voter token (manifest, close, tally) SHOULD still pass a deterministic id (e.g.
   * SHA-256 of type and poll), so that a retry after an unknown outcome cannot append them twice.
   */
  append(pollId: string, entry: Uint8Array, tokenId: Uint8Array | null = null): Promise<AppendResult> {
    if (entry.length === 0 || entry.length > MAX_ENTRY_SIZE) {
      return Promise.reject(new EntryRejectedError(`entry: must be 1..${MAX_ENTRY_SIZE} bytes, got ${entry.length}`));
    }
    if (tokenId !== null && tokenId.length !== 32) {
      return Promise.reject(new EntryRejectedError(`token id: expected 32 bytes, got ${tokenId.length}`));
    }
    let queue = this.#queues.get(pollId);
    if (queue === undefined) this.#queues.set(pollId, (queue = []));
    const bytes = (this.#queuedBytes.get(pollId) ?? 0) + entry.length;
    if (queue.length >= this.#maxQueue || bytes > this.#maxQueueBytes) {
      return Promise.reject(new OverloadedError(`poll "${pollId}": sequencer queue full`));
    }
    this.#queuedBytes.set(pollId, bytes);
    return new Promise((resolve, reject) => {
      queue.push({ entry, leafHash: leafHash(entry), tokenId, resolve, reject });
      this.#wakers.get(pollId)?.();
      if (!this.#running.has(pollId)) {
        const run = new Promise<void>((done) => setImmediate(done)).then(() => this.#drainPoll(pollId));
        run.catch(() => undefined); // failures reach the callers, not the process
        this.#running.set(pollId, run);
      }
    });
  }

  /** Takes the next batch off a poll's queue: at most maxBatch entries and maxBatchBytes bytes. */
  #take(pollId: string, queue: Pending[]): Pending[] {
    let count = 0;
    let bytes = 0;
    while (count < queue.length && count < this.#maxBatch && (count === 0 || bytes + queue[count]!.entry.length <= this.#maxBatchBytes)) {
      bytes += queue[count]!.entry.length;
      count++;
    }
    this.#queuedBytes.set(pollId, (this.#queuedBytes.get(pollId) ?? 0) - bytes);
    return queue.splice(0, count);
  }

  /**
   * Runs a poll's queue as a pipeline two batches deep: while batch N's transaction is in the
   * database, batch N+1 is planned (deduplicated, integrated, checkpoint signed) on the head N
   * will leave, and its transaction queues behind N's on the log's row lock. A plan is only a
   * guess: each transaction checks it against the head it locked and replans when they differ.
   */
  async #drainPoll(pollId: string): Promise<void> {
    const inflight: Inflight[] = [];
    let predicted: LogHead | null = null;
    try {
      for (;;) {
        while (inflight[0]?.settled === true) {
          const { head, expected } = inflight.shift()!;
          // After a failed or replanned commit, later guesses are void: plan afresh on the real head.
          if (head === null || expected === null || !sameHead(head, expected)) predicted = null;
          if (inflight.length === 0) predicted = head;
        }
        const queue = this.#queues.get(pollId);
        const waiting = queue?.length ?? 0;
        const last = inflight[inflight.length - 1];
        const full = waiting >= this.#maxBatch || (this.#queuedBytes.get(pollId) ?? 0) >= this.#maxBatchBytes;
        // A second batch can only spend once the one before it holds the lock, so until then it
        // waits and grows, unless it is already full.
        const canStart = last === undefined
          || (inflight.length < PIPELINE_DEPTH && predicted !== null && (last.isLocked || full));
        if (waiting > 0 && canStart) {
          const batch = this.#take(pollId, queue!);
          let plan: Plan | null = null;
          try {
            plan = predicted === null ? null : this.#plan(predicted, batch, NONE);
          } catch (error) {
            for (const p of batch) p.reject(error);
            continue;
          }
          inflight.push(this.#commit(pollId, batch, plan, last?.locked));
          predicted = plan?.next ?? null;
          continue;
        }
        if (last === undefined) break;
        // Wait for the oldest commit; while a next batch could still start, also for arrivals
        // and for the last batch taking the lock.
        const wake: Promise<unknown>[] = [inflight[0]!.done];
        if (inflight.length < PIPELINE_DEPTH && predicted !== null) {
          wake.push(this.#arrival(pollId));
          if (!last.isLocked) wake.push(last.locked);
        }
        await Promise.race(wake);
      }
    } catch (error) {
      // Not expected (batch failures are settled per batch); never leave a caller hanging.
      for (const p of this.#queues.get(pollId) ?? []) p.reject(error);
    } finally {
      this.#queues.delete(pollId);
      this.#queuedBytes.delete(pollId);
      this.#running.delete(pollId);
      this.#wakers.delete(pollId);
    }
  }

  #arrival(pollId: string): Promise<void> {
    return new Promise((wake) => this.#wakers.set(pollId, wake));
  }

  /** Commits one batch after `previous` locked the log; settles its callers only after the commit. */
  #commit(pollId: string, batch: readonly Pending[], plan: Plan | null, previous: Promise<void> | undefined): Inflight {
    const started = performance.now();
    let onLocked!: () => void;
    const locked = new Promise<void>((resolve) => (onLocked = resolve)).then(() => {
      inflight.isLocked = true;
    });
    const inflight: Inflight = {
      expected: plan?.next ?? null,
      locked,
      isLocked: false,
      settled: false,
      head: null,
      done: this.#storage.transact(pollId, (tx) => this.#sequence(pollId, tx, batch, plan, previous, onLocked)).then(
        ({ results, head }) => {
          inflight.head = head;
          if (this.#onBatch !== undefined) {
            const seconds = (performance.now() - started) / 1000;
            const appended = results.reduce((n, r) => (r.status === 'appended' ? n + 1 : n), 0);
            try {
              this.#onBatch({ pollId, entries: batch.length, appended, seconds });
            } catch {
              // A metrics hook MUST NOT fail a committed batch (SequencerOptions.onBatch).
            }
          }
          // Callers resume in slices on later turns, so database replies for the following
          // batch are not kept waiting behind thousands of continuations.
          const resume = (from: number) => {
            const to = Math.min(from + RESUME_SLICE, batch.length);
            for (let i = from; i < to; i++) batch[i]!.resolve(results[i]!);
            if (to < batch.length) setImmediate(resume, to);
          };
          setImmediate(resume, 0);
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error);
        },
      ).finally(() => {
        onLocked();
        inflight.settled = true;
      }),
    };
    return inflight;
  }

  async #sequence(
    pollId: string,
    tx: LogTx,
    batch: readonly Pending[],
    guess: Plan | null,
    previous: Promise<void> | undefined,
    onLocked: () => void,
  ): Promise<{ results: AppendResult[]; head: LogHead }> {
    // Once the previous batch holds the lock (its spending done, so the two can never wait on
    // each other's tokens), spend: this overlaps the previous batch's writes and commit. Then
    // lock: batches lock in arrival order, so entries keep their append order. A transaction
    // holding the lock MUST NOT wait on another's spent rows (that is how two sequencer
    // processes would deadlock), so it spends before it locks, on a guess when it has none.
    await previous;
    let plan = guess ?? this.#plan(await this.#peek(pollId), batch, NONE);
    const { lost: spent, head } = await tx.spendThenLock(plan.spend);
    onLocked();
    let conflicts = spent;
    if (!sameHead(plan.base, head)) {
      // Same leaders in the same order, shifted: move the rows spent on the guess.
      const fresh = this.#plan(head, batch, NONE);
      const moved = fresh.spend.filter((_, k) => !spent.has(plan.spend[k]!.index));
      if (moved.length > 0) await tx.respend(moved);
      conflicts = new Set(fresh.spend.filter((_, k) => spent.has(plan.spend[k]!.index)).map((row) => row.index));
      plan = fresh;
    }
    if (conflicts.size > 0) {
      // Tokens spent before this batch: a byte-identical entry is a resubmission, else a double spend.
      const lost = plan.spend.filter((row) => conflicts.has(row.index));
      const spentAt = await tx.spentIndexes(lost.map((row) => row.tokenId));
      const indexes = lost.map((row) => {
        const index = spentAt.get(hexKey(row.tokenId));
        if (index === undefined) throw new Error('storage: a conflicting token id has no spent row');
        return index;
      });
      const existing = await tx.entriesAt(indexes);
      const decided = new Map<number, Decided>();
      lost.forEach((row, k) => {
        const bytes = existing.get(indexes[k]!);
        if (bytes === undefined) throw new Error(`storage: spent token points at missing entry ${indexes[k]}`);
        decided.set(plan.positions[row.index - head.size]!, { index: indexes[k]!, existing: bytes });
      });
      plan = this.#plan(head, batch, decided);
      if (plan.spend.length > 0) await tx.respend(plan.spend);
    }
    if (plan.next.size > head.size) {
      await tx.write(plan.chunks, plan.tiles, plan.next);
    }
    return { results: plan.results, head: plan.next };
  }

  /**
   * Plans a batch on `head` (pure): the first entry per token id leads, later ones follow it;
   * leaders not `decided` (already spent before the batch) are appended in arrival order.
   */
  #plan(head: LogHead, batch: readonly Pending[], decided: ReadonlyMap<number, Decided>): Plan {
    const leaders = new Map<string, number>();
    const followers: [number, number][] = [];
    const positions: number[] = [];
    const spend: SpendRow[] = [];
    batch.forEach((p, i) => {
      if (p.tokenId !== null) {
        const key = hexKey(p.tokenId);
        const leader = leaders.get(key);
        if (leader !== undefined) return followers.push([i, leader]);
        leaders.set(key, i);
        if (decided.has(i)) return;
        spend.push({ tokenId: p.tokenId, index: head.size + positions.length, leafHash: p.leafHash });
      }
      positions.push(i);
    });

    const results: AppendResult[] = new Array(batch.length);
    for (const [i, { index, existing }] of decided) {
      results[i] = { status: equalBytes(existing, batch[i]!.entry) ? 'duplicate' : 'spent', index };
    }
    let next = head;
    let chunks: ChunkWrite[] = [];
    let tiles: TileWrite[] = [];
    if (positions.length > 0) {
      const entries = positions.map((i) => batch[i]!.entry);
      const leafHashes = positions.map((i) => batch[i]!.leafHash);
      const integration = integrate(head.size, head.compact, entries, leafHashes);
      const size = head.size + positions.length;
      const checkpoint = this.#sign(head.origin, size, integration.range.root());
      next = { ...head, size, compact: integration.range.hashes, checkpoint };
      ({ chunks, tiles } = integration);
      positions.forEach((i, k) => {
        results[i] = { status: 'appended', index: head.size + k, leafHash: leafHashes[k]!, checkpoint };
      });
    }
    for (const [i, leader] of followers) {
      const original = decided.get(leader)?.existing ?? batch[leader]!.entry;
      results[i] = { status: equalBytes(original, batch[i]!.entry) ? 'duplicate' : 'spent', index: results[leader]!.index };
    }
    return { base: head, next, positions, spend, chunks, tiles, results };
  }

  /** The committed head, read without the lock (a guess to spend on before locking). */
  async #peek(pollId: string): Promise<LogHead> {
    const head = await this.#storage.head(pollId);
    if (head === null) throw new UnknownLogError(pollId);
    return head;
  }

  #sign(origin: string, size: number, root: Uint8Array): string {
    return signCheckpoint(new Checkpoint({ origin, size, root }), this.#signers);
  }
}

