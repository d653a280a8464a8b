/**
 * Closes every published poll whose closes_at has passed, including those that passed while
 * the process was down (the first tick runs at start), and finishes closes a crash interrupted.
 * Several issuer processes may each run one: freezing is one transaction and the board's close
 * is idempotent, so they agree on one close entry.
 */
import type { IssuerStore } from '../store.ts';
import type { PollLifecycle } from './lifecycle.ts';

export interface SchedulerDeps {
  readonly store: IssuerStore;
  readonly lifecycle: PollLifecycle;
  readonly now: () => Date;
  readonly intervalMs: number;
  /**
   * How long after closes_at a poll is closed (default 0). The distributed mode sets it above
   * the ballot boxes' send deadline, so every ballot admitted before closes_at is on the commands
   * topic before the close command and is counted, not refused.
   */
  readonly graceMs?: number;
  /** A poll that failed to close this tick (tried again next tick). */
  readonly onError: (pollId: string, error: unknown) => void;
}

export class CloseScheduler {
  readonly #d: SchedulerDeps;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<string[]> | null = null;

  constructor(deps: SchedulerDeps) {
    if (!(deps.intervalMs > 0)) throw new RangeError(`scheduler interval: expected a positive number of ms, got ${deps.intervalMs}`);
    this.#d = deps;
  }

  /** Ticks now, then every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.tick(), this.#d.intervalMs);
    this.#timer.unref();
    void this.tick();
  }

  /** Stops ticking; resolves once a tick in progress has finished. */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Closes the polls due now; resolves with those closed. Never two ticks at once. */
  tick(): Promise<string[]> {
    this.#running ??= this.#closeDue().finally(() => (this.#running = null));
    return this.#running;
  }

  async #closeDue(): Promise<string[]> {
    const closed: string[] = [];
    let due: string[];
    try {
      due = await this.#d.store.pollsToClose(new Date(this.#d.now().getTime() - (this.#d.graceMs ?? 0)));
    } catch (error) {
      this.#d.onError('*', error);
      return closed;
    }
    for (const pollId of due) {
      try {
        await this.#d.lifecycle.close(pollId);
        closed.push(pollId);
      } catch (error) {
        this.#d.onError(pollId, error);
      }
    }
    return closed;
  }
}
