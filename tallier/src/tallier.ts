/**
 * The tallier: follows every poll on the board (PollFollower), keeps each poll's latest verified
 * snapshot, and pushes updates to subscribers at most once per `updateIntervalMs` per poll
 * (Throttle: the latest state always, the final one never dropped).
 *
 * Scheduling: a poll is synced when `start()` lists it and on every `onAppend` notification; at
 * most one sync runs per poll, and notifications that arrive meanwhile make it run once more.
 * A sync that fails on the feed (I/O) is retried after a delay that doubles up to 30 s.
 *
 * Contracts: `onError` receives the poll id and an error whose message describes the board or
 * the feed, never request data. A poll in state "error" stays there until the process restarts.
 */
import { MAX_CHUNK, PollFollower } from './follower.ts';
import type { BoardFeed } from './ports.ts';
import type { ResultsSnapshot } from './snapshot.ts';
import { Throttle } from './throttle.ts';

export interface TallierOptions {
  readonly feed: BoardFeed;
  /** Entries per feed read, 1..4096 (default 4096). */
  readonly chunk?: number;
  /** Shortest time between two pushed updates of one poll (default 250 ms: 4 per second). */
  readonly updateIntervalMs?: number;
  /** First retry delay after a feed failure (default 1000 ms; doubles up to 30 s). */
  readonly retryMs?: number;
  /**
   * Board misbehaviour (`kind: 'board'`: the poll is now in state "error") and feed failures
   * (`kind: 'feed'`: retried). Default: `process.emitWarning`, so neither goes unseen.
   */
  readonly onError?: (pollId: string, error: Error, kind: 'board' | 'feed') => void;
}

export type SnapshotListener = (snapshot: ResultsSnapshot) => void;

const MAX_RETRY_MS = 30_000;

interface Followed {
  readonly follower: PollFollower;
  readonly throttle: Throttle<ResultsSnapshot>;
  readonly listeners: Set<SnapshotListener>;
  running: Promise<void> | null;
  again: boolean;
  failures: number;
  retry: ReturnType<typeof setTimeout> | null;
}

export class Tallier {
  readonly #feed: BoardFeed;
  readonly #chunk: number;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  readonly #onError: NonNullable<TallierOptions['onError']>;
  readonly #polls = new Map<string, Followed>();
  #unsubscribe: (() => void) | null = null;
  #stopping = false;

  constructor(options: TallierOptions) {
    const chunk = options.chunk ?? MAX_CHUNK;
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK) throw new RangeError(`tallier chunk: expected 1..${MAX_CHUNK} entries, got ${chunk}`);
    this.#feed = options.feed;
    this.#chunk = chunk;
    this.#intervalMs = options.updateIntervalMs ?? 250;
    this.#retryMs = options.retryMs ?? 1000;
    this.#onError = options.onError ?? ((pollId, error, kind) => process.emitWarning(`poll ${pollId}: ${error.message}`, { code: kind === 'board' ? 'BV_TALLIER_BOARD' : 'BV_TALLIER_FEED' }));
  }

  /** Subscribes to the board's appends and starts following every poll. Resolves once the polls are listed, not caught up. */
  async start(): Promise<void> {
    if (this.#unsubscribe !== null) return;
    this.#stopping = false;
    this.#unsubscribe = this.#feed.onAppend((pollId) => this.#request(pollId));
    for (const pollId of await this.#feed.polls()) this.#request(pollId);
  }

  /** Stops following: no new syncs, running ones end at their next chunk; waiting updates are delivered. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    for (const p of this.#polls.values()) {
      if (p.retry !== null) clearTimeout(p.retry);
      p.retry = null;
    }
    await this.idle();
    for (const p of this.#polls.values()) p.throttle.flush();
  }

  /** Resolves when no sync is running (retries waiting on a timer do not count). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.#polls.values()].flatMap((p) => (p.running === null ? [] : [p.running]));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** The latest snapshot of a poll; null for a poll the tallier has not read a manifest of. */
  snapshot(pollId: string): ResultsSnapshot | null {
    return this.#polls.get(pollId)?.follower.snapshot ?? null;
  }

  /**
   * Calls `listener` with every pushed update of a poll (throttled; the current snapshot is
   * `snapshot()`). Returns the unsubscribe function. Throws for a poll with no snapshot.
   */
  subscribe(pollId: string, listener: SnapshotListener): () => void {
    const p = this.#polls.get(pollId);
    if (p === undefined || p.follower.snapshot === null) throw new Error(`tallier: no results for poll ${JSON.stringify(pollId)}`);
    p.listeners.add(listener);
    return () => {
      p.listeners.delete(listener);
    };
  }

  /** Subscribers of a poll right now. */
  subscribers(pollId: string): number {
    return this.#polls.get(pollId)?.listeners.size ?? 0;
  }

  #request(pollId: string): void {
    if (this.#stopping) return;
    const p = this.#polls.get(pollId) ?? this.#follow(pollId);
    if (p.running !== null) {
      p.again = true;
      return;
    }
    p.running = this.#run(p);
  }

  #follow(pollId: string): Followed {
    const listeners = new Set<SnapshotListener>();
    const throttle = new Throttle<ResultsSnapshot>(this.#intervalMs, (snapshot) => {
      for (const listener of listeners) {
        try {
          listener(snapshot);
        } catch {
          // One subscriber's failure MUST NOT keep the others from their update.
        }
      }
    });
    const follower = new PollFollower({
      feed: this.#feed,
      pollId,
      chunk: this.#chunk,
      stopping: () => this.#stopping,
      publish: (snapshot) => {
        if (snapshot.state === 'error') this.#onError(pollId, new Error(snapshot.error), 'board');
        throttle.push(snapshot);
      },
    });
    const p: Followed = { follower, throttle, listeners, running: null, again: false, failures: 0, retry: null };
    this.#polls.set(pollId, p);
    return p;
  }

  async #run(p: Followed): Promise<void> {
    try {
      do {
        p.again = false;
        try {
          if (await p.follower.sync()) p.again = true;
          p.failures = 0;
        } catch (err) {
          p.failures++;
          this.#onError(p.follower.pollId, err instanceof Error ? err : new Error(String(err)), 'feed');
          this.#retry(p);
          return;
        }
      } while (p.again && !this.#stopping);
    } finally {
      p.running = null;
    }
  }

  #retry(p: Followed): void {
    if (this.#stopping || p.retry !== null) return;
    const delay = Math.min(MAX_RETRY_MS, this.#retryMs * 2 ** (p.failures - 1));
    p.retry = setTimeout(() => {
      p.retry = null;
      this.#request(p.follower.pollId);
    }, delay);
  }
}
