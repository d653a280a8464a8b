/**
 * What the tallier needs from the bulletin board, declared here. In one process `blindvote serve`
 * wires it to the board's storage; in the distributed mode to the board's HTTP API and the
 * entries topic. The tallier reads only what the board publishes to everyone.
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
