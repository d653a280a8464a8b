/**
 * Checking a ballot receipt (DESIGN.md "Wire formats, version 1": Receipt), offline or against
 * the board it names.
 *
 * Offline (no board), with the board key obtained out of band: crypto's `verifyReceipt` proves
 * the ballot is leaf `leaf_index` of a checkpoint signed by that key (RFC 9162 §2.1.3 inclusion,
 * C2SP signed checkpoint). The token is NOT checked (it needs the manifest's token key) and the
 * board's later history is not either; the `scope` check says so.
 *
 * Against a board (a `BoardFetcher`):
 *   manifest          entry 0 of the board is a poll manifest, proven to be leaf 0 of the board's
 *                     newest checkpoint; with a key given out of band its board_key MUST be it
 *   (verifyReceipt)   with the manifest, so the ballot (poll, choice) and the token signature
 *                     (RFC 9474, under the manifest's token key) are checked too
 *   board-checkpoint  the board's newest checkpoint verifies under the key, with the receipt's origin
 *   consistency       the receipt's checkpoint is consistent with the newest one (RFC 9162
 *                     §2.1.4 proof over the board's hash tiles, `board.ts`). A receipt whose
 *                     checkpoint the newest one does not extend is evidence of a split view
 *                     (DESIGN.md promise 4): both signed notes go into `evidence`.
 *
 * Trust: a key taken from the board's own manifest only proves that the board is consistent with
 * itself; `board-key` says where the key came from.
 */
import { Checkpoint, Poll, Receipt, TokenVerifier, VerifierKey, openCheckpoint, parseNote, verifyReceipt } from '@blindvote/crypto';
import type { ReceiptCheck } from '@blindvote/crypto';
import { checkConsistency, proveEntry0, readManifest } from './board.ts';
import type { Check } from './checks.ts';
import { errorMessage, fail, pass } from './checks.ts';
import type { BoardFetcher } from './fetch.ts';

export interface ReceiptCheckOptions {
  /** The board's C2SP verifier key, obtained out of band. Required without a fetcher. */
  readonly boardKey?: string;
}

const SELF_KEY =
  "taken from the board's own manifest (entry 0). A key taken from the board itself proves only that the board is " +
  'self-consistent; pass the key obtained out of band (--board-key) to prove it is the board that was published';

/**
 * Checks `receiptText` (JSON text or UTF-8 bytes), against the board behind `fetcher` when one is
 * given. Resolves with every check; never rejects because of what the receipt or the board holds.
 */
export async function checkReceipt(receiptText: string | Uint8Array, fetcher: BoardFetcher | null, options: ReceiptCheckOptions = {}): Promise<Check[]> {
  let receipt: Receipt;
  try {
    receipt = Receipt.parse(receiptText);
  } catch (err) {
    return [fail('receipt', `not a valid v1 receipt: ${errorMessage(err)}`)];
  }
  const checks: Check[] = [pass('receipt', `ballot at leaf ${receipt.leaf_index} of poll ${JSON.stringify(receipt.poll_id)} on ${receipt.board}`)];

  let givenKey: VerifierKey | undefined;
  let keyError: string | undefined;
  if (options.boardKey !== undefined) {
    try {
      givenKey = new VerifierKey(options.boardKey);
    } catch (err) {
      keyError = `the board key given is not a C2SP verifier key: ${errorMessage(err)}`;
    }
  }

  if (fetcher === null) {
    if (givenKey === undefined) {
      checks.push(fail('board-key', keyError ?? 'no board key: give the board to read its manifest from, or the board key'));
      return checks;
    }
    const verdict = await verifyReceiptSafely(receipt, givenKey);
    checks.push(...withKeyDetail(verdict, `given out of band: ${givenKey.id}`));
    checks.push(pass('scope', "offline: the token signature and the board's later checkpoints were not checked (give the board to check them)"));
    return checks;
  }

  // The board's newest checkpoint, as claimed until verified below.
  let newest: { note: string; claimed: Checkpoint } | null = null;
  let newestError: string | null = null;
  try {
    const note = await fetcher.checkpoint();
    newest = { note, claimed: Checkpoint.parse(parseNote(note).text) };
  } catch (err) {
    newestError = `cannot read the board's checkpoint: ${errorMessage(err)}`;
  }

  let poll: Poll | null = null;
  let manifestBytes: Uint8Array | null = null;
  let manifestError: string | null = null;
  if (newest !== null) {
    try {
      ({ poll, bytes: manifestBytes } = await readManifest(fetcher, newest.claimed.size));
    } catch (err) {
      manifestError = errorMessage(err);
    }
  } else {
    manifestError = 'not read: the board has no readable checkpoint';
  }

  // A key given but malformed is never replaced by the board's own.
  const key = keyError !== undefined ? undefined : (givenKey ?? (poll === null ? undefined : new VerifierKey(poll.board_key)));
  const keyDetail = givenKey !== undefined ? `given out of band: ${givenKey.id}` : key !== undefined ? `${key.id}, ${SELF_KEY}` : undefined;

  // The board's newest checkpoint, verified.
  let newestOk = false;
  let boardCheckpoint: Check;
  if (newest === null) boardCheckpoint = fail('board-checkpoint', newestError!);
  else if (key === undefined) boardCheckpoint = fail('board-checkpoint', 'not checked: no usable board key');
  else {
    try {
      openCheckpoint(newest.note, [key], receipt.origin);
      newestOk = true;
      boardCheckpoint = pass('board-checkpoint', `the board's newest checkpoint (size ${newest.claimed.size}) is signed by ${key.id} for ${receipt.origin}`);
    } catch (err) {
      boardCheckpoint = fail('board-checkpoint', `the board's newest checkpoint does not verify: ${errorMessage(err)}`, { checkpoint: newest.note });
    }
  }

  // The manifest: the board's, and proven so when the newest checkpoint verified.
  let manifest: Check;
  if (poll === null) manifest = fail('manifest', manifestError!);
  else if (givenKey !== undefined && poll.board_key !== givenKey.text) {
    manifest = fail('manifest', `the manifest's board_key ${JSON.stringify(poll.board_key)} is not the key given (${givenKey.id})`, {
      manifest_board_key: poll.board_key,
      given_board_key: givenKey.text,
    });
  } else if (!newestOk) manifest = fail('manifest', `poll ${JSON.stringify(poll.poll_id)}, but not proven to be on the board: its checkpoint does not verify`);
  else {
    try {
      await proveEntry0(fetcher, newest!.claimed, manifestBytes!);
      manifest = pass('manifest', `poll ${JSON.stringify(poll.poll_id)}: entry 0, proven included in the board's newest checkpoint`);
    } catch (err) {
      manifest = fail('manifest', errorMessage(err));
    }
  }

  // The receipt itself: with the manifest (ballot and token checked) when it holds the trusted key.
  let verdict: ReceiptCheck[];
  if (poll !== null && key !== undefined && (givenKey === undefined || poll.board_key === givenKey.text)) verdict = await verifyReceiptSafely(receipt, poll);
  else if (key !== undefined) verdict = await verifyReceiptSafely(receipt, key, poll ?? undefined);
  else verdict = await verifyReceiptSafely(receipt, '');
  const [first, ...rest] = withKeyDetail(verdict, keyDetail, keyError);
  checks.push(first!, manifest, ...rest, boardCheckpoint);

  // Consistency of the receipt's checkpoint with the board's newest.
  const receiptSigned = verdict.some((c) => c.check === 'checkpoint-signature' && c.ok);
  if (newest === null) checks.push(fail('consistency', "not checked: the board's checkpoint could not be read"));
  else if (!newestOk) checks.push(fail('consistency', "not checked: the board's newest checkpoint does not verify"));
  else if (!receiptSigned) checks.push(fail('consistency', "not checked: the receipt's checkpoint is not signed by the board key"));
  else {
    const result = await checkConsistency(fetcher, { note: receipt.checkpoint, checkpoint: receipt.claimedCheckpoint }, { note: newest.note, checkpoint: newest.claimed });
    checks.push(
      result.ok
        ? pass('consistency', `the receipt's checkpoint is consistent with the board's newest: ${result.detail}`)
        : fail('consistency', result.detail, result.evidence),
    );
  }
  return checks;
}

/** verifyReceipt never rejects on a bad receipt; a token key that cannot be imported becomes a failed check. */
async function verifyReceiptSafely(receipt: Receipt, trust: string | VerifierKey | Poll, poll?: Poll): Promise<ReceiptCheck[]> {
  let tokens: TokenVerifier | undefined;
  if (poll !== undefined) {
    try {
      tokens = await TokenVerifier.fromPoll(poll);
    } catch {
      tokens = undefined;
    }
  }
  return verifyReceipt(receipt, trust, tokens);
}

/** verifyReceipt's `board-key` check, with where the key came from (or why there is none). */
function withKeyDetail(verdict: readonly ReceiptCheck[], detail: string | undefined, error?: string): Check[] {
  return verdict.map((c): Check => {
    if (c.check !== 'board-key') return c;
    if (detail === undefined) return fail('board-key', error ?? "no board key: none was given and the board's manifest could not be read");
    return c.ok ? pass('board-key', detail) : c;
  });
}
