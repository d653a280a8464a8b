/**
 * Ballot receipts: what a voter keeps to prove, offline and later, that their ballot is on the
 * board, and their verification.
 *
 * Spec: DESIGN.md "Wire formats, version 1": Receipt
 *
 *   {"v":1,"poll_id","board":<prefix URL>,"ballot":{…},"leaf_index","leaf_hash",
 *    "checkpoint":<signed note text>,"inclusion_proof":[<b64>…]}
 *
 * built on RFC 9162 §2.1.3 inclusion proofs (`merkle.ts`), C2SP tlog-checkpoint in a C2SP
 * signed note (`checkpoint.ts`, `note.ts`), and the ballot entry (`entries.ts`).
 *
 * Flow: the ballot box returns a receipt once the ballot is durable (DESIGN.md promise 3); the
 * voter's browser and `blindvote-verify receipt` call `verifyReceipt(receipt, poll)` (or with the
 * bare board key, which leaves the token unchecked).
 * Later the voter checks that the board's newer checkpoints are consistent with this one
 * (promise 4), which is not this module's job.
 *
 * Threats and checks (all run; each failure is reported, Belenios style, never only the first):
 *   - A ballot the tally will not count: its token MUST verify under the poll's token key
 *     (`token-signature`, checked when the manifest or a TokenVerifier is given).
 *   - A receipt for a different ballot than the one cast: the ballot's canonical entry bytes MUST
 *     hash (RFC 9162 leaf hash) to leaf_hash (`leaf-hash`).
 *   - A forged tree head: the checkpoint MUST verify under the board key from the poll manifest
 *     (`checkpoint-signature`); a receipt is worth nothing without it.
 *   - Cross-poll replay of a real checkpoint: its origin MUST be the board URL without scheme
 *     (`checkpoint-origin`, DESIGN.md "Checkpoint origin"), and the board URL MUST name the
 *     receipt's poll (`board-url`, origin `<host>/poll/<poll_id>`).
 *   - A ballot that is not in the tree: leaf_index MUST be within the checkpoint (`leaf-index`;
 *     index 0 is the manifest, so ≥ 1) and the inclusion proof MUST lead from leaf_hash at
 *     leaf_index to the checkpoint's root (`inclusion-proof`).
 *   Checks after a failed one still run against the receipt's own claims (the unverified
 *   checkpoint body), so a report names what was tampered with, not only its consequences;
 *   the receipt is valid only if every check is ok (`receiptValid`).
 *
 * Parsing is strict JSON (duplicate keys, deep nesting, lone surrogates rejected) but not
 * canonical: receipts are documents people store and paste. Unknown fields are rejected. Size is
 * capped before parsing (MAX_RECEIPT_SIZE, and MAX_NOTE_SIZE for the checkpoint).
 */
import { FormatError, abytes, equalBytes, fromBase64, fromUtf8, toBase64, toHex } from './bytes.ts';
import { Checkpoint } from './checkpoint.ts';
import { Ballot, Poll } from './entries.ts';
import type { BallotJSON } from './entries.ts';
import { canonicalBytes, parseJsonStrict } from './jcs.ts';
import { HASH_SIZE, leafHash, verifyInclusion } from './merkle.ts';
import { VerifierKey, openNote, parseNote } from './note.ts';
import { TokenVerifier, checkPollId } from './token.ts';
import { asRecord, checkTextSize, describe, fieldCount } from './validate.ts';
import type { FieldsOf } from './validate.ts';

export const RECEIPT_VERSION = 1;
/** A tree of at most 2^53 − 1 leaves has inclusion proofs of at most 53 hashes. */
export const MAX_PROOF_LENGTH = 53;
/**
 * Largest receipt `parse` reads (UTF-8 bytes), checked before parsing: a ballot entry (≤ 64 KiB
 * but ~1.5 KiB in practice), a checkpoint note (≤ 16 KiB) and 53 proof hashes fit easily.
 */
export const MAX_RECEIPT_SIZE = 64 * 1024;

export type ReceiptJSON = {
  v: 1;
  poll_id: string;
  board: string;
  ballot: BallotJSON;
  leaf_index: number;
  leaf_hash: string;
  checkpoint: string;
  inclusion_proof: string[];
};

const RECEIPT_FIELDS = ['v', 'poll_id', 'board', 'ballot', 'leaf_index', 'leaf_hash', 'checkpoint', 'inclusion_proof'] as const;
export type ReceiptFields = FieldsOf<Receipt, typeof RECEIPT_FIELDS>;

/**
 * Board prefix URL: http(s), no credentials, query or fragment, no trailing slash, and already in
 * the WHATWG-serialized form (so one board has one spelling, and one origin). Returns the
 * checkpoint origin: the URL without its scheme (DESIGN.md "Checkpoint origin").
 */
export function boardOrigin(board: unknown, path = 'board'): string {
  if (typeof board !== 'string') throw new FormatError(`${path}: expected a URL string, got ${describe(board)}`);
  let url: URL;
  try {
    url = new URL(board);
  } catch {
    throw new FormatError(`${path}: not a URL: ${describe(board)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new FormatError(`${path}: scheme must be https or http`);
  if (url.username !== '' || url.password !== '') throw new FormatError(`${path}: must not carry credentials`);
  if (url.search !== '' || url.hash !== '' || board.includes('?') || board.includes('#')) {
    throw new FormatError(`${path}: must not have a query or fragment`);
  }
  if (board.endsWith('/')) throw new FormatError(`${path}: must not end with "/"`);
  if (url.href !== board) throw new FormatError(`${path}: not in normalized form (expected ${describe(url.href)})`);
  return board.slice(url.protocol.length + 2);
}

/**
 * A ballot receipt. Constructing one checks every field's format and that the checkpoint is a
 * well-formed signed note with a well-formed checkpoint body; nothing is verified here (that is
 * `verifyReceipt`), so a well-formed but forged receipt can exist and MUST NOT be trusted.
 */
export class Receipt {
  readonly v = RECEIPT_VERSION;
  readonly poll_id: string;
  /** The board's tlog-tiles prefix URL, e.g. `https://vote.example/poll/budget-2025`. */
  readonly board: string;
  readonly ballot: Ballot;
  readonly leaf_index: number;
  readonly leaf_hash: Uint8Array;
  /** The signed checkpoint note, as served at `<board>/checkpoint`. */
  readonly checkpoint: string;
  readonly inclusion_proof: readonly Uint8Array[];
  /** The checkpoint origin the board URL implies. */
  readonly origin: string;
  /** The checkpoint body as the note claims it: UNVERIFIED until verifyReceipt says so. */
  readonly claimedCheckpoint: Checkpoint;

  constructor(fields: ReceiptFields, path = 'receipt') {
    this.poll_id = checkPollId(fields.poll_id, `${path}.poll_id`);
    this.origin = boardOrigin(fields.board, `${path}.board`);
    this.board = fields.board;
    if (!(fields.ballot instanceof Ballot)) throw new FormatError(`${path}.ballot: expected a Ballot`);
    this.ballot = fields.ballot;
    if (this.ballot.poll_id !== this.poll_id) {
      throw new FormatError(`${path}.ballot.poll_id: "${this.ballot.poll_id}" differs from the receipt's poll_id "${this.poll_id}"`);
    }
    this.leaf_index = fieldCount(fields.leaf_index, `${path}.leaf_index`);
    this.leaf_hash = Uint8Array.from(abytes(fields.leaf_hash, HASH_SIZE, `${path}.leaf_hash`));
    if (typeof fields.checkpoint !== 'string') throw new FormatError(`${path}.checkpoint: expected the signed note text`);
    try {
      this.claimedCheckpoint = Checkpoint.parse(parseNote(fields.checkpoint).text);
    } catch (cause) {
      throw new FormatError(`${path}.checkpoint: ${(cause as Error).message}`, { cause });
    }
    this.checkpoint = fields.checkpoint;
    const proof = fields.inclusion_proof;
    if (!Array.isArray(proof)) throw new FormatError(`${path}.inclusion_proof: expected an array`);
    if (proof.length > MAX_PROOF_LENGTH) throw new FormatError(`${path}.inclusion_proof: ${proof.length} hashes, at most ${MAX_PROOF_LENGTH}`);
    this.inclusion_proof = Object.freeze(proof.map((h, i) => Uint8Array.from(abytes(h, HASH_SIZE, `${path}.inclusion_proof[${i}]`))));
    Object.freeze(this);
  }

  toJSON(): ReceiptJSON {
    return {
      v: this.v,
      poll_id: this.poll_id,
      board: this.board,
      ballot: this.ballot.toJSON(),
      leaf_index: this.leaf_index,
      leaf_hash: toBase64(this.leaf_hash),
      checkpoint: this.checkpoint,
      inclusion_proof: this.inclusion_proof.map(toBase64),
    };
  }

  static fromJSON(json: unknown, path = 'receipt'): Receipt {
    const o = asRecord(json, path);
    // The version first, so a v2 receipt is reported as such.
    if (o['v'] !== undefined && o['v'] !== RECEIPT_VERSION) {
      throw new FormatError(`${path}.v: unsupported version ${describe(o['v'])}; this implementation reads only v1`);
    }
    asRecord(o, path, RECEIPT_FIELDS);
    const proof = o['inclusion_proof'];
    return new Receipt(
      {
        poll_id: o['poll_id'] as string,
        board: o['board'] as string,
        ballot: Ballot.fromJSON(o['ballot'], `${path}.ballot`),
        leaf_index: o['leaf_index'] as number,
        leaf_hash: fromBase64(o['leaf_hash'], `${path}.leaf_hash`, HASH_SIZE),
        checkpoint: o['checkpoint'] as string,
        // Anything but an array is passed on for the constructor to refuse.
        inclusion_proof: Array.isArray(proof) ? proof.map((h, i) => fromBase64(h, `${path}.inclusion_proof[${i}]`, HASH_SIZE)) : (proof as Uint8Array[]),
      },
      path,
    );
  }

  /** Strict JSON (text or UTF-8 bytes), any whitespace and key order. */
  static parse(input: string | Uint8Array, path = 'receipt'): Receipt {
    checkTextSize(input, MAX_RECEIPT_SIZE, path);
    let text: string;
    if (typeof input === 'string') text = input;
    else if (input instanceof Uint8Array) text = fromUtf8(input, path);
    else throw new FormatError(`${path}: expected JSON text or bytes`);
    return Receipt.fromJSON(parseJsonStrict(text, path), path);
  }

  /** Same as `parse`, for symmetry with the entry classes. */
  static deserialize(bytes: Uint8Array, path = 'receipt'): Receipt {
    return Receipt.parse(bytes, path);
  }

  /** RFC 8785 canonical JSON, UTF-8: one deterministic encoding, parseable by `parse`. */
  serialize(): Uint8Array {
    return canonicalBytes(this.toJSON(), 'receipt');
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

export type ReceiptCheckName =
  | 'board-key'
  | 'ballot'
  | 'token-signature'
  | 'board-url'
  | 'leaf-hash'
  | 'checkpoint-signature'
  | 'checkpoint-origin'
  | 'leaf-index'
  | 'inclusion-proof';

export interface ReceiptCheck {
  readonly check: ReceiptCheckName;
  readonly ok: boolean;
  readonly detail: string;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Verifies a receipt against the board's verifier key (the poll manifest's `board_key`), or
 * against the manifest itself, which adds the `ballot` check (poll, choice and signature length
 * per `Poll.checkBallot`) and the `token-signature` check (RFC 9474 token under the manifest's
 * `token_key`). A `TokenVerifier` for the poll's key may be passed to get `token-signature` with a
 * bare key too, or to reuse an imported key. Without either, the receipt proves only that the
 * ballot is on the board, not that it carries a valid token (so that the tally will count it).
 * Returns every check in a fixed order; the receipt is valid iff all are ok (`receiptValid`).
 * Never rejects on a bad receipt; throws FormatError only if `trust` is not a key string,
 * VerifierKey or Poll, or `tokens` is not a TokenVerifier.
 */
export async function verifyReceipt(
  receipt: Receipt,
  trust: string | VerifierKey | Poll,
  tokens?: TokenVerifier,
): Promise<ReceiptCheck[]> {
  if (!(receipt instanceof Receipt)) throw new FormatError('verifyReceipt: expected a Receipt (use Receipt.parse)');
  if (tokens !== undefined && !(tokens instanceof TokenVerifier)) throw new FormatError('verifyReceipt: tokens must be a TokenVerifier');
  const checks: ReceiptCheck[] = [];
  const add = (check: ReceiptCheckName, ok: boolean, detail: string) => checks.push({ check, ok, detail });

  let key: VerifierKey | undefined;
  const keyText = trust instanceof Poll ? trust.board_key : trust;
  if (keyText instanceof VerifierKey) key = keyText;
  else if (typeof keyText === 'string') {
    try {
      key = new VerifierKey(keyText);
    } catch (err) {
      add('board-key', false, `not a C2SP verifier key: ${message(err)}`);
    }
  } else {
    throw new FormatError('verifyReceipt: trust must be a verifier key string, a VerifierKey or a Poll');
  }
  if (key !== undefined) add('board-key', true, key.id);

  if (trust instanceof Poll) {
    try {
      if (trust.poll_id !== receipt.poll_id) throw new Error(`receipt is for poll "${receipt.poll_id}", the manifest for "${trust.poll_id}"`);
      trust.checkBallot(receipt.ballot, 'receipt.ballot');
      add('ballot', true, `valid for poll "${trust.poll_id}": ${receipt.ballot.choice.join(', ')}`);
    } catch (err) {
      add('ballot', false, message(err));
    }
  }

  if (tokens !== undefined || trust instanceof Poll) {
    try {
      const verifier = tokens ?? (await TokenVerifier.fromPoll(trust as Poll));
      const ok = await verifier.verify(receipt.poll_id, receipt.ballot.token);
      add('token-signature', ok, ok ? `token ${toHex(receipt.ballot.tokenId())} verifies under the poll's token key` : "the token's signature does not verify under the poll's token key");
    } catch (err) {
      add('token-signature', false, message(err));
    }
  }

  const suffix = `/poll/${receipt.poll_id}`;
  add(
    'board-url',
    receipt.board.endsWith(suffix),
    receipt.board.endsWith(suffix) ? receipt.board : `${receipt.board} does not end in ${suffix} (origin <host>/poll/<poll_id>)`,
  );

  const computed = leafHash(receipt.ballot.serialize());
  add(
    'leaf-hash',
    equalBytes(computed, receipt.leaf_hash),
    equalBytes(computed, receipt.leaf_hash)
      ? toHex(computed)
      : `the ballot hashes to ${toHex(computed)}, the receipt says ${toHex(receipt.leaf_hash)}`,
  );

  if (key === undefined) {
    add('checkpoint-signature', false, 'not checked: no usable board key');
  } else {
    try {
      // The body was parsed once, by the constructor (claimedCheckpoint); this verifies its signatures.
      openNote(receipt.checkpoint, [key]);
      add('checkpoint-signature', true, `signed by ${key.id}`);
    } catch (err) {
      add('checkpoint-signature', false, message(err));
    }
  }

  // The remaining checks use the checkpoint's claims; `checkpoint-signature` says if they hold.
  const cp = receipt.claimedCheckpoint;
  add(
    'checkpoint-origin',
    cp.origin === receipt.origin,
    cp.origin === receipt.origin ? cp.origin : `checkpoint origin ${JSON.stringify(cp.origin)}, the board URL gives ${JSON.stringify(receipt.origin)}`,
  );

  const indexOk = receipt.leaf_index >= 1 && receipt.leaf_index < cp.size;
  add(
    'leaf-index',
    indexOk,
    indexOk
      ? `${receipt.leaf_index} of ${cp.size}`
      : receipt.leaf_index === 0
        ? 'leaf 0 is the poll manifest, never a ballot'
        : `leaf ${receipt.leaf_index} is not in a tree of size ${cp.size}`,
  );

  try {
    verifyInclusion(receipt.leaf_hash, receipt.leaf_index, cp.size, receipt.inclusion_proof, cp.root);
    add('inclusion-proof', true, `leaf ${receipt.leaf_index} is in the tree of size ${cp.size} with root ${toHex(cp.root)}`);
  } catch (err) {
    add('inclusion-proof', false, message(err));
  }

  return checks;
}

/** True iff every check passed (and there was at least one). */
export function receiptValid(checks: readonly ReceiptCheck[]): boolean {
  return checks.length > 0 && checks.every((c) => c.ok);
}
