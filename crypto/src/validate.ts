/**
 * Input rules shared by the constructions of `crypto/`, each written once: non-negative safe
 * integers, JSON objects with an exact field set, and the character classes text is checked
 * against. Predicates and classes say what is accepted; each caller throws its own error class
 * (RangeError for arguments, ProofError in proof verification, FormatError on the wire) with its
 * own message. Internal: only `jsonPath` is exported from the package.
 */
import { FormatError, utf8 } from './bytes.ts';

// ---------------------------------------------------------------------------------------------
// Numbers and sizes

/** A non-negative safe integer, 0..2^53 − 1: every size, index and count (I-JSON, RFC 7493 §2.2). */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `isCount` for an argument of an API (merkle.ts, tiles.ts), else RangeError. */
export function argCount(value: unknown, what: string): number {
  if (!isCount(value)) throw new RangeError(`${what}: expected a non-negative safe integer, got ${String(value)}`);
  return value;
}

/** `isCount` for a field of a wire object (entries, receipts), else FormatError naming `path`. */
export function fieldCount(value: unknown, path: string): number {
  if (!isCount(value)) throw new FormatError(`${path}: expected a non-negative integer ≤ 2^53-1, got ${describe(value)}`);
  return value;
}

/**
 * Text given as a string or as UTF-8 bytes MUST be at most `max` UTF-8 bytes, checked before it
 * is parsed (or, for bytes, decoded); a string too long in UTF-16 units is refused unencoded.
 * Anything else passes, for the caller to refuse.
 */
export function checkTextSize(input: unknown, max: number, what: string): void {
  if (typeof input === 'string') {
    if (input.length > max) throw new FormatError(`${what}: at least ${input.length} bytes, at most ${max} accepted`);
    const n = utf8(input).length;
    if (n > max) throw new FormatError(`${what}: ${n} bytes, at most ${max} accepted`);
  } else if (input instanceof Uint8Array && input.length > max) {
    throw new FormatError(`${what}: ${input.length} bytes, at most ${max} accepted`);
  }
}

// ---------------------------------------------------------------------------------------------
// JSON objects and error messages

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `parent.key` or `parent["odd key"]` or `parent[3]`: the field paths used in error messages. */
export function jsonPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENT.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** A value as error messages show it: short strings and numbers as such, else its kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What the constructor of wire class `C` takes: the fields its JSON has exactly (`F`, the list
 * `asRecord` checks), but `type` and `v`, which the class sets itself.
 */
export type FieldsOf<C, F extends readonly (keyof C & string)[]> = Omit<Pick<C, F[number]>, 'type' | 'v'>;

/**
 * MUST be a JSON object; with `fields`, with exactly those (unknown fields named first, then
 * missing ones). Unknown fields are rejected, never ignored: an ignored field is data a hash or a
 * signature covers that some readers see and others do not.
 */
export function asRecord(value: unknown, path: string, fields?: readonly string[]): Record<string, unknown> {
  if (!isRecord(value)) throw new FormatError(`${path}: expected an object`);
  if (fields === undefined) return value;
  for (const key of Object.keys(value)) {
    if (!fields.includes(key)) throw new FormatError(`${jsonPath(path, key)}: unknown field`);
  }
  for (const field of fields) {
    if (!Object.hasOwn(value, field)) throw new FormatError(`${path}: missing field "${field}"`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Characters

/**
 * A lone surrogate: UTF-16 that is not well-formed, so not I-JSON (RFC 7493 §2.1) and with no
 * UTF-8 encoding. With the `u` flag a well-formed pair is one code point and does not match.
 * Text that crypto/ signs, hashes or serializes MUST be free of them.
 */
export const LONE_SURROGATE = /\p{Cs}/u;

/** C0 controls, U+0000..U+001F (a class body): refused in all text, with the exceptions below. */
const C0 = String.raw`\u0000-\u001f`;
/** Also refused in human text: DEL and C1 (U+007F..U+009F), and U+2028/U+2029 (line breaks to JavaScript). */
const C1_AND_SEPARATORS = String.raw`\u007f-\u009f\u2028\u2029`;

/** A character of the class body `chars` that is not in `except`. */
function anyOf(chars: string, except = ''): RegExp {
  return new RegExp(except === '' ? `[${chars}]` : `(?![${except}])[${chars}]`, 'u');
}

/**
 * The control characters refused in text, by where it goes. The differences are on purpose:
 * - a note key name: all of C0;
 * - c2sp.org/signed-note text (§Format), which is lines: C0 but LF (a checkpoint line is note
 *   text without the LF, so all of C0);
 * - human text in entries (titles, labels), shown in browsers and terminals: C0, DEL, C1 and
 *   U+2028/U+2029; a multi-line field (a description) may also hold LF and TAB.
 */
export const C0_CONTROL = anyOf(C0);
export const NOTE_CONTROL = anyOf(C0, '\n');
export const TEXT_CONTROL = anyOf(C0 + C1_AND_SEPARATORS);
export const MULTILINE_TEXT_CONTROL = anyOf(C0 + C1_AND_SEPARATORS, '\n\t');
