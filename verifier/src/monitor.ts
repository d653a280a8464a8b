/**
 * Following a board (DESIGN.md promise 4, "append-only and the same for everyone"), as a
 * transparency-log monitor or witness does: fetch the newest checkpoint, verify its signature
 * (C2SP signed-note, tlog-checkpoint) and prove it consistent (RFC 9162 §2.1.4, over the board's
 * C2SP tlog-tiles) with the last checkpoint this monitor accepted, kept in a `MonitorState`.
 *
 * Checks: checkpoint, board-key, checkpoint-signature, checkpoint-origin, consistency.
 * Evidence: a newer checkpoint that is smaller (rollback), of the same size with another root
 * (fork), or not proven to extend the earlier one: both signed notes are returned in the
 * `consistency` check's evidence, and the state does NOT advance, so the next run compares with
 * the same earlier checkpoint and the evidence stays reproducible.
 *
 * Trust: the key is, in order, the one given, the one the state was started with, or (first run
 * only, and said so) the board manifest's own; it is then kept in the state, so that a later
 * change of key is noticed (trust on first use). The state is self-validating: its checkpoint
 * MUST verify under its key and origin, else `parseMonitorState` refuses it.
 */
import { Checkpoint, VerifierKey, openCheckpoint, parseJsonStrict, parseNote, toHex } from '@blindvote/crypto';
import { checkConsistency, readManifest } from './board.ts';
import type { Check } from './checks.ts';
import { allPassed, errorMessage, fail, pass } from './checks.ts';
import type { BoardFetcher } from './fetch.ts';

export const MONITOR_STATE_VERSION = 1;
/** Largest state file read (a 16 KiB note plus a little). */
export const MAX_STATE_SIZE = 64 * 1024;

/** What a monitor remembers between runs: the last checkpoint it accepted, and whom it trusts. */
export interface MonitorState {
  readonly v: 1;
  /** Where the board was read from (informational). */
  readonly board: string;
  /** The checkpoint origin followed. */
  readonly origin: string;
  /** The C2SP verifier key followed. */
  readonly board_key: string;
  /** The last checkpoint accepted: a signed note that verifies under board_key with origin. */
  readonly checkpoint: string;
  /** When it was last confirmed (RFC 3339). */
  readonly checked_at: string;
}

export interface MonitorOptions {
  /** The board's C2SP verifier key, obtained out of band; MUST match the state's if both exist. */
  readonly boardKey?: string;
  /** The expected checkpoint origin; MUST match the state's if both exist. */
  readonly origin?: string;
  /** Clock for `checked_at` (tests). */
  readonly now?: () => Date;
}

export interface MonitorResult {
  readonly checks: Check[];
  /** The state to keep: the new one when every check passed, else the one given (unchanged). */
  readonly state: MonitorState | null;
  /** True when `state` is new. */
  readonly advanced: boolean;
}

/**
 * Parses and validates a state file's text. Throws an Error whose message says what is wrong
 * (the caller adds the file name).
 */
export function parseMonitorState(text: string): MonitorState {
  if (text.length > MAX_STATE_SIZE) throw new Error(`larger than ${MAX_STATE_SIZE} bytes`);
  const json = parseJsonStrict(text, 'state');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('expected a JSON object');
  const o = json as Record<string, unknown>;
  const fields = ['v', 'board', 'origin', 'board_key', 'checkpoint', 'checked_at'];
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw new Error(`unknown field ${JSON.stringify(k)}`);
  if (o['v'] !== MONITOR_STATE_VERSION) throw new Error(`v: expected ${MONITOR_STATE_VERSION}, got ${JSON.stringify(o['v'])}`);
  for (const k of fields.slice(1)) if (typeof o[k] !== 'string') throw new Error(`${k}: expected a string`);
  const state = o as unknown as MonitorState;
  let key: VerifierKey;
  try {
    key = new VerifierKey(state.board_key);
  } catch (err) {
    throw new Error(`board_key: ${errorMessage(err)}`);
  }
  try {
    openCheckpoint(state.checkpoint, [key], state.origin);
  } catch (err) {
    throw new Error(`checkpoint: does not verify under the state's key and origin: ${errorMessage(err)}`);
  }
  return { v: 1, board: state.board, origin: state.origin, board_key: key.text, checkpoint: state.checkpoint, checked_at: state.checked_at };
}

/** The state file's text: JSON, one field a line, newline-terminated. */
export function serializeMonitorState(state: MonitorState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** One monitoring step: the board's newest checkpoint against `state` (null on the first run). */
export async function monitor(fetcher: BoardFetcher, state: MonitorState | null, options: MonitorOptions = {}): Promise<MonitorResult> {
  const checks: Check[] = [];
  const unchanged = (): MonitorResult => ({ checks, state, advanced: false });

  let note: string;
  let claimed: Checkpoint;
  try {
    note = await fetcher.checkpoint();
  } catch (err) {
    checks.push(fail('checkpoint', `cannot read the checkpoint: ${errorMessage(err)}`));
    return unchanged();
  }
  try {
    claimed = Checkpoint.parse(parseNote(note).text);
  } catch (err) {
    checks.push(fail('checkpoint', `malformed checkpoint: ${errorMessage(err)}`, { checkpoint: note }));
    return unchanged();
  }
  checks.push(pass('checkpoint', `origin ${claimed.origin}, size ${claimed.size}, root ${toHex(claimed.root)} (as claimed; see checkpoint-signature)`));

  // The key: given, else the state's, else the manifest's (first run).
  let key: VerifierKey | undefined;
  let manifestPollId: string | undefined;
  if (options.boardKey !== undefined) {
    try {
      key = new VerifierKey(options.boardKey);
      if (state !== null && state.board_key !== key.text) {
        checks.push(fail('board-key', `the state follows ${new VerifierKey(state.board_key).id}, but ${key.id} was given: start a new state file to follow another key`, { state_board_key: state.board_key, given_board_key: key.text }));
        key = undefined;
      } else checks.push(pass('board-key', `given out of band: ${key.id}`));
    } catch (err) {
      checks.push(fail('board-key', `the board key given is not a C2SP verifier key: ${errorMessage(err)}`));
    }
  } else if (state !== null) {
    key = new VerifierKey(state.board_key);
    checks.push(pass('board-key', `${key.id}, as in the state (since its first run)`));
  } else {
    try {
      const { poll } = await readManifest(fetcher, claimed.size);
      key = new VerifierKey(poll.board_key);
      manifestPollId = poll.poll_id;
      checks.push(
        pass(
          'board-key',
          `${key.id}, taken from the board's own manifest (entry 0) on this first run and kept in the state from now on. ` +
            'A key taken from the board itself proves only self-consistency; pass the key obtained out of band (--board-key)',
        ),
      );
    } catch (err) {
      checks.push(fail('board-key', `no board key: none was given and the manifest could not be read: ${errorMessage(err)}`));
    }
  }

  let signed = false;
  if (key === undefined) checks.push(fail('checkpoint-signature', 'not checked: no usable board key'));
  else {
    try {
      openCheckpoint(note, [key]);
      signed = true;
      checks.push(pass('checkpoint-signature', `signed by ${key.id}`));
    } catch (err) {
      checks.push(fail('checkpoint-signature', `${errorMessage(err)}: the checkpoint is not signed by ${key.id}`, { checkpoint: note, board_key: key.text }));
    }
  }

  checks.push(originCheck(claimed.origin, options.origin, state?.origin, fetcher.origin, manifestPollId));

  if (!signed) checks.push(fail('consistency', 'not checked: the checkpoint does not verify'));
  else if (state === null) checks.push(pass('consistency', `first checkpoint seen (size ${claimed.size}): remembered, later ones must extend it`));
  else {
    const earlier = Checkpoint.parse(parseNote(state.checkpoint).text);
    const result = await checkConsistency(fetcher, { note: state.checkpoint, checkpoint: earlier }, { note, checkpoint: claimed });
    checks.push(result.ok ? pass('consistency', `with the checkpoint seen at ${state.checked_at}: ${result.detail}`) : fail('consistency', result.detail, result.evidence));
  }

  if (!allPassed(checks) || key === undefined) return unchanged();
  const now = (options.now ?? (() => new Date()))();
  return {
    checks,
    state: { v: 1, board: fetcher.location, origin: claimed.origin, board_key: key.text, checkpoint: note, checked_at: now.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    advanced: true,
  };
}

function originCheck(origin: string, given: string | undefined, remembered: string | undefined, implied: string | undefined, pollId: string | undefined): Check {
  const problems: string[] = [];
  if (given !== undefined && remembered !== undefined && given !== remembered) {
    problems.push(`the state follows origin ${JSON.stringify(remembered)}, but ${JSON.stringify(given)} was given`);
  }
  const expected = given ?? remembered ?? implied;
  const source = given !== undefined ? 'as given' : remembered !== undefined ? 'as in the state' : 'the board URL without its scheme; pass --origin if this is a mirror';
  if (expected !== undefined && origin !== expected) problems.push(`the checkpoint's origin is ${JSON.stringify(origin)}, expected ${JSON.stringify(expected)} (${source})`);
  if (pollId !== undefined && !(origin.endsWith(`/poll/${pollId}`) && origin.length > `/poll/${pollId}`.length)) {
    problems.push(`the origin ${JSON.stringify(origin)} is not <host>/poll/${pollId}, the manifest's poll`);
  }
  if (problems.length > 0) return fail('checkpoint-origin', problems.join('; '), { origin, expected: expected ?? null });
  return pass('checkpoint-origin', expected === undefined ? `${origin} (first seen: remembered)` : origin);
}
