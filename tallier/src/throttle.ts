/**
 * Coalescing throttle for pushed updates: at most one emission per `intervalMs`, always of the
 * LATEST value. A value pushed while a wait is on replaces the one waiting, and the wait always
 * ends in an emission, so the last value (the final tally) is never dropped, only delayed by at
 * most `intervalMs`. The first value after a quiet period goes out at once.
 */
export class Throttle<T> {
  readonly #intervalMs: number;
  readonly #emit: (value: T) => void;
  #lastEmit = Number.NEGATIVE_INFINITY;
  #waiting: { value: T } | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(intervalMs: number, emit: (value: T) => void) {
    if (!(intervalMs >= 0)) throw new RangeError(`throttle interval: expected a non-negative number of milliseconds, got ${intervalMs}`);
    this.#intervalMs = intervalMs;
    this.#emit = emit;
  }

  push(value: T): void {
    this.#waiting = { value };
    if (this.#timer !== null) return;
    this.#due();
  }

  /** Emits when the interval is over, else waits for it (timers may fire a little early). */
  #due(): void {
    this.#timer = null;
    const wait = this.#lastEmit + this.#intervalMs - performance.now();
    if (wait <= 0) this.flush();
    else this.#timer = setTimeout(() => this.#due(), Math.ceil(wait));
  }

  /** Emits the waiting value now, if there is one. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const waiting = this.#waiting;
    if (waiting === null) return;
    this.#waiting = null;
    this.#lastEmit = performance.now();
    this.#emit(waiting.value);
  }
}
