/**
 * What the tallier needs from outside, declared here: the bulletin board (BoardFeed) and the live
 * read model it publishes results to (LiveStore).
 */
import type { ResultsSnapshot } from './snapshot.ts';

/**
 * The bulletin board, as the tallier reads it. In one process `blindvote serve` wires it to the
 * board's storage; in the distributed mode to the board's HTTP API and the entries topic. The
 * tallier reads only what the board publishes to everyone.
 */
export interface BoardFeed {
  /** Every poll with a log. */
  polls(): Promise<string[]>;
  /** The latest signed checkpoint (C2SP signed note text) of a poll's log; null: no such log. */
  checkpoint(pollId: string): Promise<string | null>;
  /** Entries [from, to) of a poll's log, to ≤ the latest checkpoint's size, at most 4096 at once. */
  entries(pollId: string, from: number, to: number): Promise<Uint8Array[]>;
  /** Calls `listener` after entries were appended (new size) or a log was created (size 0 or 1). */
  onAppend(listener: (pollId: string, size: number) => void): () => void;
  /** Appends the tally entry (after the close entry; idempotent for byte-identical tallies). */
  appendTally(pollId: string, tally: Uint8Array): Promise<void>;
}

/**
 * Where the tallier puts each poll's current results and where the HTTP routes read and follow
 * them: the live read model and its fan-out. All-in-one: MemoryLiveStore (live-memory.ts). In the
 * distributed mode one tallier counts a poll while any instance may hold a voter's WebSocket, so
 * the store is shared (RedisLiveStore, in the server workspace). The store holds nothing that
 * must survive: the counting tallier re-publishes its snapshots, so a flushed store refills.
 *
 * Contracts every implementation keeps (live-contract.ts tests them):
 *   - Monotonic: a snapshot becomes its poll's current one only if it `supersedes` the current
 *     one (or there is none). Publishing an equal or older snapshot changes nothing and notifies
 *     no one.
 *   - `publish` resolves once `snapshot()` (in any process sharing the store) returns that
 *     snapshot or one that supersedes it; it rejects when the store cannot be written.
 *   - `subscribe` registers at once. After it returned and a later `snapshot()` of the poll
 *     resolved, every snapshot that becomes current afterwards reaches the listener, or one that
 *     supersedes it does: intermediate ones may be skipped, the latest never (also across a
 *     reconnection of the store). Each call's snapshot supersedes the previous call's. (A
 *     listener may also get snapshots that do not supersede what that read returned: a reader
 *     that sent the read's result drops those, as the HTTP routes do.)
 *   - A throwing listener MUST NOT keep the others from their update.
 */
export interface LiveStore {
  publish(snapshot: ResultsSnapshot): Promise<void>;
  /** The poll's current snapshot; null when none was published (or the store was flushed since). */
  snapshot(pollId: string): Promise<ResultsSnapshot | null>;
  /** Returns the unsubscribe function (idempotent). */
  subscribe(pollId: string, listener: LiveListener): () => void;
}

export type LiveListener = (snapshot: ResultsSnapshot) => void;

/** Order of the `state` values within one tree size: a closed poll follows an open one, its tally follows its close. */
export const STATE_RANK = { open: 0, closed: 1, tallied: 2, error: 3 } as const satisfies Record<ResultsSnapshot['state'], number>;

/**
 * The newness key of a snapshot, compared lexicographically: [error, tree_size, state rank].
 *   1. an "error" snapshot supersedes every non-error one, whatever its size: board misbehaviour
 *      is final for the poll, and a tallier that meets a tampered board first reports it at
 *      tree_size 0, which MUST NOT hide behind another tallier's earlier, larger count;
 *   2. then the larger tree_size (a longer verified prefix of the append-only log);
 *   3. then, at one size, the later state: open < closed < tallied.
 * Snapshots of one poll with equal keys are equal in content (talliers count the same verified
 * prefix alike), so an equal key is not newer.
 */
export function newnessKey(snapshot: ResultsSnapshot): readonly [number, number, number] {
  return [snapshot.state === 'error' ? 1 : 0, snapshot.tree_size, STATE_RANK[snapshot.state]];
}

/** True when `candidate` is newer than `current` (newnessKey strictly greater). */
export function supersedes(candidate: ResultsSnapshot, current: ResultsSnapshot): boolean {
  const a = newnessKey(candidate);
  const b = newnessKey(current);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
