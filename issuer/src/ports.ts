/**
 * What the issuer needs from the bulletin board, declared here. `blindvote serve` wires it to
 * the board in one process, or over HTTP in the distributed mode. Nothing about voters crosses
 * this interface: only manifests and counts.
 */
import type { Poll } from '@blindvote/crypto';

export interface BoardPublisher {
  /** The board's C2SP verifier key string: every manifest's `board_key`. */
  readonly verifierKey: string;
  /** The tlog-tiles prefix URL of a poll's board (`<base>/poll/<poll_id>`). */
  boardUrl(pollId: string): string;
  /**
   * Makes the manifest entry 0 of a new log. Idempotent: publishing the byte-identical manifest
   * again resolves; a different manifest for an existing poll id rejects.
   */
  publish(manifest: Poll): Promise<void>;
  /**
   * Appends the poll's close entry (`issued` = tokens handed out). After it the board accepts
   * only the tally. Idempotent: closing a closed poll resolves with nothing appended.
   */
  close(pollId: string, issued: number, closedAt: Date): Promise<void>;
}
