/**
 * Runs the tasks of one key one after another (tasks of different keys run freely). Sign-in
 * attempts on one account MUST pass through here: the failure limit is read before the password
 * check and counted after it, so parallel guesses would otherwise all be checked before the first
 * failure is counted. Per process: several issuer processes need a shared counter that reserves
 * the attempt first.
 */
export class OneAtATime {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
