/**
 * Signed acceptance: the ballot box's promise that a ballot is durable and will be on the board
 * within the maximum merge delay — the blindvote counterpart of a Certificate Transparency SCT
 * (RFC 6962 §3.2). The distributed mode answers 202 with one when the sequencer has not
 * committed the ballot within the ballot box's wait; the voter exchanges it for the receipt by
 * leaf hash later. A board that never shows the leaf after `accepted_at + max_merge_delay` is
 * caught by the signature on this note.
 *
 * It is a C2SP signed note (Ed25519) whose text is, one field per line:
 *
 *     blindvote/acceptance/v1
 *     <poll_id>
 *     <leaf hash: base64 of the RFC 9162 leaf hash of the ballot entry>
 *     <accepted_at: RFC 3339 UTC, seconds>
 *     <max_merge_delay: whole seconds>
 */
import { FormatError, fromBase64, toBase64 } from './bytes.ts';
import { checkTime } from './entries.ts';
import { POLL_ID_PATTERN } from './token.ts';
import { openNote, signNote } from './note.ts';
import type { NoteSigner, VerifierKey } from './note.ts';

const HEADER = 'blindvote/acceptance/v1';

export interface AcceptanceFields {
  readonly poll_id: string;
  readonly leaf_hash: Uint8Array;
  readonly accepted_at: string;
  readonly max_merge_delay: number;
}

export class Acceptance implements AcceptanceFields {
  readonly poll_id: string;
  readonly leaf_hash: Uint8Array;
  readonly accepted_at: string;
  readonly max_merge_delay: number;

  constructor(fields: AcceptanceFields) {
    if (typeof fields.poll_id !== 'string' || !POLL_ID_PATTERN.test(fields.poll_id)) throw new FormatError(`acceptance.poll_id: not a poll id: ${JSON.stringify(fields.poll_id)}`);
    if (!(fields.leaf_hash instanceof Uint8Array) || fields.leaf_hash.length !== 32) throw new FormatError('acceptance.leaf_hash: expected 32 bytes');
    checkTime(fields.accepted_at, 'acceptance.accepted_at');
    if (!Number.isSafeInteger(fields.max_merge_delay) || fields.max_merge_delay < 0) throw new FormatError(`acceptance.max_merge_delay: expected whole seconds ≥ 0, got ${fields.max_merge_delay}`);
    this.poll_id = fields.poll_id;
    this.leaf_hash = Uint8Array.from(fields.leaf_hash);
    this.accepted_at = fields.accepted_at;
    this.max_merge_delay = fields.max_merge_delay;
  }

  /** The note text (what is signed). */
  text(): string {
    return `${HEADER}\n${this.poll_id}\n${toBase64(this.leaf_hash)}\n${this.accepted_at}\n${this.max_merge_delay}\n`;
  }

  static parse(text: string): Acceptance {
    const lines = text.split('\n');
    if (lines.length !== 6 || lines[5] !== '') throw new FormatError('acceptance: expected 5 lines, each ending in a newline');
    if (lines[0] !== HEADER) throw new FormatError(`acceptance: the first line must be ${HEADER}`);
    if (!/^\d{1,10}$/.test(lines[4]!)) throw new FormatError('acceptance: max_merge_delay must be whole seconds');
    return new Acceptance({ poll_id: lines[1]!, leaf_hash: fromBase64(lines[2], 'acceptance.leaf_hash', 32), accepted_at: lines[3]!, max_merge_delay: Number(lines[4]) });
  }

  sign(signer: NoteSigner): string {
    return signNote(this.text(), [signer]);
  }

  /** Verifies the note against the ballot boxes' verifier key and parses it. */
  static open(note: string, verifier: VerifierKey | string): Acceptance {
    return Acceptance.parse(openNote(note, [verifier]).text);
  }
}
