/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme) and strict JSON parsing.
 *
 * Spec: RFC 8785 (JCS) over the I-JSON subset (RFC 7493) of RFC 8259 JSON. Serialization is
 * delegated to `canonicalize` (by the RFC's author). DESIGN.md "Wire formats, version 1":
 * entries are RFC 8785 canonical JSON in UTF-8 and those bytes are what the log hashes.
 *
 * Flow:
 *   canonicalJson(value)  → the one RFC 8785 string for a JSON value (validated first)
 *   parseCanonicalJson(b) → strict UTF-8 → JSON.parse → the text MUST be the canonical form
 *                           (fast path); anything else → the structural scan (depth, duplicate
 *                           keys, lone surrogates) → JSON.parse → the canonical-form check,
 *                           which names the problem
 *   parseJsonStrict(text) → the same scan and JSON.parse, without the canonical-form rule
 *
 * Threats:
 *   - Malleability: two byte strings for one entry would give one ballot two leaf hashes
 *     (two receipts, two token-dedup keys at different layers). parseCanonicalJson accepts
 *     exactly one encoding per value: no whitespace, sorted keys, shortest numbers
 *     (ECMAScript Number::toString), minimal string escapes.
 *   - Parser differentials: duplicate keys (`{"a":1,"a":2}`), which JSON.parse resolves
 *     last-wins while other parsers keep the first or fail. Both parsers here reject them.
 *   - Lone surrogates (`"\ud800"`): not I-JSON, not representable in UTF-8, and handled
 *     differently by every language. Rejected on parse and on serialize.
 *   - Precision loss: integers beyond 2^53 silently round in JSON.parse; a canonical input
 *     cannot contain them (the rounded value re-serializes differently). Checking that a
 *     number is a safe integer where an integer is expected is the entry layer's job.
 *   - Resource exhaustion: nesting is bounded (MAX_DEPTH). parseJsonStrict scans BEFORE
 *     JSON.parse, so a hostile `[[[[…` never reaches a recursive parser; parseCanonicalJson's
 *     fast path hands bytes to V8's JSON.parse first, which is iterative (a 10^6-deep document
 *     is tested), and then refuses anything deeper than MAX_DEPTH.
 */
import canonicalize from 'canonicalize';
import { FormatError, fromUtf8, utf8 } from './bytes.ts';
import { LONE_SURROGATE, jsonPath } from './validate.ts';

/** A JSON value as blindvote handles it (I-JSON: finite numbers, well-formed strings). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Deepest nesting of arrays and objects accepted or produced (a top-level object is depth 1).
 * v1 entries nest at most 4 deep; receipts 5.
 */
export const MAX_DEPTH = 32;

/** Throws unless `text` is well-formed UTF-16 (no lone surrogates, RFC 7493 §2.1). */
export function assertWellFormed(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) throw new FormatError(`${what}: lone surrogate in string (not I-JSON, RFC 7493 §2.1)`);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * MUST reject anything `canonicalize` would serialize lossily or differently from what a
 * parser gives back: undefined/function/symbol/bigint (silently dropped or thrown), non-finite
 * numbers, lone surrogates, class instances (toJSON, Date, Map), sparse arrays, too deep nesting.
 */
function assertJsonValue(value: unknown, path: string, depth: number): void {
  switch (typeof value) {
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new FormatError(`${path}: ${value} is not a JSON number`);
      return;
    case 'string':
      assertWellFormed(value, path);
      return;
    case 'object': {
      if (value === null) return;
      if (depth >= MAX_DEPTH) throw new FormatError(`${path}: nesting deeper than ${MAX_DEPTH}`);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) throw new FormatError(`${jsonPath(path, i)}: hole in sparse array`);
          assertJsonValue(value[i], jsonPath(path, i), depth + 1);
        }
        return;
      }
      if (!isPlainObject(value)) throw new FormatError(`${path}: not a plain object (${value.constructor?.name ?? 'unknown'})`);
      for (const key of Object.keys(value)) {
        assertWellFormed(key, `${path}: key`);
        assertJsonValue((value as Record<string, unknown>)[key], jsonPath(path, key), depth + 1);
      }
      return;
    }
    default:
      throw new FormatError(`${path}: ${typeof value} is not a JSON value`);
  }
}

/** The RFC 8785 canonical serialization of a JSON value. Throws FormatError on a non-JSON value. */
export function canonicalJson(value: unknown, what = 'value'): string {
  assertJsonValue(value, what, 0);
  const out = canonicalize(value);
  if (out === undefined) throw new FormatError(`${what}: not a JSON value`);
  return out;
}

/** `canonicalJson` as UTF-8 bytes: the exact bytes an entry is hashed and stored as. */
export function canonicalBytes(value: unknown, what = 'value'): Uint8Array {
  return utf8(canonicalJson(value, what));
}

// ---------------------------------------------------------------------------------------------
// Structural scanner (RFC 8259 grammar). It validates; JSON.parse builds the value afterwards.

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

class Scanner {
  readonly text: string;
  readonly what: string;
  pos = 0;

  constructor(text: string, what: string) {
    this.text = text;
    this.what = what;
  }

  fail(path: string, message: string): never {
    throw new FormatError(`${path}: ${message} (at offset ${this.pos})`);
  }

  ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  value(path: string, depth: number): void {
    this.ws();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(path, depth + 1);
      case '[':
        return this.array(path, depth + 1);
      case '"':
        this.string(path);
        return;
      case 't':
        return this.literal('true', path);
      case 'f':
        return this.literal('false', path);
      case 'n':
        return this.literal('null', path);
      case undefined:
        return this.fail(path, 'unexpected end of JSON');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number(path);
        return this.fail(path, `unexpected character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`);
    }
  }

  literal(word: string, path: string): void {
    if (!this.text.startsWith(word, this.pos)) this.fail(path, 'invalid literal');
    this.pos += word.length;
  }

  number(path: string): void {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (m === null) return this.fail(path, 'invalid number');
    this.pos += m[0].length;
    const next = this.text[this.pos];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail(path, 'invalid number');
  }

  /** Scans one string token and returns its decoded value. */
  string(path: string): string {
    const t = this.text;
    const start = this.pos;
    let escaped = false;
    this.pos++;
    for (;;) {
      if (this.pos >= t.length) return this.fail(path, 'unterminated string');
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) break;
      if (c < 0x20) this.fail(path, 'unescaped control character in string');
      if (c === 0x5c) {
        escaped = true;
        const e = t[this.pos + 1];
        if (e === 'u') {
          if (!HEX4.test(t.slice(this.pos + 2, this.pos + 6))) this.fail(path, 'invalid \\u escape');
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail(path, 'invalid escape');
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    const decoded = escaped ? (JSON.parse(t.slice(start, this.pos)) as string) : t.slice(start + 1, this.pos - 1);
    if (LONE_SURROGATE.test(decoded)) {
      this.pos = start;
      this.fail(path, 'lone surrogate in string (not I-JSON, RFC 7493 §2.1)');
    }
    return decoded;
  }

  /** Enters an array or object at `depth`; true if it is empty (and then already closed). */
  open(path: string, depth: number, close: string): boolean {
    if (depth > MAX_DEPTH) this.fail(path, `nesting deeper than ${MAX_DEPTH}`);
    this.pos++;
    this.ws();
    if (this.text[this.pos] !== close) return false;
    this.pos++;
    return true;
  }

  /** After a member of an array or object: true at its `close` bracket, false at ','. */
  end(path: string, close: string, where: string): boolean {
    this.ws();
    const c = this.text[this.pos];
    if (c !== close && c !== ',') this.fail(path, `expected ',' or '${close}' in ${where}`);
    this.pos++;
    return c === close;
  }

  array(path: string, depth: number): void {
    if (this.open(path, depth, ']')) return;
    for (let i = 0; ; i++) {
      this.value(jsonPath(path, i), depth);
      if (this.end(path, ']', 'array')) return;
    }
  }

  object(path: string, depth: number): void {
    if (this.open(path, depth, '}')) return;
    const keys = new Set<string>();
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail(path, 'expected a string key');
      const keyStart = this.pos;
      const key = this.string(path);
      if (keys.has(key)) {
        this.pos = keyStart;
        this.fail(path, `duplicate key ${JSON.stringify(key)}`);
      }
      keys.add(key);
      this.ws();
      if (this.text[this.pos] !== ':') this.fail(jsonPath(path, key), "expected ':' after key");
      this.pos++;
      this.value(jsonPath(path, key), depth);
      if (this.end(path, '}', 'object')) return;
    }
  }

  document(): void {
    this.value(this.what, 0);
    this.ws();
    if (this.pos !== this.text.length) this.fail(this.what, 'trailing data after JSON value');
  }
}

/**
 * Parses RFC 8259 JSON strictly: rejects duplicate keys, lone surrogates (escaped or raw),
 * nesting deeper than MAX_DEPTH (checked before JSON.parse runs) and trailing data. Whitespace
 * and key order are free: this is for documents people keep and pass around, like receipts
 * (DESIGN.md "Wire formats, version 1": Receipt), never for log entries.
 */
export function parseJsonStrict(text: string, what = 'json'): JsonValue {
  if (typeof text !== 'string') throw new FormatError(`${what}: expected a string`);
  new Scanner(text, what).document();
  return JSON.parse(text) as JsonValue;
}

function describeMismatch(found: string, expected: string): string {
  let i = 0;
  while (i < found.length && i < expected.length && found[i] === expected[i]) i++;
  const ch = found[i];
  const excerpt = (s: string) => JSON.stringify(s.slice(i, i + 16));
  let hint = '';
  if (ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') hint = 'insignificant whitespace; ';
  else if (i >= expected.length) hint = 'trailing data; ';
  return `not canonical JSON (RFC 8785): ${hint}at offset ${i} found ${excerpt(found)}, canonical form has ${excerpt(expected)}`;
}

/** True if every object in `value` has its keys in ascending UTF-16 order and nesting stays within MAX_DEPTH (as assertJsonValue counts). */
function inCanonicalOrder(value: JsonValue, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.every((v) => inCanonicalOrder(v, depth + 1));
  let last: string | undefined;
  for (const key in value) {
    if (last !== undefined && !(last < key)) return false;
    last = key;
    if (!inCanonicalOrder(value[key]!, depth + 1)) return false;
  }
  return true;
}

/**
 * Parses bytes that MUST be the RFC 8785 canonical JSON of the value they denote
 * (DESIGN.md "Wire formats, version 1": entries). Strict UTF-8 (no BOM, no replacement),
 * then `parseJsonStrict`'s checks, then the bytes MUST equal canonicalJson(value): this rejects
 * whitespace, unsorted keys, non-shortest numbers (`1.0`, `1e2`, `-0`, integers above 2^53)
 * and non-minimal escapes (`"\u0061"`, `"\/"`).
 */
export function parseCanonicalJson(bytes: Uint8Array, what = 'json'): JsonValue {
  if (!(bytes instanceof Uint8Array)) throw new FormatError(`${what}: expected bytes`);
  const text = fromUtf8(bytes, what);
  // Fast path for canonical input: JSON.parse (V8's is not recursive), and the text MUST be what
  // JSON.stringify gives back with every object's keys in ascending UTF-16 order, no escape but
  // JSON.stringify's own, at most MAX_DEPTH deep. That is RFC 8785 exactly: JCS serializes strings
  // and numbers as ECMAScript's JSON.stringify does and sorts keys by UTF-16 code units; a
  // duplicate key, whitespace or any other form of a value changes the text. Lone surrogates
  // appear only as `\u` escapes (strict UTF-8 above), which leave the fast path. Anything else
  // takes the slow path below, whose scan names the problem precisely.
  let fast: JsonValue | undefined;
  try {
    fast = JSON.parse(text) as JsonValue;
  } catch {
    // the scan below says where and why
  }
  if (fast !== undefined && !text.includes('\\u') && inCanonicalOrder(fast, 0) && JSON.stringify(fast) === text) return fast;
  const value = parseJsonStrict(text, what);
  const canonical = canonicalJson(value, what);
  if (canonical !== text) throw new FormatError(`${what}: ${describeMismatch(text, canonical)}`);
  return value;
}
