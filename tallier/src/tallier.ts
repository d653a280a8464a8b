/**
 * The tallier: follows every poll on the board (PollFollower), keeps each poll's latest verified
 * snapshot, and publishes it into the LiveStore (ports.ts) at most once per `updateIntervalMs` per
 * poll (Throttle: the latest state always, the final one never dropped). Readers (the HTTP routes,
 * in this process or another) read and follow the LiveStore, never the Tallier. Every
 * `republishMs` the last published snapshot of every poll is published again, so a store that
 * lost its contents (a Redis flush or restart) is refilled without new votes; the store's
 * monotonic rule makes that a no-op when nothing was lost.
 *
 * Scheduling: a poll is synced when `start()` lists it and on every `onAppend` notification; at
 * most one sync runs per poll, and notifications that arrive meanwhile make it run once more.
 * A sync that fails on the feed (I/O) is retried after a delay that doubles up to 30 s.
 *
 * Contracts: `onError` receives the poll id and an error whose message describes the board, the
 * feed or the live store, never request data. A poll in state "error" stays there until the
 * process restarts. A failed publish is retried by the next republish; it is reported once until
 * a publish of that poll succeeds again.
 */
import { MAX_CHUNK, PollFollower } from './follower.ts';
import { MemoryLiveStore } from './live-memory.ts';
import type { BoardFeed, LiveStore } from './ports.ts';
import type { ResultsSnapshot } from './snapshot.ts';
import { Throttle } from './throttle.ts';

export interface TallierOptions {
  readonly feed: BoardFeed;
  /** Entries per feed read, 1..4096 (default 4096). */
  readonly chunk?: number;
  /** Where snapshots are published for readers (default: a new MemoryLiveStore, see `live`). */
  readonly live?: LiveStore;
  /** Shortest time between two published updates of one poll (default 200 ms: 5 per second; a vote shows within ~200 ms). */
  readonly updateIntervalMs?: number;
  /** Period of re-publishing every poll's last published snapshot (default 5000 ms). */
  readonly republishMs?: number;
  /** First retry delay after a feed failure (default 1000 ms; doubles up to 30 s). */
  readonly retryMs?: number;
  /**
   * Board misbehaviour (`kind: 'board'`: the poll is now in state "error"), feed failures
   * (`kind: 'feed'`: retried) and live store failures (`kind: 'live'`: republished later).
   * Default: `process.emitWarning`, so none goes unseen.
   */
  readonly onError?: (pollId: string, error: Error, kind: ErrorKind) => void;
}

export type ErrorKind = 'board' | 'feed' | 'live';

const MAX_RETRY_MS = 30_000;
const WARNING_CODES: Record<ErrorKind, string> = { board: 'BV_TALLIER_BOARD', feed: 'BV_TALLIER_FEED', live: 'BV_TALLIER_LIVE' };

interface Followed {
  readonly follower: PollFollower;
  readonly throttle: Throttle<ResultsSnapshot>;
  /** The snapshot the throttle let out last: what is (re-)published. */
  published: ResultsSnapshot | null;
  /** A publish failed and was reported; cleared by the next success. */
  liveFailing: boolean;
  /** Publishes under way: a republish waits for none of them, it is skipped (no pile-up on a store that hangs). */
  publishing: number;
  running: Promise<void> | null;
  again: boolean;
  failures: number;
  retry: ReturnType<typeof setTimeout> | null;
}

export class Tallier {
  readonly #feed: BoardFeed;
  readonly #chunk: number;
  readonly #live: LiveStore;
  readonly #intervalMs: number;
  readonly #republishMs: number;
  readonly #retryMs: number;
  readonly #onError: NonNullable<TallierOptions['onError']>;
  readonly #polls = new Map<string, Followed>();
  readonly #inFlight = new Set<Promise<void>>();
  #unsubscribe: (() => void) | null = null;
  #republish: ReturnType<typeof setInterval> | null = null;
  #stopping = false;

  constructor(options: TallierOptions) {
    const chunk = options.chunk ?? MAX_CHUNK;
    if (!Number.isSafeInteger(chunk) || chunk < 1 || chunk > MAX_CHUNK) throw new RangeError(`tallier chunk: expected 1..${MAX_CHUNK} entries, got ${chunk}`);
    this.#feed = options.feed;
    const republishMs = options.republishMs ?? 5000;
    if (!(republishMs > 0)) throw new RangeError(`tallier republishMs: expected a positive number of milliseconds, got ${republishMs}`);
    this.#chunk = chunk;
    this.#live = options.live ?? new MemoryLiveStore();
    this.#intervalMs = options.updateIntervalMs ?? 200;
    this.#republishMs = republishMs;
    this.#retryMs = options.retryMs ?? 1000;
    this.#onError = options.onError ?? ((pollId, error, kind) => process.emitWarning(`poll ${pollId}: ${error.message}`, { code: WARNING_CODES[kind] }));
  }

  /** The store this tallier publishes into: hand it to `tallierRoutes` to serve the results. */
  get live(): LiveStore {
    return this.#live;
  }

  /** Subscribes to the board's appends and starts following every poll. Resolves once the polls are listed, not caught up. */
  async start(): Promise<void> {
    if (this.#unsubscribe !== null) return;
    this.#stopping = false;
    this.#unsubscribe = this.#feed.onAppend((pollId) => this.#request(pollId));
    this.#republish = setInterval(() => {
      for (const p of this.#polls.values()) if (p.published !== null && p.publishing === 0) this.#publish(p, p.published);
    }, this.#republishMs);
    this.#republish.unref();
    for (const pollId of await this.#feed.polls()) this.#request(pollId);
  }

  /**
   * Stops following: no new syncs, running ones end at their next chunk; waiting updates are
   * published, and the returned promise waits for every publish under way to settle (so a store
   * MUST answer or fail in bounded time: give a Redis client a retry limit or command timeout).
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#republish !== null) clearInterval(this.#republish);
    this.#republish = null;
    for (const p of this.#polls.values()) {
      if (p.retry !== null) clearTimeout(p.retry);
      p.retry = null;
    }
    await this.idle();
    for (const p of this.#polls.values()) p.throttle.flush();
    await Promise.all(this.#inFlight);
  }

  /** Resolves when no sync is running (retries waiting on a timer do not count). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.#polls.values()].flatMap((p) => (p.running === null ? [] : [p.running]));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /**
   * The latest snapshot this tallier computed for a poll (not throttled: it may be ahead of the
   * LiveStore by up to `updateIntervalMs`); null for a poll it has not read a manifest of.
   */
  snapshot(pollId: string): ResultsSnapshot | null {
    return this.#polls.get(pollId)?.follower.snapshot ?? null;
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
    const throttle = new Throttle<ResultsSnapshot>(this.#intervalMs, (snapshot) => {
      p.published = snapshot;
      this.#publish(p, snapshot);
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
    const p: Followed = { follower, throttle, published: null, liveFailing: false, publishing: 0, running: null, again: false, failures: 0, retry: null };
    this.#polls.set(pollId, p);
    return p;
  }

  #publish(p: Followed, snapshot: ResultsSnapshot): void {
    p.publishing++;
    const done = this.#live.publish(snapshot).then(
      () => {
        p.liveFailing = false;
      },
      (err: unknown) => {
        if (p.liveFailing) return;
        p.liveFailing = true;
        this.#onError(p.follower.pollId, err instanceof Error ? err : new Error(String(err)), 'live');
      },
    );
    this.#inFlight.add(done);
    void done.finally(() => {
      p.publishing--;
      this.#inFlight.delete(done);
    });
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
