/**
 * C2SP signed notes with Ed25519 keys: https://c2sp.org/signed-note (v1.0.0), compatible with
 * golang.org/x/mod/sumdb/note, whose behaviour decides every point the spec leaves open.
 *
 * Wire format (§Format, §Signatures):
 *
 *     <text, ending in U+000A>            ← the signed message, bytes exactly as sent
 *     <empty line>                        ← the LAST "\n\n" in the note separates text and block
 *     — <key name> base64(key ID[4] || Ed25519 signature[64])\n   (1..100 lines, U+2014 then U+0020)
 *
 *     key ID        = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
 *     verifier key  = <name>+<hex8 key ID>+base64(0x01 || public key)
 *     signer key    = PRIVATE+KEY+<name>+<hex8 key ID>+base64(0x01 || 32-byte seed)
 *
 * Flow: a log makes a `NoteSigner` from its signer key and calls `signNote(text, [signer])`;
 * witnesses append theirs with `addSignatures`. A client calls `openNote(note, trusted keys)` and
 * MUST use nothing but the returned `text`, and only after it returned.
 *
 * Threats and the rules that answer them:
 * - Forged or altered notes: a signature by a trusted (name, key ID) that fails to verify rejects
 *   the whole note (§Signatures SHOULD, taken as MUST); a note with no verifying trusted signature
 *   is rejected (MUST). Ed25519 is verified strictly, so that every verifier agrees (below).
 * - Disowned or verifier-dependent signatures: RFC 8032 §5.1.7 allows a cofactored check
 *   ([8][S]B = [8]R + [8][k]A, noble) or a cofactorless one ([S]B = R + [k]A: OpenSSL, Go
 *   crypto/ed25519); the two disagree when A or R has a small-order component. So verifier keys
 *   MUST be torsion-free and not small order (refused when the key is parsed), and a signature's
 *   R MUST be torsion-free and not small order, its encodings canonical and S < L. Under those
 *   rules both equations accept exactly the same signatures, so a signature accepted here is
 *   accepted by every strict RFC 8032 verifier and its signer cannot disown it. The platform
 *   verifies: OpenSSL's cofactorless check on Node, noble's cofactored one in browsers
 *   (platform/types.ts Ed25519Verifier; their verdicts compared in platform.test.ts).
 * - Key confusion: lookup is by the (name, key ID) pair; a signature that matches only one of the
 *   two is an unknown key and is ignored, never checked against the "near" key (§Signatures).
 *   Two trusted keys with the same pair make that pair ambiguous and any note using it is refused.
 * - Malleable encodings: base64 must be canonical and padded, key IDs lowercase hex, names free of
 *   Unicode spaces and '+', so every key and note has exactly one spelling.
 * - Resource exhaustion: at most MAX_NOTE_SIZE (16 KiB) per note, checked before anything is
 *   decoded, and at most 100 signature lines (as upstream), counted before duplicates are dropped.
 * - Smuggled text: notes MUST be valid UTF-8 with no ASCII control character except newline, so
 *   what a human or a terminal sees is what was signed.
 */
import { ed25519Signer, ed25519Verifier, randomBytes, sha256 } from '#platform';
import type { Ed25519Verifier } from '#platform';
import { primeOrderPoint } from './platform/ed25519-points.ts';
import type { Ed25519Signer } from './platform/types.ts';
import { FormatError, abytes, concatBytes, equalBytes, fromBase64, fromHex, fromUtf8, toBase64, toHex, utf8 } from './bytes.ts';
import { C0_CONTROL, LONE_SURROGATE, NOTE_CONTROL, checkTextSize } from './validate.ts';

/** Signature type byte for Ed25519 (c2sp.org/signed-note §Signature types). The only one accepted. */
export const SIGNATURE_TYPE_ED25519 = 0x01;
/** Upstream's cap on signature lines (golang.org/x/mod/sumdb/note); the spec requires at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
/**
 * Largest note (text and signatures, UTF-8 bytes) parsed or produced: checked before any parsing.
 * A blindvote checkpoint with 100 cosignatures is ~12 KiB.
 */
export const MAX_NOTE_SIZE = 16 * 1024;

const SIG_PREFIX = '\u2014 '; // em dash, space
const SIGNER_PREFIX = 'PRIVATE+KEY+';
// Go's unicode.IsSpace is exactly the Unicode White_Space property.
const NAME_FORBIDDEN = /[\p{White_Space}+]/u;
const HEX8 = /^[0-9a-f]{8}$/;

/** Thrown when a well-formed note fails verification against the caller's trusted keys. */
export class NoteVerificationError extends Error {
  override name = 'NoteVerificationError';
  /**
   * - `unverified`: no signature by a trusted key (the note MUST be rejected, §Signatures);
   * - `invalid-signature`: a trusted key's signature does not verify;
   * - `ambiguous-key`: two trusted keys share the (name, key ID) a signature names.
   */
  readonly code: 'unverified' | 'invalid-signature' | 'ambiguous-key';
  /** `<name>+<hex8 key ID>` of the offending signature (not for `unverified`). */
  readonly key: string | undefined;
  /** For `unverified`: the well-formed signatures that were present, all by unknown keys. */
  readonly unverified: readonly NoteSignature[];

  constructor(code: NoteVerificationError['code'], message: string, key?: string, unverified: readonly NoteSignature[] = []) {
    super(message);
    this.code = code;
    this.key = key;
    this.unverified = unverified;
  }
}

// ───────────────────────────── names and key IDs ─────────────────────────────

/**
 * Key names MUST be non-empty and contain no Unicode space and no '+' (§Format); C0 controls are
 * refused too, because a name that cannot appear in a note is useless.
 */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !LONE_SURROGATE.test(name) && !NAME_FORBIDDEN.test(name) && !C0_CONTROL.test(name);
}

function checkName(name: unknown, what: string): string {
  if (!isValidKeyName(name)) {
    throw new FormatError(`${what}: key name must be non-empty UTF-8 without spaces, '+' or control characters`);
  }
  return name;
}

/** SHA-256(name || 0x0A || 0x01 || publicKey)[:4] (§Ed25519 signatures). */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  checkName(name, 'key ID');
  abytes(publicKey, 32, 'key ID: Ed25519 public key');
  return sha256(utf8(name), Uint8Array.of(0x0a, SIGNATURE_TYPE_ED25519), publicKey).slice(0, 4);
}

/**
 * Verifier keys MUST be canonical points of the prime-order subgroup: small-order keys are refused
 * by strict verification, and mixed-order keys (prime-order part plus a small-order component)
 * make cofactored and cofactorless verifiers disagree.
 */
function checkPublicKey(publicKey: Uint8Array, what: string): void {
  abytes(publicKey, 32, what);
  const kind = primeOrderPoint(publicKey);
  if (kind === 'invalid') throw new FormatError(`${what}: not a valid Ed25519 point`);
  if (kind === 'small-order') throw new FormatError(`${what}: small-order Ed25519 point`);
  if (kind === 'mixed-order') throw new FormatError(`${what}: Ed25519 point with a small-order component (not in the prime-order subgroup)`);
}

/** `<name>+<hex8 key ID>`: how errors and logs name a key, and what signatures are matched on. */
function pairId(name: string, keyId: Uint8Array): string {
  return `${name}+${toHex(keyId)}`;
}

/** `<name>+<hex8 key ID>+<base64(0x01 || key)>`: the inverse of `splitKey`. */
function joinKey(name: string, keyId: Uint8Array, key: Uint8Array): string {
  return `${pairId(name, keyId)}+${toBase64(concatBytes(Uint8Array.of(SIGNATURE_TYPE_ED25519), key))}`;
}

/** Splits `<name>+<hex8>+<base64>` on the first two '+' only: base64 may contain '+'. */
function splitKey(text: string, what: string): { name: string; keyId: Uint8Array; key: Uint8Array } {
  const a = text.indexOf('+');
  const b = a < 0 ? -1 : text.indexOf('+', a + 1);
  if (b < 0) throw new FormatError(`${what}: expected <name>+<key ID>+<key>`);
  const name = checkName(text.slice(0, a), what);
  const hex = text.slice(a + 1, b);
  if (!HEX8.test(hex)) throw new FormatError(`${what}: key ID must be 8 lowercase hex digits`);
  const key = fromBase64(text.slice(b + 1), `${what}: key`);
  if (key.length === 0 || key[0] !== SIGNATURE_TYPE_ED25519) {
    throw new FormatError(`${what}: unsupported signature type (only 0x01 Ed25519)`);
  }
  if (key.length !== 33) throw new FormatError(`${what}: Ed25519 key must be 32 bytes, got ${key.length - 1}`);
  return { name, keyId: fromHex(hex), key: key.slice(1) };
}

// ───────────────────────────── verifier keys ─────────────────────────────

/**
 * A trusted public key: `<name>+<hex8 key ID>+<base64(0x01 || Ed25519 public key)>`.
 * Constructing one validates everything (name rules, key ID = derived ID, type, point), so a
 * malformed verifier key cannot exist.
 */
export class VerifierKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The canonical string; parsing it again gives this key. */
  readonly text: string;
  #verifier: Ed25519Verifier | undefined;

  constructor(text: string) {
    if (typeof text !== 'string') throw new FormatError('verifier key: expected a string');
    const { name, keyId, key } = splitKey(text, 'verifier key');
    checkPublicKey(key, 'verifier key');
    if (!equalBytes(keyId, noteKeyId(name, key))) {
      throw new FormatError('verifier key: key ID does not match the name and public key');
    }
    this.name = name;
    this.keyId = keyId;
    this.publicKey = key;
    this.text = text;
  }

  /** `<name>+<hex8 key ID>`: how errors and logs name a key. */
  get id(): string {
    return pairId(this.name, this.keyId);
  }

  /**
   * Strict RFC 8032 Ed25519 verification of `signature` over the exact `message` bytes: S < L,
   * R canonical, in the prime-order subgroup and not the identity (the platform's Ed25519Verifier;
   * A was checked at construction), so cofactored and cofactorless verifiers agree.
   */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    abytes(message, undefined, 'message');
    abytes(signature, undefined, 'signature');
    if (signature.length !== 64) return false;
    this.#verifier ??= ed25519Verifier(this.publicKey);
    return this.#verifier.verify(message, signature);
  }

  toString(): string {
    return this.text;
  }
}

export function parseVerifierKey(text: string): VerifierKey {
  return new VerifierKey(text);
}

export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name, 'verifier key');
  checkPublicKey(publicKey, 'verifier key: Ed25519 public key');
  return joinKey(name, noteKeyId(name, publicKey), publicKey);
}

// ───────────────────────────── signer keys ─────────────────────────────

/** A parsed `PRIVATE+KEY+…` string. `seed` is the secret: MUST NOT be logged or sent anywhere. */
export interface SignerKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The matching public verifier key string. */
  readonly verifierKey: string;
  readonly text: string;
}

/** Parses `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 || seed)>`; the key ID MUST match the derived key. */
export function parseSignerKey(text: string): SignerKey {
  if (typeof text !== 'string') throw new FormatError('signer key: expected a string');
  if (!text.startsWith(SIGNER_PREFIX)) throw new FormatError(`signer key: must start with ${SIGNER_PREFIX}`);
  const { name, keyId, key: seed } = splitKey(text.slice(SIGNER_PREFIX.length), 'signer key');
  const { publicKey } = ed25519Signer(seed);
  if (!equalBytes(keyId, noteKeyId(name, publicKey))) {
    throw new FormatError('signer key: key ID does not match the name and derived public key');
  }
  return { name, keyId, seed, publicKey, verifierKey: formatVerifierKey(name, publicKey), text };
}

export function formatSignerKey(name: string, seed: Uint8Array): string {
  checkName(name, 'signer key');
  abytes(seed, 32, 'signer key: Ed25519 seed');
  return SIGNER_PREFIX + joinKey(name, noteKeyId(name, ed25519Signer(seed).publicKey), seed);
}

/** A fresh Ed25519 key pair for `name`: keep `signerKey` secret, publish `verifierKey`. */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  const signerKey = formatSignerKey(name, randomBytes(32));
  return { signerKey, verifierKey: parseSignerKey(signerKey).verifierKey };
}

/** Signs note texts with one signer key. The seed stays inside; only the signatures come out. */
export class NoteSigner {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly verifierKey: string;
  readonly #signer: Ed25519Signer;

  constructor(key: string | SignerKey) {
    // Re-parse the text even for a parsed key, so an inconsistent object cannot sign.
    const parsed = parseSignerKey(typeof key === 'string' ? key : key.text);
    this.name = parsed.name;
    this.keyId = parsed.keyId;
    this.publicKey = parsed.publicKey;
    this.verifierKey = parsed.verifierKey;
    this.#signer = ed25519Signer(parsed.seed);
  }

  /** `<name>+<hex8 key ID>`. */
  get id(): string {
    return pairId(this.name, this.keyId);
  }

  /** RFC 8032 Ed25519 over the exact bytes (a string is signed as its UTF-8). 64 bytes. */
  sign(message: string | Uint8Array): Uint8Array {
    return this.#signer.sign(typeof message === 'string' ? utf8(message) : abytes(message, undefined, 'message'));
  }

  toString(): string {
    return `NoteSigner(${this.verifierKey})`;
  }
}

// ───────────────────────────── notes ─────────────────────────────

/** One signature line: `— <name> base64(keyId || signature)`. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, ending in a newline. Untrusted until `openNote` returned. */
  readonly text: string;
  /** Signature lines in order, exact duplicate lines dropped (as upstream). */
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote {
  readonly text: string;
  /** The trusted keys whose signature verified, in the order of their signature lines. */
  readonly verifiedBy: readonly VerifierKey[];
  /** The verified signatures, parallel to `verifiedBy`. */
  readonly signatures: readonly NoteSignature[];
  /** Signatures by keys not in the trusted list: ignored, never checked (§Signatures). */
  readonly unverified: readonly NoteSignature[];
}

/**
 * Decodes a note (or note text), at most MAX_NOTE_SIZE, and enforces §Format's character rules
 * (`checkNoteChars`).
 */
export function decodeNoteText(input: string | Uint8Array, what: string): string {
  checkTextSize(input, MAX_NOTE_SIZE, what);
  return checkNoteChars(typeof input === 'string' ? input : fromUtf8(abytes(input, undefined, what), what), what);
}

/** §Format's characters: well-formed Unicode (valid UTF-8 once encoded), no ASCII control character but newline. */
export function checkNoteChars(text: string, what: string): string {
  if (LONE_SURROGATE.test(text)) throw new FormatError(`${what}: not well-formed Unicode (lone surrogate)`);
  if (NOTE_CONTROL.test(text)) throw new FormatError(`${what}: ASCII control characters other than newline are not allowed`);
  return text;
}

function signatureLine(name: string, keyId: Uint8Array, signature: Uint8Array): string {
  return `${SIG_PREFIX}${name} ${toBase64(concatBytes(keyId, signature))}\n`;
}

/** Parses a signed note without verifying anything. Every structural rule of §Format is enforced. */
export function parseNote(note: string | Uint8Array): ParsedNote {
  const s = decodeNoteText(note, 'note');
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new FormatError('note: no empty line before the signature block');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0) throw new FormatError('note: no signature lines');
  if (!block.endsWith('\n')) throw new FormatError('note: the last signature line must end in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw new FormatError(`note: more than ${MAX_NOTE_SIGNATURES} signature lines`);
  }
  const seen = new Set<string>();
  const signatures: NoteSignature[] = [];
  for (const [i, line] of lines.entries()) {
    const what = `note: signature line ${i + 1}`;
    if (!line.startsWith(SIG_PREFIX)) throw new FormatError(`${what}: must start with an em dash (U+2014) and a space`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw new FormatError(`${what}: expected "<name> <base64>"`);
    const name = checkName(rest.slice(0, space), what);
    const raw = fromBase64(rest.slice(space + 1), what);
    if (raw.length < 5) throw new FormatError(`${what}: signature must be a 4-byte key ID and at least 1 byte`);
    // Upstream drops repeated identical lines; repeats by one trusted key are handled in openNote.
    if (seen.has(line)) continue;
    seen.add(line);
    signatures.push({ name, keyId: raw.slice(0, 4), signature: raw.slice(4) });
  }
  return { text, signatures };
}

/**
 * Parses and verifies a note against the trusted `verifiers` (golang.org/x/mod/sumdb/note `Open`):
 * - signatures by keys not in the list are ignored (returned in `unverified`);
 * - the first signature by a trusted key MUST verify, else `invalid-signature`; later signatures
 *   by the same key are dropped unchecked, as upstream;
 * - at least one trusted key MUST have signed, else `unverified`.
 * Throws FormatError for a malformed note or key, NoteVerificationError for a failed check.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly (VerifierKey | string)[]): OpenedNote {
  if (!Array.isArray(verifiers)) throw new FormatError('openNote: verifiers must be an array');
  const trusted = verifiers.map((v) => (v instanceof VerifierKey ? v : new VerifierKey(v)));
  const parsed = parseNote(note);
  const message = utf8(parsed.text);
  const seen = new Set<string>();
  const verifiedBy: VerifierKey[] = [];
  const signatures: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of parsed.signatures) {
    const id = pairId(sig.name, sig.keyId);
    const matches = trusted.filter((k) => k.name === sig.name && equalBytes(k.keyId, sig.keyId));
    const key = matches[0];
    if (key === undefined) {
      unverified.push(sig);
      continue;
    }
    if (matches.length > 1) throw new NoteVerificationError('ambiguous-key', `ambiguous key ${id}: trusted more than once`, id);
    if (seen.has(id)) continue;
    seen.add(id);
    if (!key.verify(message, sig.signature)) {
      throw new NoteVerificationError('invalid-signature', `invalid signature for key ${id}`, id);
    }
    verifiedBy.push(key);
    signatures.push(sig);
  }
  if (verifiedBy.length === 0) {
    throw new NoteVerificationError('unverified', 'note has no verifiable signatures (no signature by a trusted key)', undefined, unverified);
  }
  return { text: parsed.text, verifiedBy, signatures, unverified };
}

function checkSigners(signers: readonly NoteSigner[], what: string): void {
  if (!Array.isArray(signers) || signers.length === 0) throw new FormatError(`${what}: at least one signer is required`);
  const ids = new Set<string>();
  for (const s of signers) {
    if (!(s instanceof NoteSigner)) throw new FormatError(`${what}: signers must be NoteSigner instances`);
    if (ids.has(s.id)) throw new FormatError(`${what}: signer ${s.id} listed twice`);
    ids.add(s.id);
  }
}

function checkText(input: string | Uint8Array, what: string): string {
  const text = decodeNoteText(input, what);
  if (!text.endsWith('\n')) throw new FormatError(`${what}: note text must end in a newline`);
  return text;
}

/** Signs `text` (which MUST end in a newline) with every signer, in order; returns the note. */
export function signNote(text: string | Uint8Array, signers: readonly NoteSigner[]): string {
  const t = checkText(text, 'signNote');
  checkSigners(signers, 'signNote');
  if (signers.length > MAX_NOTE_SIGNATURES) throw new FormatError(`signNote: more than ${MAX_NOTE_SIGNATURES} signers`);
  const message = utf8(t);
  let out = `${t}\n`;
  for (const s of signers) out += signatureLine(s.name, s.keyId, s.sign(message));
  checkTextSize(out, MAX_NOTE_SIZE, 'signNote: the signed note');
  return out;
}

/**
 * Adds signatures to an existing note (a witness cosigning, or a key re-signing), as upstream
 * `Sign`: existing lines are kept in order, except those by a key that signs now, which are
 * replaced; the new lines follow. Existing signatures are NOT verified here: a cosigner MUST have
 * opened the note with the keys it trusts before vouching for its text.
 */
export function addSignatures(note: string | Uint8Array, signers: readonly NoteSigner[]): string {
  const parsed = parseNote(note);
  checkSigners(signers, 'addSignatures');
  const replaced = new Set(signers.map((s) => s.id));
  const kept = parsed.signatures.filter((s) => !replaced.has(pairId(s.name, s.keyId)));
  if (kept.length + signers.length > MAX_NOTE_SIGNATURES) {
    throw new FormatError(`addSignatures: more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  const message = utf8(parsed.text);
  let out = `${parsed.text}\n`;
  for (const s of kept) out += signatureLine(s.name, s.keyId, s.signature);
  for (const s of signers) out += signatureLine(s.name, s.keyId, s.sign(message));
  checkTextSize(out, MAX_NOTE_SIZE, 'addSignatures: the signed note');
  return out;
}
