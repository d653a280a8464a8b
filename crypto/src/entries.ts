/**
 * The typed entries of a poll's board: `poll`, `ballot`, `close`, `tally` (version 1).
 *
 * Spec: DESIGN.md "Wire formats, version 1". Each entry is the RFC 8785 canonical JSON
 * (`jcs.ts`) of one record below, in UTF-8; those bytes are the Merkle leaf (RFC 9162 §2.1.1)
 * and the tlog-tiles entry-bundle payload. Entry 0 of every board is the `poll` manifest; then
 * ballots; then one `close`. The `tally` is published after the close entry and commits to the
 * board up to and including it.
 *
 * Flow:
 *   writer:  new Ballot({...})   validates everything → .serialize() → canonical bytes
 *   reader:  parseEntry(bytes)   canonical JSON → dispatch on "type" and "v" → same classes
 *   manifest checks that need the options/key/roll: poll.checkChoice / checkBallot /
 *   checkClose / checkTally.
 *
 * Contracts and threats:
 *   - A malformed entry object cannot exist: every constructor validates every field, and
 *     fromJSON/deserialize go through the constructor. Errors are FormatError naming the field
 *     path (`ballot.choice[1]: duplicate option id "a"`).
 *   - One entry, one byte string: deserialize accepts only canonical bytes, base64 only in its
 *     canonical padded form, times only as `YYYY-MM-DDTHH:MM:SSZ`, choice ids only in ascending
 *     order, so serialize(deserialize(b)) == b for every accepted b (tested with fast-check).
 *     A second encoding of one ballot would be a second leaf hash for it.
 *   - Unknown fields are rejected, never ignored: an ignored field is data the hash commits to
 *     that some verifiers see and others do not.
 *   - Closed union: `type` is one of the four names below and `v` MUST be 1; anything else is
 *     rejected with a message saying so, never skipped.
 *   - Entries are at most 65535 bytes: tlog-tiles entry bundles prefix each entry with a
 *     big-endian uint16 length (DESIGN.md "Public surface").
 *   - Integers are JSON numbers that MUST be non-negative safe integers (I-JSON, RFC 7493 §2.2).
 *   - Binary values are Uint8Array on the objects (copied in; callers MUST NOT mutate them)
 *     and standard padded base64 on the wire.
 */
import { FormatError, abytes, equalBytes, fromBase64, toBase64 } from './bytes.ts';
import { canonicalBytes, parseCanonicalJson } from './jcs.ts';
import type { JsonValue } from './jcs.ts';
import { HASH_SIZE } from './merkle.ts';
import { parseVerifierKey } from './note.ts';
import { MAX_ENTRY_SIZE } from './tiles.ts';
import {
  MAX_SIG_LENGTH,
  MIN_SIG_LENGTH,
  NONCE_LENGTH,
  PREFIX_LENGTH,
  TOKEN_SUITE,
  checkPollId,
  parseTokenKeySpki,
  tokenIdFor,
} from './token.ts';
import { LONE_SURROGATE, MULTILINE_TEXT_CONTROL, TEXT_CONTROL, asRecord, describe, fieldCount, isRecord, jsonPath } from './validate.ts';
import type { FieldsOf } from './validate.ts';

export const ENTRY_VERSION = 1;
/** Option ids: lowercase ASCII, so their UTF-16 order (RFC 8785 key order) is their byte order. */
export const OPTION_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const MIN_OPTIONS = 2;
export const MAX_OPTIONS = 256;
export const MAX_TITLE_LENGTH = 200;
export const MAX_LABEL_LENGTH = 200;
export const MAX_DESCRIPTION_LENGTH = 10_000;

export type EntryType = 'poll' | 'ballot' | 'close' | 'tally';
export const ENTRY_TYPES: readonly EntryType[] = ['poll', 'ballot', 'close', 'tally'];
export type BallotKind = 'single' | 'multi';
export type ResultsPolicy = 'live' | 'sealed';

// ---------------------------------------------------------------------------------------------
// Field checks shared by the entries (each returns the value, typed, or throws naming `path`).

/** An entry object: `type` and `v` are checked before anything else, so a v2 entry is reported as such; then exactly `fields`. */
function header(value: unknown, path: string, type: EntryType, fields: readonly string[]): Record<string, unknown> {
  const o = asRecord(value, path);
  if (o['type'] !== type) throw new FormatError(`${path}.type: expected "${type}", got ${describe(o['type'])}`);
  checkVersion(o['v'], `${path}.v`);
  return asRecord(o, path, fields);
}

function checkVersion(v: unknown, path: string): void {
  if (v === undefined) throw new FormatError(`${path}: missing (entries carry "v":1)`);
  if (v !== ENTRY_VERSION) throw new FormatError(`${path}: unsupported version ${describe(v)}; this implementation reads only v1`);
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new FormatError(`${path}: expected a string, got ${describe(value)}`);
  return value;
}

function optionId(value: unknown, path: string): string {
  const s = str(value, path);
  if (!OPTION_ID_PATTERN.test(s)) throw new FormatError(`${path}: ${describe(s)} does not match [a-z0-9][a-z0-9_-]{0,63}`);
  return s;
}

/** Human text: well-formed, length in code points, no control characters (`multiline` allows \n and \t). */
function humanText(value: unknown, path: string, min: number, max: number, multiline = false): string {
  const s = str(value, path);
  if (LONE_SURROGATE.test(s)) throw new FormatError(`${path}: lone surrogate (not I-JSON)`);
  if ((multiline ? MULTILINE_TEXT_CONTROL : TEXT_CONTROL).test(s)) throw new FormatError(`${path}: control character not allowed`);
  let n = 0;
  for (const _ of s) n++;
  if (n < min) throw new FormatError(min === 1 ? `${path}: must not be empty` : `${path}: at least ${min} characters`);
  if (n > max) throw new FormatError(`${path}: ${n} characters, at most ${max}`);
  return s;
}

const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;

/**
 * RFC 3339 UTC timestamp in ONE form: `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, upper-case T and
 * Z, no offset, no leap second), and a real calendar date.
 */
export function checkTime(value: unknown, path: string): string {
  const s = str(value, path);
  if (!TIME.test(s)) throw new FormatError(`${path}: ${describe(s)} is not an RFC 3339 UTC time of the form YYYY-MM-DDTHH:MM:SSZ`);
  const ms = Date.parse(s);
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== `${s.slice(0, 19)}.000Z`) {
    throw new FormatError(`${path}: ${describe(s)} is not a valid date and time`);
  }
  return s;
}

/** A moment in checkTime's one form, the fraction of a second dropped. Throws on an invalid date. */
export function formatTime(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at instanceof Date ? at.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new FormatError(`time: ${String(at)} is not a valid date`);
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Milliseconds since the epoch of a time accepted by checkTime. */
export function timeMs(time: string): number {
  return Date.parse(checkTime(time, 'time'));
}

/** A copy, as a plain Uint8Array (`slice()` of a Node Buffer would be a view of the caller's memory). */
function bytesField(value: unknown, path: string, length?: number): Uint8Array {
  return new Uint8Array(abytes(value, length, path));
}

function arrayOf(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new FormatError(`${path}: expected an array, got ${describe(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new FormatError(`${path}: expected ${allowed.map((a) => `"${a}"`).join(' or ')}, got ${describe(value)}`);
  }
  return value as T;
}

/**
 * The canonical bytes being parsed by fromEntryBytes and the JSON value they denote, while its
 * `fromJSON` runs (synchronously): the entry built from them seals to exactly these bytes if its
 * JSON equals that value, without canonicalizing again. Taken by the first sealEntry call.
 */
let parsing: { readonly bytes: Uint8Array; readonly json: JsonValue } | null = null;
/** Set when sealEntry took the bytes being parsed: the entry serializes to them by construction. */
let sealedFromParse = false;

function sameJson(a: unknown, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]!));
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], b[k]!));
}

function sealEntry(value: unknown, path: string): Uint8Array {
  const parsed = parsing;
  parsing = null;
  if (parsed !== null && sameJson(value, parsed.json)) {
    sealedFromParse = true;
    return new Uint8Array(parsed.bytes); // a copy: the caller may reuse its buffer
  }
  const bytes = canonicalBytes(value, path);
  if (bytes.length > MAX_ENTRY_SIZE) {
    throw new FormatError(`${path}: ${bytes.length} bytes serialized, entries are at most ${MAX_ENTRY_SIZE} (tlog-tiles uint16 length)`);
  }
  return bytes;
}

/**
 * Every entry's bytes → entry (each `deserialize`, and `parseEntry`): at most MAX_ENTRY_SIZE,
 * canonical JSON, `fromJSON`, and the bytes MUST be exactly what the entry serializes to.
 */
function fromEntryBytes<E extends Entry>(bytes: Uint8Array, path: string, fromJSON: (json: JsonValue, path: string) => E): E {
  abytes(bytes, undefined, path);
  if (bytes.length > MAX_ENTRY_SIZE) throw new FormatError(`${path}: ${bytes.length} bytes, entries are at most ${MAX_ENTRY_SIZE}`);
  const json = parseCanonicalJson(bytes, path);
  parsing = { bytes, json };
  sealedFromParse = false;
  let entry: E;
  try {
    entry = fromJSON(json, path);
  } finally {
    parsing = null;
  }
  if (!sealedFromParse && !equalBytes(entry.serialize(), bytes)) throw new FormatError(`${path}: bytes are not the canonical encoding of the entry`);
  return entry;
}

/** A C2SP signed-note verifier key (`<name>+<hex key id>+<base64 type||key>`), via note.ts. */
function boardKey(value: unknown, path: string): string {
  const s = str(value, path);
  try {
    parseVerifierKey(s);
  } catch (cause) {
    throw new FormatError(`${path}: not a C2SP verifier key: ${(cause as Error).message}`, { cause });
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// poll

export interface PollOption {
  readonly id: string;
  readonly label: string;
}

export interface BallotSpec {
  readonly kind: BallotKind;
  readonly options: readonly PollOption[];
  /** single: 1; multi: 1..options.length. */
  readonly max_choices: number;
}

export interface TokenKey {
  readonly suite: typeof TOKEN_SUITE;
  /** DER SubjectPublicKeyInfo as `parseTokenKeySpki` accepts it (rsaEncryption, 2048..8192 bits, e = 65537). */
  readonly spki: Uint8Array;
}

export interface Roll {
  /** Number of eligible voters. */
  readonly size: number;
  /** 32-byte commitment to the voter roll. */
  readonly commitment: Uint8Array;
}

export type PollJSON = {
  type: 'poll';
  v: 1;
  poll_id: string;
  title: string;
  description: string;
  ballot: { kind: BallotKind; options: { id: string; label: string }[]; max_choices: number };
  opens_at: string;
  closes_at: string;
  results: ResultsPolicy;
  token_key: { suite: typeof TOKEN_SUITE; spki: string };
  board_key: string;
  roll: { size: number; commitment: string };
};

const POLL_FIELDS = ['type', 'v', 'poll_id', 'title', 'description', 'ballot', 'opens_at', 'closes_at', 'results', 'token_key', 'board_key', 'roll'] as const;
export type PollFields = FieldsOf<Poll, typeof POLL_FIELDS>;

/**
 * The poll manifest, entry 0 of its board (DESIGN.md "Wire formats, version 1": poll):
 *
 *   {"type":"poll","v":1,"poll_id","title","description",
 *    "ballot":{"kind":"single"|"multi","options":[{"id","label"}],"max_choices"},
 *    "opens_at","closes_at","results":"live"|"sealed",
 *    "token_key":{"suite":"RSABSSA-SHA384-PSS-Randomized","spki":<b64 DER>},
 *    "board_key":<C2SP verifier key string>,"roll":{"size","commitment"}}
 *
 * It fixes, for everyone, the options, the time window, the token key (key consistency,
 * DESIGN.md promise 5) and the board's checkpoint key.
 */
export class Poll {
  readonly type = 'poll' as const;
  readonly v = ENTRY_VERSION;
  readonly poll_id: string;
  readonly title: string;
  readonly description: string;
  readonly ballot: BallotSpec;
  readonly opens_at: string;
  readonly closes_at: string;
  readonly results: ResultsPolicy;
  readonly token_key: TokenKey;
  readonly board_key: string;
  readonly roll: Roll;
  /** Byte length of the token key's modulus: every ballot's `token.sig` MUST have this length. */
  readonly tokenSigLength: number;
  readonly #bytes: Uint8Array;

  constructor(fields: PollFields, path = 'poll') {
    this.poll_id = checkPollId(fields.poll_id, `${path}.poll_id`);
    this.title = humanText(fields.title, `${path}.title`, 1, MAX_TITLE_LENGTH);
    this.description = humanText(fields.description, `${path}.description`, 0, MAX_DESCRIPTION_LENGTH, true);

    const bp = `${path}.ballot`;
    const spec = fields.ballot;
    asRecord(spec, bp);
    const kind = oneOf(spec.kind, `${bp}.kind`, ['single', 'multi'] as const);
    const rawOptions = arrayOf(spec.options, `${bp}.options`);
    if (rawOptions.length < MIN_OPTIONS || rawOptions.length > MAX_OPTIONS) {
      throw new FormatError(`${bp}.options: ${rawOptions.length} options, expected ${MIN_OPTIONS}..${MAX_OPTIONS}`);
    }
    const seen = new Set<string>();
    const options = rawOptions.map((o, i) => {
      const op = `${bp}.options[${i}]`;
      const rec = asRecord(o, op);
      const id = optionId(rec['id'], `${op}.id`);
      if (seen.has(id)) throw new FormatError(`${op}.id: duplicate option id "${id}"`);
      seen.add(id);
      return Object.freeze({ id, label: humanText(rec['label'], `${op}.label`, 1, MAX_LABEL_LENGTH) });
    });
    const maxChoices = fieldCount(spec.max_choices, `${bp}.max_choices`);
    if (kind === 'single' && maxChoices !== 1) throw new FormatError(`${bp}.max_choices: must be 1 for a single-choice ballot, got ${maxChoices}`);
    if (maxChoices < 1 || maxChoices > options.length) {
      throw new FormatError(`${bp}.max_choices: must be 1..${options.length} (the number of options), got ${maxChoices}`);
    }
    this.ballot = Object.freeze({ kind, options: Object.freeze(options), max_choices: maxChoices });

    this.opens_at = checkTime(fields.opens_at, `${path}.opens_at`);
    this.closes_at = checkTime(fields.closes_at, `${path}.closes_at`);
    if (Date.parse(this.closes_at) <= Date.parse(this.opens_at)) throw new FormatError(`${path}.closes_at: must be after opens_at`);
    this.results = oneOf(fields.results, `${path}.results`, ['live', 'sealed'] as const);

    const kp = `${path}.token_key`;
    asRecord(fields.token_key, kp);
    const suite = oneOf(fields.token_key.suite, `${kp}.suite`, [TOKEN_SUITE] as const);
    const spki = bytesField(fields.token_key.spki, `${kp}.spki`);
    this.tokenSigLength = parseTokenKeySpki(spki, `${kp}.spki`).modulusLength;
    this.token_key = Object.freeze({ suite, spki });

    this.board_key = boardKey(fields.board_key, `${path}.board_key`);

    const rp = `${path}.roll`;
    asRecord(fields.roll, rp);
    this.roll = Object.freeze({
      size: fieldCount(fields.roll.size, `${rp}.size`),
      commitment: bytesField(fields.roll.commitment, `${rp}.commitment`, HASH_SIZE),
    });

    this.#bytes = sealEntry(this.toJSON(), path);
    Object.freeze(this);
  }

  toJSON(): PollJSON {
    return {
      type: this.type,
      v: this.v,
      poll_id: this.poll_id,
      title: this.title,
      description: this.description,
      ballot: {
        kind: this.ballot.kind,
        options: this.ballot.options.map((o) => ({ id: o.id, label: o.label })),
        max_choices: this.ballot.max_choices,
      },
      opens_at: this.opens_at,
      closes_at: this.closes_at,
      results: this.results,
      token_key: { suite: this.token_key.suite, spki: toBase64(this.token_key.spki) },
      board_key: this.board_key,
      roll: { size: this.roll.size, commitment: toBase64(this.roll.commitment) },
    };
  }

  static fromJSON(json: unknown, path = 'poll'): Poll {
    const o = header(json, path, 'poll', POLL_FIELDS);
    const bp = `${path}.ballot`;
    const b = asRecord(o['ballot'], bp, ['kind', 'options', 'max_choices']);
    const options = arrayOf(b['options'], `${bp}.options`).map((opt, i) => asRecord(opt, `${bp}.options[${i}]`, ['id', 'label']));
    const kp = `${path}.token_key`;
    const k = asRecord(o['token_key'], kp, ['suite', 'spki']);
    const rp = `${path}.roll`;
    const r = asRecord(o['roll'], rp, ['size', 'commitment']);
    return new Poll(
      {
        poll_id: o['poll_id'] as string,
        title: o['title'] as string,
        description: o['description'] as string,
        ballot: { kind: b['kind'] as BallotKind, options: options as unknown as PollOption[], max_choices: b['max_choices'] as number },
        opens_at: o['opens_at'] as string,
        closes_at: o['closes_at'] as string,
        results: o['results'] as ResultsPolicy,
        token_key: { suite: k['suite'] as typeof TOKEN_SUITE, spki: fromBase64(k['spki'], `${kp}.spki`) },
        board_key: o['board_key'] as string,
        roll: { size: r['size'] as number, commitment: fromBase64(r['commitment'], `${rp}.commitment`, HASH_SIZE) },
      },
      path,
    );
  }

  /** The canonical entry bytes (a fresh copy). */
  serialize(): Uint8Array {
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array, path = 'poll'): Poll {
    return fromEntryBytes(bytes, path, Poll.fromJSON);
  }

  /** True when `at` (ms since the epoch, or a Date) is in [opens_at, closes_at). */
  isOpenAt(at: number | Date): boolean {
    const t = typeof at === 'number' ? at : at.getTime();
    return t >= Date.parse(this.opens_at) && t < Date.parse(this.closes_at);
  }

  /**
   * Checks a ballot's choice against this manifest (DESIGN.md "Wire formats, version 1":
   * single: exactly one id; multi: 1..max_choices distinct ids), every id one of the options.
   * Throws FormatError naming the offending element.
   */
  checkChoice(choice: readonly string[], path = 'ballot.choice'): void {
    arrayOf(choice, path);
    const { kind, max_choices } = this.ballot;
    if (kind === 'single' && choice.length !== 1) {
      throw new FormatError(`${path}: a single-choice ballot takes exactly one option, got ${choice.length}`);
    }
    if (choice.length < 1 || choice.length > max_choices) {
      throw new FormatError(`${path}: ${choice.length} options chosen, this poll allows 1..${max_choices}`);
    }
    const seen = new Set<string>();
    choice.forEach((id, i) => {
      if (typeof id !== 'string') throw new FormatError(`${path}[${i}]: expected a string, got ${describe(id)}`);
      if (seen.has(id)) throw new FormatError(`${path}[${i}]: duplicate option id "${id}"`);
      seen.add(id);
      if (!this.ballot.options.some((o) => o.id === id)) throw new FormatError(`${path}[${i}]: unknown option id ${describe(id)}`);
    });
  }

  /**
   * Everything about a ballot that this manifest decides, short of the token signature (which
   * `TokenVerifier` checks): same poll, valid choice, signature length = the key's modulus.
   */
  checkBallot(ballot: Ballot, path = 'ballot'): void {
    if (ballot.poll_id !== this.poll_id) throw new FormatError(`${path}.poll_id: "${ballot.poll_id}" is not this poll ("${this.poll_id}")`);
    this.checkChoice(ballot.choice, `${path}.choice`);
    if (ballot.token.sig.length !== this.tokenSigLength) {
      throw new FormatError(`${path}.token.sig: ${ballot.token.sig.length} bytes, the poll's token key signs ${this.tokenSigLength}`);
    }
  }

  /** A close entry against this manifest: same poll, closed after opening, issued ≤ roll size. */
  checkClose(close: Close, path = 'close'): void {
    if (close.poll_id !== this.poll_id) throw new FormatError(`${path}.poll_id: "${close.poll_id}" is not this poll ("${this.poll_id}")`);
    if (Date.parse(close.closed_at) < Date.parse(this.opens_at)) throw new FormatError(`${path}.closed_at: before the poll's opens_at`);
    if (close.issued > this.roll.size) throw new FormatError(`${path}.issued: ${close.issued} tokens issued, the roll has ${this.roll.size} voters`);
  }

  /**
   * A tally against this manifest: same poll, a count for every option and no other, and
   * counts that the number of counted ballots can produce (single: sum = ballots_counted;
   * multi: ballots_counted ≤ sum ≤ ballots_counted × max_choices, each count ≤ ballots_counted).
   */
  checkTally(tally: Tally, path = 'tally'): void {
    if (tally.poll_id !== this.poll_id) throw new FormatError(`${path}.poll_id: "${tally.poll_id}" is not this poll ("${this.poll_id}")`);
    const ids = this.ballot.options.map((o) => o.id);
    for (const id of ids) {
      if (!Object.hasOwn(tally.counts, id)) throw new FormatError(`${path}.counts: missing option "${id}" (every option is listed, 0 included)`);
    }
    let sum = 0;
    for (const [id, n] of Object.entries(tally.counts)) {
      if (!ids.includes(id)) throw new FormatError(`${jsonPath(`${path}.counts`, id)}: not an option of this poll`);
      if (n > tally.ballots_counted) throw new FormatError(`${jsonPath(`${path}.counts`, id)}: ${n} exceeds ballots_counted (${tally.ballots_counted})`);
      sum += n;
    }
    const c = tally.ballots_counted;
    if (this.ballot.kind === 'single' && sum !== c) {
      throw new FormatError(`${path}.counts: sum ${sum} differs from ballots_counted ${c} on a single-choice ballot`);
    }
    if (this.ballot.kind === 'multi' && (sum < c || sum > c * this.ballot.max_choices)) {
      throw new FormatError(`${path}.counts: sum ${sum} impossible for ${c} ballots of 1..${this.ballot.max_choices} choices`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ballot

export interface BallotToken {
  /** 32 random bytes chosen by the voter (token message, DESIGN.md). */
  readonly nonce: Uint8Array;
  /** 32-byte RFC 9474 Randomized-suite prefix. */
  readonly prefix: Uint8Array;
  /** RSASSA-PSS signature over prefix || msg, modulus-length bytes. */
  readonly sig: Uint8Array;
}

export type BallotJSON = {
  type: 'ballot';
  v: 1;
  poll_id: string;
  token: { nonce: string; prefix: string; sig: string };
  choice: string[];
};

const BALLOT_FIELDS = ['type', 'v', 'poll_id', 'token', 'choice'] as const;
export type BallotFields = FieldsOf<Ballot, typeof BALLOT_FIELDS>;

/**
 * A ballot (DESIGN.md "Wire formats, version 1": ballot):
 *
 *   {"type":"ballot","v":1,"poll_id","token":{"nonce","prefix","sig"},"choice":[option ids]}
 *
 * On its own a ballot knows its option ids are well-formed, distinct and sorted; whether they
 * are options of the poll, and how many the poll allows, is `Poll.checkChoice`/`checkBallot`.
 * The choice MUST be in ascending order so that one vote has one encoding (one leaf hash).
 */
export class Ballot {
  readonly type = 'ballot' as const;
  readonly v = ENTRY_VERSION;
  readonly poll_id: string;
  readonly token: BallotToken;
  /** Option ids, distinct and in ascending order. */
  readonly choice: readonly string[];
  readonly #bytes: Uint8Array;

  constructor(fields: BallotFields, path = 'ballot') {
    this.poll_id = checkPollId(fields.poll_id, `${path}.poll_id`);
    const tp = `${path}.token`;
    const token = fields.token;
    asRecord(token, tp);
    const sig = bytesField(token.sig, `${tp}.sig`);
    if (sig.length < MIN_SIG_LENGTH || sig.length > MAX_SIG_LENGTH) {
      throw new FormatError(`${tp}.sig: ${sig.length} bytes, expected ${MIN_SIG_LENGTH}..${MAX_SIG_LENGTH}`);
    }
    this.token = Object.freeze({
      nonce: bytesField(token.nonce, `${tp}.nonce`, NONCE_LENGTH),
      prefix: bytesField(token.prefix, `${tp}.prefix`, PREFIX_LENGTH),
      sig,
    });
    const cp = `${path}.choice`;
    const choice = arrayOf(fields.choice, cp);
    if (choice.length === 0) throw new FormatError(`${cp}: must not be empty`);
    if (choice.length > MAX_OPTIONS) throw new FormatError(`${cp}: ${choice.length} ids, at most ${MAX_OPTIONS}`);
    const ids = choice.map((id, i) => optionId(id, `${cp}[${i}]`));
    for (let i = 1; i < ids.length; i++) {
      if (ids[i] === ids[i - 1]) throw new FormatError(`${cp}[${i}]: duplicate option id "${ids[i]}"`);
      if (ids[i]! < ids[i - 1]!) throw new FormatError(`${cp}[${i}]: ids must be in ascending order ("${ids[i]}" after "${ids[i - 1]}")`);
    }
    this.choice = Object.freeze(ids);
    this.#bytes = sealEntry(this.toJSON(), path);
    Object.freeze(this);
  }

  toJSON(): BallotJSON {
    return {
      type: this.type,
      v: this.v,
      poll_id: this.poll_id,
      token: { nonce: toBase64(this.token.nonce), prefix: toBase64(this.token.prefix), sig: toBase64(this.token.sig) },
      choice: [...this.choice],
    };
  }

  static fromJSON(json: unknown, path = 'ballot'): Ballot {
    const o = header(json, path, 'ballot', BALLOT_FIELDS);
    const tp = `${path}.token`;
    const t = asRecord(o['token'], tp, ['nonce', 'prefix', 'sig']);
    return new Ballot(
      {
        poll_id: o['poll_id'] as string,
        token: {
          nonce: fromBase64(t['nonce'], `${tp}.nonce`, NONCE_LENGTH),
          prefix: fromBase64(t['prefix'], `${tp}.prefix`, PREFIX_LENGTH),
          sig: fromBase64(t['sig'], `${tp}.sig`),
        },
        choice: o['choice'] as string[],
      },
      path,
    );
  }

  serialize(): Uint8Array {
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array, path = 'ballot'): Ballot {
    return fromEntryBytes(bytes, path, Ballot.fromJSON);
  }

  /** The spent-set key, SHA-256(prefix || msg) (DESIGN.md "Wire formats, version 1"). */
  tokenId(): Uint8Array {
    return tokenIdFor(this.poll_id, this.token);
  }
}

// ---------------------------------------------------------------------------------------------
// close

export type CloseJSON = { type: 'close'; v: 1; poll_id: string; closed_at: string; ballots: number; issued: number };

const CLOSE_FIELDS = ['type', 'v', 'poll_id', 'closed_at', 'ballots', 'issued'] as const;
export type CloseFields = FieldsOf<Close, typeof CLOSE_FIELDS>;

/**
 * The last entry of a board (DESIGN.md "Wire formats, version 1": close):
 *
 *   {"type":"close","v":1,"poll_id","closed_at","ballots":n,"issued":n}
 *
 * `ballots ≤ issued` is checked here (a spent token was issued); `issued ≤ roll.size` needs the
 * manifest (`Poll.checkClose`).
 */
export class Close {
  readonly type = 'close' as const;
  readonly v = ENTRY_VERSION;
  readonly poll_id: string;
  readonly closed_at: string;
  /** Ballots on the board (spent tokens). */
  readonly ballots: number;
  /** Tokens the issuer handed out: ballots ≤ issued ≤ roll.size. */
  readonly issued: number;
  readonly #bytes: Uint8Array;

  constructor(fields: CloseFields, path = 'close') {
    this.poll_id = checkPollId(fields.poll_id, `${path}.poll_id`);
    this.closed_at = checkTime(fields.closed_at, `${path}.closed_at`);
    this.ballots = fieldCount(fields.ballots, `${path}.ballots`);
    this.issued = fieldCount(fields.issued, `${path}.issued`);
    if (this.ballots > this.issued) throw new FormatError(`${path}.ballots: ${this.ballots} exceeds issued (${this.issued})`);
    this.#bytes = sealEntry(this.toJSON(), path);
    Object.freeze(this);
  }

  toJSON(): CloseJSON {
    return { type: this.type, v: this.v, poll_id: this.poll_id, closed_at: this.closed_at, ballots: this.ballots, issued: this.issued };
  }

  static fromJSON(json: unknown, path = 'close'): Close {
    const o = header(json, path, 'close', CLOSE_FIELDS);
    return new Close(
      { poll_id: o['poll_id'] as string, closed_at: o['closed_at'] as string, ballots: o['ballots'] as number, issued: o['issued'] as number },
      path,
    );
  }

  serialize(): Uint8Array {
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array, path = 'close'): Close {
    return fromEntryBytes(bytes, path, Close.fromJSON);
  }
}

// ---------------------------------------------------------------------------------------------
// tally

export type TallyJSON = {
  type: 'tally';
  v: 1;
  poll_id: string;
  tree_size: number;
  root: string;
  counts: Record<string, number>;
  ballots_counted: number;
  ballots_rejected: number;
};

const TALLY_FIELDS = ['type', 'v', 'poll_id', 'tree_size', 'root', 'counts', 'ballots_counted', 'ballots_rejected'] as const;
export type TallyFields = FieldsOf<Tally, typeof TALLY_FIELDS>;

/**
 * The signed result (DESIGN.md "Wire formats, version 1": tally):
 *
 *   {"type":"tally","v":1,"poll_id","tree_size":N,"root":<b64>,"counts":{id:n},
 *    "ballots_counted":n,"ballots_rejected":n}
 *
 * The board it commits to is [poll, ballot × k, close], so tree_size MUST be
 * 2 + ballots_counted + ballots_rejected: every logged ballot is either counted or rejected
 * by the recount, none is left out. Whether the counts fit the options is `Poll.checkTally`.
 */
export class Tally {
  readonly type = 'tally' as const;
  readonly v = ENTRY_VERSION;
  readonly poll_id: string;
  /** Size of the board up to and including the close entry. */
  readonly tree_size: number;
  /** RFC 9162 root hash of that tree. */
  readonly root: Uint8Array;
  /** Option id → ballots choosing it. Every option of the poll, zeros included. */
  readonly counts: Readonly<Record<string, number>>;
  readonly ballots_counted: number;
  readonly ballots_rejected: number;
  readonly #bytes: Uint8Array;

  constructor(fields: TallyFields, path = 'tally') {
    this.poll_id = checkPollId(fields.poll_id, `${path}.poll_id`);
    this.tree_size = fieldCount(fields.tree_size, `${path}.tree_size`);
    this.root = bytesField(fields.root, `${path}.root`, HASH_SIZE);
    const cp = `${path}.counts`;
    const raw = fields.counts;
    asRecord(raw, cp);
    const keys = Object.keys(raw);
    if (keys.length < MIN_OPTIONS || keys.length > MAX_OPTIONS) {
      throw new FormatError(`${cp}: ${keys.length} options, expected ${MIN_OPTIONS}..${MAX_OPTIONS}`);
    }
    // Null prototype: option ids like "constructor" stay plain data.
    const counts = Object.create(null) as Record<string, number>;
    for (const key of keys.sort()) {
      optionId(key, `${cp}: key`);
      counts[key] = fieldCount(raw[key], jsonPath(cp, key));
    }
    this.counts = Object.freeze(counts);
    this.ballots_counted = fieldCount(fields.ballots_counted, `${path}.ballots_counted`);
    this.ballots_rejected = fieldCount(fields.ballots_rejected, `${path}.ballots_rejected`);
    if (this.tree_size !== 2 + this.ballots_counted + this.ballots_rejected) {
      throw new FormatError(
        `${path}.tree_size: ${this.tree_size}, but a board of poll + ${this.ballots_counted} counted + ${this.ballots_rejected} rejected ballots + close has ${2 + this.ballots_counted + this.ballots_rejected} entries`,
      );
    }
    this.#bytes = sealEntry(this.toJSON(), path);
    Object.freeze(this);
  }

  toJSON(): TallyJSON {
    return {
      type: this.type,
      v: this.v,
      poll_id: this.poll_id,
      tree_size: this.tree_size,
      root: toBase64(this.root),
      counts: { ...this.counts },
      ballots_counted: this.ballots_counted,
      ballots_rejected: this.ballots_rejected,
    };
  }

  static fromJSON(json: unknown, path = 'tally'): Tally {
    const o = header(json, path, 'tally', TALLY_FIELDS);
    return new Tally(
      {
        poll_id: o['poll_id'] as string,
        tree_size: o['tree_size'] as number,
        root: fromBase64(o['root'], `${path}.root`, HASH_SIZE),
        counts: o['counts'] as Record<string, number>,
        ballots_counted: o['ballots_counted'] as number,
        ballots_rejected: o['ballots_rejected'] as number,
      },
      path,
    );
  }

  serialize(): Uint8Array {
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array, path = 'tally'): Tally {
    return fromEntryBytes(bytes, path, Tally.fromJSON);
  }
}

// ---------------------------------------------------------------------------------------------
// The closed union

/** Every v1 entry. Switch on `entry.type`; there is no other kind. */
export type Entry = Poll | Ballot | Close | Tally;

const FROM_JSON: { readonly [T in EntryType]: (json: unknown, path: string) => Entry } = {
  poll: Poll.fromJSON,
  ballot: Ballot.fromJSON,
  close: Close.fromJSON,
  tally: Tally.fromJSON,
};

/**
 * Parses one board entry: canonical JSON, then dispatch on `type` (MUST be one of the four v1
 * types) and `v` (MUST be 1). Throws FormatError naming the field; never returns a partial or
 * unknown entry.
 */
export function parseEntry(bytes: Uint8Array, path = 'entry'): Entry {
  return fromEntryBytes(bytes, path, (json) => {
    if (!isRecord(json)) throw new FormatError(`${path}: expected a JSON object`);
    const type = json['type'];
    if (type === undefined) throw new FormatError(`${path}: missing field "type"`);
    if (typeof type !== 'string' || !(ENTRY_TYPES as readonly string[]).includes(type)) {
      throw new FormatError(`${path}.type: unknown entry type ${describe(type)} (v1 has ${ENTRY_TYPES.join(', ')})`);
    }
    checkVersion(json['v'], `${type}.v`);
    return FROM_JSON[type as EntryType](json, type);
  });
}
