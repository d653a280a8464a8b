/**
 * Byte helpers shared by every construction in `crypto/`.
 *
 * Binary values in blindvote's JSON are standard base64 WITH padding (RFC 4648 §4, as in
 * C2SP). Decoding is strict: the input MUST be the canonical encoding of its bytes, so two
 * different strings can never stand for the same value (no malleable receipts or entries).
 */

import { base64Decode, base64Encode } from '#platform';

export class FormatError extends Error {
  override name = 'FormatError';
}

/** Throws unless `value` is a Uint8Array (of exactly `length` bytes, when given). */
export function abytes(value: unknown, length: number | undefined, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new FormatError(`${what}: expected bytes`);
  if (length !== undefined && value.length !== length) {
    throw new FormatError(`${what}: expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toBase64(bytes: Uint8Array): string {
  return base64Encode(bytes);
}

/** Strict, canonical, padded base64 → bytes. `length` (when given) is checked too. */
export function fromBase64(text: unknown, what: string, length?: number): Uint8Array {
  if (typeof text !== 'string') throw new FormatError(`${what}: expected a base64 string`);
  // Fast path: the text is canonical iff its bytes encode back to it (the platform decoders are
  // lenient, the encoders canonical). Only a refused text pays for the checks that say why.
  let out: Uint8Array | undefined;
  try {
    out = base64Decode(text);
  } catch {
    out = undefined;
  }
  if (out === undefined || base64Encode(out) !== text) out = decodeStrict(text, what);
  if (length !== undefined && out.length !== length) {
    throw new FormatError(`${what}: expected ${length} bytes, got ${out.length}`);
  }
  return out;
}

function decodeStrict(text: string, what: string): Uint8Array {
  if (!B64.test(text)) throw new FormatError(`${what}: not standard padded base64`);
  // Canonical: the bits of the last data character that encode no byte MUST be zero
  // (4 of them before "==", 2 before "=").
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (pad > 0) {
    const last = B64_ALPHABET.indexOf(text[text.length - pad - 1]!);
    if ((last & (pad === 2 ? 0b1111 : 0b11)) !== 0) throw new FormatError(`${what}: non-canonical base64 (stray bits in the last character)`);
  }
  const out = base64Decode(text);
  if (base64Encode(out) !== text) throw new FormatError(`${what}: non-canonical base64`);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]!;
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new FormatError('hex: malformed');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing on any invalid sequence (never U+FFFD substitution). */
export function fromUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new FormatError(`${what}: invalid UTF-8`);
  }
}
