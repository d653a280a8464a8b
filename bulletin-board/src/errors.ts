/**
 * Why the Board refused a call, one type per reason (with the sequencer's OverloadedError and
 * EntryRejectedError). Each names the poll and says what happened; a refused call changed nothing.
 */

/** No published poll (no log, or a log without its manifest). */
export class UnknownPollError extends Error {
  override name = 'UnknownPollError';
  readonly pollId: string;
  constructor(pollId: string) {
    super(`poll "${pollId}": not on this board (never published)`);
    this.pollId = pollId;
  }
}

/** The poll's close entry is on the board, or being appended: no more ballots. */
export class PollClosedError extends Error {
  override name = 'PollClosedError';
  readonly pollId: string;
  constructor(pollId: string) {
    super(`poll "${pollId}": closed, the board accepts no more ballots`);
    this.pollId = pollId;
  }
}

/** The call contradicts what the board already holds (another manifest, another tally, wrong key, not closed yet). */
export class BoardConflictError extends Error {
  override name = 'BoardConflictError';
  readonly pollId: string;
  constructor(pollId: string, problem: string) {
    super(`poll "${pollId}": ${problem}`);
    this.pollId = pollId;
  }
}
