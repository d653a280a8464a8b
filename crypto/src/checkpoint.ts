/**
 * C2SP tlog-checkpoint: https://c2sp.org/tlog-checkpoint, the signed tree head of a transparency
 * log, carried as the text of a C2SP signed note (`note.ts`).
 *
 *     <origin>\n          the log's identity; blindvote: `<host>/poll/<poll_id>` (DESIGN.md)
 *     <tree size>\n       ASCII decimal, no leading zeroes (`0` for the empty tree)
 *     <root hash>\n       base64 of the 32-byte RFC 9162 (RFC 6962) Merkle tree root
 *     [<extension>\n]*    opaque, non-empty, NOT RECOMMENDED
 *
 * Flow: the bulletin board integrates its tree, builds a `Checkpoint` and publishes
 * `signCheckpoint(cp, [boardSigner])`; witnesses cosign with `addSignatures`. A voter or auditor
 * calls `openCheckpoint(note, [boardKey], origin)` and only then trusts size and root.
 *
 * Threats:
 * - Cross-log replay: a checkpoint signed for one poll's log MUST NOT be accepted for another, so
 *   `openCheckpoint` compares the origin with the one the caller expects (the poll manifest's).
 * - Parsing untrusted text: the body is parsed only after the note's signatures verified.
 * - Ambiguity: exactly one spelling per checkpoint (no leading zeroes, canonical base64, exactly
 *   32 root bytes, no empty lines), so two different texts never describe the same tree head.
 * - Precision loss: sizes above Number.MAX_SAFE_INTEGER (2^53 − 1) are refused, not rounded.
 */
import { FormatError, abytes, fromBase64, toBase64 } from './bytes.ts';
import { NoteSigner, VerifierKey, checkNoteChars, decodeNoteText, openNote, signNote } from './note.ts';
import type { OpenedNote } from './note.ts';
import { isCount } from './validate.ts';

const SIZE = /^(?:0|[1-9][0-9]*)$/;

/** Thrown when a correctly signed checkpoint is not the one the caller asked for. */
export class CheckpointVerificationError extends Error {
  override name = 'CheckpointVerificationError';
  readonly expectedOrigin: string;
  readonly origin: string;

  constructor(expectedOrigin: string, origin: string) {
    super(`checkpoint origin mismatch: expected ${JSON.stringify(expectedOrigin)}, got ${JSON.stringify(origin)}`);
    this.expectedOrigin = expectedOrigin;
    this.origin = origin;
  }
}

export interface CheckpointFields {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions?: readonly string[];
}

/** Every line of a checkpoint MUST be non-empty (§Note text) and one line of note text (`checkNoteChars`). */
function checkLine(line: unknown, what: string): string {
  if (typeof line !== 'string') throw new FormatError(`${what}: expected a string`);
  if (line.length === 0) throw new FormatError(`${what}: must be non-empty`);
  if (line.includes('\n')) throw new FormatError(`${what}: must be one line without control characters`);
  return checkNoteChars(line, what);
}

/** A checkpoint body (c2sp.org/tlog-checkpoint §Note text). Immutable and valid once constructed. */
export class Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];

  constructor(fields: CheckpointFields) {
    this.origin = checkLine(fields.origin, 'checkpoint origin');
    if (!isCount(fields.size)) {
      throw new FormatError('checkpoint size: expected a non-negative safe integer');
    }
    this.size = fields.size;
    this.root = Uint8Array.from(abytes(fields.root, 32, 'checkpoint root hash'));
    const ext = fields.extensions ?? [];
    if (!Array.isArray(ext)) throw new FormatError('checkpoint extensions: expected an array of lines');
    this.extensions = Object.freeze(ext.map((line, i) => checkLine(line, `checkpoint extension line ${i + 1}`)));
  }

  /** The note text: origin, size, base64 root, extension lines, each ending in a newline. */
  format(): string {
    return [this.origin, String(this.size), toBase64(this.root), ...this.extensions].map((l) => `${l}\n`).join('');
  }

  /** Strict inverse of `format()`: `Checkpoint.parse(cp.format())` equals `cp`, and nothing else parses. */
  static parse(body: string | Uint8Array): Checkpoint {
    const text = decodeNoteText(body, 'checkpoint');
    if (!text.endsWith('\n')) throw new FormatError('checkpoint: must end in a newline');
    const lines = text.slice(0, -1).split('\n');
    if (lines.length < 3) throw new FormatError('checkpoint: expected origin, tree size and root hash lines');
    const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
    if (!SIZE.test(size) || size.length > 16 || !Number.isSafeInteger(Number(size))) {
      throw new FormatError('checkpoint tree size: expected decimal without leading zeroes, at most 2^53 - 1');
    }
    return new Checkpoint({
      origin,
      size: Number(size),
      root: fromBase64(root, 'checkpoint root hash', 32),
      extensions,
    });
  }
}

/** The signed note of `cp`, signed by every signer in order. */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): string {
  if (!(cp instanceof Checkpoint)) throw new FormatError('signCheckpoint: expected a Checkpoint');
  return signNote(cp.format(), signers);
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly verifiedBy: readonly VerifierKey[];
  readonly note: OpenedNote;
}

/**
 * Verifies a signed checkpoint, then parses it. `verifiers` are the keys trusted to speak for the
 * log (the board key); any one verifying suffices, so pass witness keys here only if a witness
 * alone may vouch for the log, and count witness cosignatures with `openNote` instead.
 * `expectedOrigin`, when given, MUST equal the origin line, else CheckpointVerificationError.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly (VerifierKey | string)[],
  expectedOrigin?: string,
): OpenedCheckpoint {
  if (expectedOrigin !== undefined) checkLine(expectedOrigin, 'expected origin');
  const opened = openNote(note, verifiers);
  const checkpoint = Checkpoint.parse(opened.text);
  if (expectedOrigin !== undefined && checkpoint.origin !== expectedOrigin) {
    throw new CheckpointVerificationError(expectedOrigin, checkpoint.origin);
  }
  return { checkpoint, verifiedBy: opened.verifiedBy, note: opened };
}
