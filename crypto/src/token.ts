/**
 * Voting tokens: RFC 9474 RSA blind signatures, suite RSABSSA-SHA384-PSS-Randomized
 * (RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48; Prepare adds a 32-byte random prefix).
 *
 * Flow (RFC 9474 §4; the roles are the RFC's client and server, here the voter and the issuer):
 *
 *   client                                            issuer (`blindsign-node.ts`)
 *   nonce ← 32 random bytes
 *   msg = "blindvote/token/v1" 0x00 poll_id 0x00 nonce
 *   prepare: prefix ← 32 random bytes, input = prefix || msg                    (§4.1)
 *   blind(pk, input) → blinded_msg, inv; SAVE the BlindingState                  (§4.2)
 *     (`TokenClient.blind()` does both; nonce and prefix never come from outside)
 *                      ── blinded_msg ──▶ BlindSign(sk, blinded_msg) → blind_sig (§4.3)
 *   finalize(pk, input, blind_sig, inv) → sig   ◀── blind_sig ──                 (§4.4)
 *   token = {nonce, prefix, sig}; token id = SHA-256(prefix || msg)
 *   … ballot cast, receipt verified → DELETE the BlindingState
 *
 * Threats and contracts:
 * - `inv` unblinds: whoever holds it together with the issuer's view links the voter to the
 *   token. A BlindingState MUST stay on the voter's device (it is serialisable so a browser can
 *   persist it BEFORE sending blinded_msg: after a reload, re-sending the same blinded_msg gets
 *   the same blind signature, RFC 9474 signing being deterministic, and the saved inv finishes).
 * - The key MUST be the poll's key as published on its board (key consistency: a per-voter key
 *   would tag the voter). One parser, `parseTokenKeySpki`, decides which keys exist, before any
 *   platform sees them, so every platform accepts exactly the same keys: exact DER, rsaEncryption,
 *   2048..8192 bits, e = 65537 (e = 1 would make every token forgeable).
 * - poll_id matches `[a-z0-9][a-z0-9-]{0,63}`, so it contains no 0x00 and the message encoding
 *   is injective: one (poll, nonce) pair, one message, and a token is bound to its poll.
 * - Malformed input (wrong lengths, bad poll id) throws FormatError at once; a well-formed token
 *   whose signature is wrong verifies as `false`.
 */
import { BlindRSA, RSABSSA } from '@cloudflare/blindrsa-ts';
import { randomBytes, sha256, importRsaPssSha384PublicKey } from '#platform';
import type { RsaPssPublicKey } from './platform/types.ts';
import { FormatError, abytes, concatBytes, equalBytes, fromBase64, toBase64, utf8 } from './bytes.ts';
import { asRecord, describe } from './validate.ts';

export const TOKEN_SUITE = 'RSABSSA-SHA384-PSS-Randomized';
export const NONCE_LENGTH = 32;
/** Length of the Randomized suite's message prefix (RFC 9474 §4.1). */
export const PREFIX_LENGTH = 32;
/** RSASSA-PSS salt length of the suite (= SHA-384 output length). */
export const SALT_LENGTH = 48;
export const MIN_MODULUS_BITS = 2048;
export const MAX_MODULUS_BITS = 8192;
/** RSASSA-PSS signature (= modulus) length bounds in bytes. */
export const MIN_SIG_LENGTH = MIN_MODULUS_BITS / 8;
export const MAX_SIG_LENGTH = MAX_MODULUS_BITS / 8;
export const POLL_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

const DOMAIN = utf8('blindvote/token/v1');
const ZERO = Uint8Array.of(0);

/** Returns `pollId` if it is a string matching POLL_ID_PATTERN, else throws FormatError naming `path`. */
export function checkPollId(pollId: unknown, path = 'poll_id'): string {
  if (typeof pollId !== 'string') throw new FormatError(`${path}: expected a string, got ${describe(pollId)}`);
  if (!POLL_ID_PATTERN.test(pollId)) throw new FormatError(`${path}: ${describe(pollId)} does not match [a-z0-9][a-z0-9-]{0,63}`);
  return pollId;
}

/** RFC 9474 `msg` of a token: "blindvote/token/v1" 0x00 poll_id 0x00 nonce. */
export function tokenMessage(pollId: string, nonce: Uint8Array): Uint8Array {
  checkPollId(pollId);
  abytes(nonce, NONCE_LENGTH, 'nonce');
  return concatBytes(DOMAIN, ZERO, utf8(pollId), ZERO, nonce);
}

/** The spent-set key: SHA-256(prefix || msg), i.e. the hash of exactly what was signed. */
export function tokenId(prefix: Uint8Array, msg: Uint8Array): Uint8Array {
  abytes(prefix, PREFIX_LENGTH, 'prefix');
  abytes(msg, undefined, 'msg');
  return sha256(prefix, msg);
}

/** Token id of a token presented for `pollId`. */
export function tokenIdFor(pollId: string, token: TokenFields): Uint8Array {
  return tokenId(token.prefix, tokenMessage(pollId, token.nonce));
}

// ---------------------------------------------------------------------------------------------
// Keys

// A token key is a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of an RSA key (RFC 8017 A.1.1):
//
//   SubjectPublicKeyInfo ::= SEQUENCE {
//     algorithm         AlgorithmIdentifier,   -- rsaEncryption, parameters NULL (exact bytes)
//     subjectPublicKey  BIT STRING }           -- 0 unused bits, contents: RSAPublicKey
//   RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }

// AlgorithmIdentifier { rsaEncryption 1.2.840.113549.1.1.1, NULL } (RFC 8017 Appendix C): the one
// form that WebCrypto, Node and blindrsa-ts all import alike (Node would also take id-RSASSA-PSS).
const RSA_ENCRYPTION_ALG_ID = Uint8Array.of(
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
);
/** The one public exponent accepted, 65537, as a minimal DER INTEGER's content. */
const E_65537 = Uint8Array.of(0x01, 0x00, 0x01);

/** A parsed token key: what every platform agrees the key is. */
export interface TokenKeyInfo {
  /** n, big-endian, no leading zero byte: exactly `modulusLength` bytes. */
  readonly modulus: Uint8Array;
  readonly modulusBits: number;
  /** modulus_len in bytes: the size of blinded_msg, blind_sig, inv and sig (RFC 9474 §4). */
  readonly modulusLength: number;
}

/**
 * Reads one DER TLV of `tag` at `pos` that MUST end by `limit`: definite lengths in their minimal
 * form only (X.690 §10.1), at most two length bytes (an 8192-bit key's SPKI is ~1.1 KB).
 */
function derTlv(buf: Uint8Array, pos: number, limit: number, tag: number, fail: (why: string) => never): { start: number; end: number } {
  if (pos >= limit || buf[pos] !== tag) fail(`expected tag 0x${tag.toString(16).padStart(2, '0')}`);
  const l0 = pos + 1 < limit ? buf[pos + 1]! : fail('truncated');
  let len: number;
  let start: number;
  if (l0 < 0x80) {
    len = l0;
    start = pos + 2;
  } else if (l0 === 0x81 && pos + 2 < limit) {
    len = buf[pos + 2]!;
    if (len < 0x80) fail('non-minimal length');
    start = pos + 3;
  } else if (l0 === 0x82 && pos + 3 < limit) {
    len = (buf[pos + 2]! << 8) | buf[pos + 3]!;
    if (len < 0x100) fail('non-minimal length');
    start = pos + 4;
  } else {
    return fail(l0 === 0x81 || l0 === 0x82 ? 'truncated' : 'unsupported length');
  }
  if (start + len > limit) fail('truncated');
  return { start, end: start + len };
}

/** A positive, minimally encoded DER INTEGER → its magnitude (no leading zero byte). */
function derPositiveInteger(buf: Uint8Array, pos: number, limit: number, fail: (why: string) => never): { value: Uint8Array; end: number } {
  const { start, end } = derTlv(buf, pos, limit, 0x02, fail);
  let v = buf.subarray(start, end);
  if (v.length === 0) fail('empty INTEGER');
  if (v[0]! & 0x80) fail('negative');
  if (v[0] === 0) {
    if (v.length === 1) fail('zero');
    if (!(v[1]! & 0x80)) fail('non-minimal INTEGER');
    v = v.subarray(1);
  }
  return { value: v, end };
}

/**
 * The one parser of token keys (poll manifests, TokenVerifier, TokenClient, the issuer). Accepts
 * exactly: a DER SubjectPublicKeyInfo with nothing after it, algorithm rsaEncryption with NULL
 * parameters, a modulus of 2048..8192 bits that is odd and fills whole bytes (top bit set, as
 * `generateTokenKey` makes them), and public exponent 65537. Anything else is a FormatError naming
 * `path`. A fixed e refuses e = 1 (every signature forgeable), even e (not a permutation: tokens
 * could not be finalized) and huge e (slow verification), on every platform alike.
 */
export function parseTokenKeySpki(input: unknown, path = 'token key'): TokenKeyInfo {
  const spki = abytes(input, undefined, path);
  const at = (what: string) => (why: string): never => {
    throw new FormatError(`${path}: not a DER RSA SubjectPublicKeyInfo (${what}: ${why})`);
  };
  const outer = derTlv(spki, 0, spki.length, 0x30, at('SubjectPublicKeyInfo'));
  if (outer.end !== spki.length) throw new FormatError(`${path}: trailing bytes after the SubjectPublicKeyInfo`);
  const algEnd = outer.start + RSA_ENCRYPTION_ALG_ID.length;
  if (algEnd > outer.end || !equalBytes(spki.subarray(outer.start, algEnd), RSA_ENCRYPTION_ALG_ID)) {
    throw new FormatError(`${path}: algorithm MUST be rsaEncryption with NULL parameters`);
  }
  const bits = derTlv(spki, algEnd, outer.end, 0x03, at('subjectPublicKey'));
  if (bits.end !== outer.end) throw new FormatError(`${path}: trailing bytes in the SubjectPublicKeyInfo`);
  if (bits.start === bits.end || spki[bits.start] !== 0) throw new FormatError(`${path}: subjectPublicKey MUST have 0 unused bits`);
  const rsa = derTlv(spki, bits.start + 1, bits.end, 0x30, at('RSAPublicKey'));
  if (rsa.end !== bits.end) throw new FormatError(`${path}: trailing bytes after the RSAPublicKey`);
  const n = derPositiveInteger(spki, rsa.start, rsa.end, at('modulus'));
  const e = derPositiveInteger(spki, n.end, rsa.end, at('publicExponent'));
  if (e.end !== rsa.end) throw new FormatError(`${path}: trailing bytes in the RSAPublicKey`);
  const modulusBits = n.value.length * 8 - (Math.clz32(n.value[0]!) - 24);
  if (modulusBits < MIN_MODULUS_BITS || modulusBits > MAX_MODULUS_BITS) {
    throw new FormatError(`${path}: RSA modulus of ${modulusBits} bits, expected ${MIN_MODULUS_BITS}..${MAX_MODULUS_BITS}`);
  }
  if (modulusBits % 8 !== 0) throw new FormatError(`${path}: RSA modulus of ${modulusBits} bits; its length MUST be a whole number of bytes`);
  if (!(n.value[n.value.length - 1]! & 1)) throw new FormatError(`${path}: RSA modulus is even`);
  if (!equalBytes(e.value, E_65537)) throw new FormatError(`${path}: RSA public exponent MUST be 65537`);
  return { modulus: new Uint8Array(n.value), modulusBits, modulusLength: n.value.length };
}

async function importVerifyKey(spki: Uint8Array): Promise<{ info: TokenKeyInfo; key: RsaPssPublicKey }> {
  const info = parseTokenKeySpki(spki);
  let key: RsaPssPublicKey;
  try {
    key = await importRsaPssSha384PublicKey(spki, SALT_LENGTH);
  } catch (cause) {
    throw new FormatError('token key: not a valid RSA SubjectPublicKeyInfo', { cause });
  }
  if (key.modulusBits !== info.modulusBits) {
    throw new FormatError(`token key: the platform reads a ${key.modulusBits}-bit modulus, the SPKI has ${info.modulusBits} bits`);
  }
  return { info, key };
}

// ---------------------------------------------------------------------------------------------
// Wire and storage objects

/** The three values a ballot carries (`"token":{"nonce","prefix","sig"}`, base64 in JSON). */
export interface TokenFields {
  readonly nonce: Uint8Array;
  readonly prefix: Uint8Array;
  readonly sig: Uint8Array;
}

export interface TokenJSON {
  nonce: string;
  prefix: string;
  sig: string;
}

/**
 * struct { opaque nonce[32]; opaque prefix[32]; opaque sig[modulus_len]; } as JSON base64.
 * The constructor checks the sizes it can without the key; `TokenVerifier` checks sig's length
 * against the poll key's modulus.
 */
export class Token implements TokenFields {
  readonly nonce: Uint8Array;
  readonly prefix: Uint8Array;
  readonly sig: Uint8Array;

  constructor(fields: TokenFields) {
    this.nonce = abytes(fields.nonce, NONCE_LENGTH, 'token.nonce');
    this.prefix = abytes(fields.prefix, PREFIX_LENGTH, 'token.prefix');
    this.sig = abytes(fields.sig, undefined, 'token.sig');
    if (this.sig.length < MIN_SIG_LENGTH || this.sig.length > MAX_SIG_LENGTH) {
      throw new FormatError(`token.sig: ${this.sig.length} bytes, expected ${MIN_SIG_LENGTH}..${MAX_SIG_LENGTH}`);
    }
  }

  toJSON(): TokenJSON {
    return { nonce: toBase64(this.nonce), prefix: toBase64(this.prefix), sig: toBase64(this.sig) };
  }

  static fromJSON(json: unknown): Token {
    const o = asRecord(json, 'token');
    return new Token({
      nonce: fromBase64(o['nonce'], 'token.nonce', NONCE_LENGTH),
      prefix: fromBase64(o['prefix'], 'token.prefix', PREFIX_LENGTH),
      sig: fromBase64(o['sig'], 'token.sig'),
    });
  }
}

export interface BlindingStateJSON {
  nonce: string;
  prefix: string;
  inv: string;
  blindedMsg: string;
}

/**
 * What a client MUST keep between Blind and Finalize (RFC 9474 §4.2 outputs plus the prepared
 * message's parts). Secret: `inv` links blinded_msg (which the issuer saw with the voter's
 * identity) to the final token (which the board publishes). It MUST stay on the voter's device
 * and MUST be deleted, with every persisted copy, once the ballot's receipt has been verified:
 * from then on it is only a way to de-anonymise the ballot. JSON keys are the field names,
 * values base64.
 */
export class BlindingState {
  readonly nonce: Uint8Array;
  readonly prefix: Uint8Array;
  readonly inv: Uint8Array;
  readonly blindedMsg: Uint8Array;

  constructor(fields: { nonce: Uint8Array; prefix: Uint8Array; inv: Uint8Array; blindedMsg: Uint8Array }) {
    this.nonce = abytes(fields.nonce, NONCE_LENGTH, 'blinding.nonce');
    this.prefix = abytes(fields.prefix, PREFIX_LENGTH, 'blinding.prefix');
    this.blindedMsg = abytes(fields.blindedMsg, undefined, 'blinding.blindedMsg');
    if (this.blindedMsg.length < MIN_SIG_LENGTH || this.blindedMsg.length > MAX_SIG_LENGTH) {
      throw new FormatError(`blinding.blindedMsg: ${this.blindedMsg.length} bytes, not a supported modulus length`);
    }
    this.inv = abytes(fields.inv, this.blindedMsg.length, 'blinding.inv');
  }

  toJSON(): BlindingStateJSON {
    return {
      nonce: toBase64(this.nonce),
      prefix: toBase64(this.prefix),
      inv: toBase64(this.inv),
      blindedMsg: toBase64(this.blindedMsg),
    };
  }

  static fromJSON(json: unknown): BlindingState {
    const o = asRecord(json, 'blinding state');
    return new BlindingState({
      nonce: fromBase64(o['nonce'], 'blinding.nonce', NONCE_LENGTH),
      prefix: fromBase64(o['prefix'], 'blinding.prefix', PREFIX_LENGTH),
      inv: fromBase64(o['inv'], 'blinding.inv'),
      blindedMsg: fromBase64(o['blindedMsg'], 'blinding.blindedMsg'),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Client (voter)

export class TokenFinalizeError extends Error {
  override name = 'TokenFinalizeError';
}

/** The RFC 9474 client for one poll key: Prepare, Blind, Finalize. */
export class TokenClient {
  readonly pollId: string;
  /** modulus_len in bytes: the size of blinded_msg, blind_sig, inv and sig. */
  readonly modulusLength: number;
  readonly #suite: BlindRSA;
  readonly #cryptoKey: CryptoKey;
  readonly #verifier: TokenVerifier;

  private constructor(pollId: string, cryptoKey: CryptoKey, verifier: TokenVerifier) {
    this.pollId = pollId;
    this.modulusLength = verifier.modulusLength;
    this.#suite = RSABSSA.SHA384.PSS.Randomized();
    this.#cryptoKey = cryptoKey;
    this.#verifier = verifier;
  }

  /** `publicKeySpki`: the poll manifest's `token_key.spki` (DER). */
  static async create(publicKeySpki: Uint8Array, pollId: string): Promise<TokenClient> {
    checkPollId(pollId);
    const verifier = await TokenVerifier.create(publicKeySpki);
    // blindrsa-ts reads n and e through a JWK export, so this key is extractable (it is public).
    const cryptoKey = await globalThis.crypto.subtle.importKey(
      'spki',
      Uint8Array.from(publicKeySpki),
      { name: 'RSA-PSS', hash: 'SHA-384' },
      true,
      ['verify'],
    );
    return new TokenClient(pollId, cryptoKey, verifier);
  }

  /**
   * RFC 9474 §4.1 Prepare (Randomized suite) and §4.2 Blind, for a fresh token: nonce and prefix
   * are drawn here from the platform CSPRNG, never taken from a caller (a chosen nonce or prefix
   * could be remembered by whoever chose it and link the token to the voter). Persist the result
   * (`toJSON()`) BEFORE sending `blindedMsg`.
   */
  async blind(): Promise<BlindingState> {
    return this.#blind(randomBytes(NONCE_LENGTH), randomBytes(PREFIX_LENGTH));
  }

  /**
   * TEST HOOK, not for production: `blind()` with a chosen nonce and prefix, for known-answer and
   * property tests. Production code MUST call `blind()`.
   */
  async blindWithChosenNonceForTests(nonce: Uint8Array, prefix: Uint8Array): Promise<BlindingState> {
    return this.#blind(Uint8Array.from(abytes(nonce, NONCE_LENGTH, 'nonce')), Uint8Array.from(abytes(prefix, PREFIX_LENGTH, 'prefix')));
  }

  async #blind(nonce: Uint8Array, prefix: Uint8Array): Promise<BlindingState> {
    const input = concatBytes(prefix, tokenMessage(this.pollId, nonce));
    const { blindedMsg, inv } = await this.#suite.blind(this.#cryptoKey, input);
    return new BlindingState({ nonce, prefix, inv, blindedMsg });
  }

  /**
   * RFC 9474 §4.4 Finalize: unblinds and verifies. Throws TokenFinalizeError when the issuer's
   * answer does not yield a valid signature under the poll key (wrong key or a bad server).
   */
  async finalize(state: BlindingState, blindSig: Uint8Array): Promise<Token> {
    abytes(blindSig, this.modulusLength, 'blind_sig');
    abytes(state.inv, this.modulusLength, 'blinding.inv');
    const input = concatBytes(abytes(state.prefix, PREFIX_LENGTH, 'prefix'), tokenMessage(this.pollId, state.nonce));
    let sig: Uint8Array;
    try {
      sig = await this.#suite.finalize(this.#cryptoKey, input, blindSig, state.inv);
    } catch (cause) {
      throw new TokenFinalizeError('finalize: the blind signature does not give a valid signature under the poll key', { cause });
    }
    const token = new Token({ nonce: state.nonce, prefix: state.prefix, sig });
    // Belt and braces: the token must pass exactly the check the ballot box will run.
    if (!(await this.#verifier.verify(this.pollId, token))) throw new TokenFinalizeError('finalize: token does not verify');
    return token;
  }
}

// ---------------------------------------------------------------------------------------------
// Verifier (ballot box, tallier, verifier CLI)

export interface TokenVerifierOptions {
  /**
   * Verify on the platform's thread pool (Node: libuv's, UV_THREADPOOL_SIZE threads) rather than
   * the calling thread: for a caller with thousands to check and other work meanwhile (the audit).
   * A server verifying one token per request keeps the default: the hand-off costs more there.
   */
  readonly offThread?: boolean;
}

/** Verifies tokens under one poll key; the key is parsed and imported once. */
export class TokenVerifier {
  readonly modulusLength: number;
  readonly #key: RsaPssPublicKey;
  readonly #offThread: boolean;

  private constructor(imported: { info: TokenKeyInfo; key: RsaPssPublicKey }, options: TokenVerifierOptions) {
    this.#key = imported.key;
    this.modulusLength = imported.info.modulusLength;
    this.#offThread = options.offThread ?? false;
  }

  /** `publicKeySpki`: DER SubjectPublicKeyInfo, as `parseTokenKeySpki` accepts it. */
  static async create(publicKeySpki: Uint8Array, options: TokenVerifierOptions = {}): Promise<TokenVerifier> {
    return new TokenVerifier(await importVerifyKey(publicKeySpki), options);
  }

  /** The verifier of a poll manifest's `token_key` (an `entries.ts` Poll, or anything shaped so). */
  static async fromPoll(poll: { readonly token_key: { readonly spki: Uint8Array } }, options: TokenVerifierOptions = {}): Promise<TokenVerifier> {
    if (typeof poll !== 'object' || poll === null || typeof poll.token_key !== 'object' || poll.token_key === null) {
      throw new FormatError('TokenVerifier.fromPoll: expected a poll manifest');
    }
    return TokenVerifier.create(poll.token_key.spki, options);
  }

  /**
   * RSASSA-PSS-VERIFY(pk, prefix || tokenMessage(pollId, nonce), sig). Throws FormatError on a
   * malformed poll id or token (sizes); resolves false on a well-formed token that does not verify.
   */
  async verify(pollId: string, token: TokenFields): Promise<boolean> {
    const msg = tokenMessage(pollId, token.nonce);
    abytes(token.prefix, PREFIX_LENGTH, 'token.prefix');
    abytes(token.sig, this.modulusLength, 'token.sig');
    return this.#key.verify(concatBytes(token.prefix, msg), token.sig, this.#offThread);
  }
}

/** One-shot `TokenVerifier` (imports the key every call: use a TokenVerifier on hot paths). */
export async function verifyToken(publicKeySpki: Uint8Array, pollId: string, token: TokenFields): Promise<boolean> {
  const verifier = await TokenVerifier.create(publicKeySpki);
  return verifier.verify(pollId, token);
}
