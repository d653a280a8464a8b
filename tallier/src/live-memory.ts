/**
 * MemoryLiveStore: the LiveStore (ports.ts) of one process, the all-in-one default. Listeners are
 * called synchronously inside `publish`, in subscription order, so every listener gets every
 * snapshot that became current (it misses none here).
 */
import type { LiveListener, LiveStore } from './ports.ts';
import { supersedes } from './ports.ts';
import type { ResultsSnapshot } from './snapshot.ts';

export class MemoryLiveStore implements LiveStore {
  readonly #current = new Map<string, ResultsSnapshot>();
  readonly #listeners = new Map<string, Set<LiveListener>>();

  async publish(snapshot: ResultsSnapshot): Promise<void> {
    const current = this.#current.get(snapshot.poll_id);
    if (current !== undefined && !supersedes(snapshot, current)) return;
    this.#current.set(snapshot.poll_id, snapshot);
    for (const listener of [...(this.#listeners.get(snapshot.poll_id) ?? [])]) {
      try {
        listener(snapshot);
      } catch {
        // One subscriber's failure MUST NOT keep the others from their update.
      }
    }
  }

  async snapshot(pollId: string): Promise<ResultsSnapshot | null> {
    return this.#current.get(pollId) ?? null;
  }

  subscribe(pollId: string, listener: LiveListener): () => void {
    let set = this.#listeners.get(pollId);
    if (set === undefined) this.#listeners.set(pollId, (set = new Set()));
    // A function subscribed twice is called twice: each subscription is its own entry.
    const entry: LiveListener = (snapshot) => listener(snapshot);
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#listeners.get(pollId) === set) this.#listeners.delete(pollId);
    };
  }

  /** Listeners of a poll right now. */
  subscribers(pollId: string): number {
    return this.#listeners.get(pollId)?.size ?? 0;
  }

  /** Forgets every snapshot (what a Redis FLUSHALL does to RedisLiveStore); listeners stay. */
  clear(): void {
    this.#current.clear();
  }
}
