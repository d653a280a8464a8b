/** A promise that resolves at the next `notify()` (or after `ms`). */
export class Signal {
  #waiters: (() => void)[] = [];
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#waiters;
      const timer = ms === undefined ? null : setTimeout(done, ms);
      function done() {
        if (timer !== null) clearTimeout(timer);
        const at = waiters.indexOf(done);
        if (at >= 0) waiters.splice(at, 1);
        resolve();
      }
      waiters.push(done);
    });
  }
  notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
