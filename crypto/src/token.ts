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
 *                      ── blinded_msg ──▶ BlindSign(sk, blinded_msg) → blind_sig (§4.3)
 *   finalize(pk, input, blind_sig, inv) → sig   ◀── blind_sig ──                 (§4.4)
 *   token = {nonce, prefix, sig}; token id = SHA-256(prefix || msg)
 *
 * Threats and contracts:
 * - `inv` unblinds: whoever holds it together with the issuer's view links the voter to the
 *   token. A BlindingState MUST stay on the voter's device (it is serialisable so a browser can
 *   persist it BEFORE sending blinded_msg: after a reload, re-sending the same blinded_msg gets
 *   the same blind signature, RFC 9474 signing being deterministic, and the saved inv finishes).
 * - The key MUST be the poll's key as published on its board (key consistency: a per-voter key
 *   would tag the voter). Keys under 2048 or over 8192 bits, and SPKIs whose algorithm is not
 *   rsaEncryption, are refused on every platform alike.
 * - poll_id matches `[a-z0-9][a-z0-9-]{0,63}`, so it contains no 0x00 and the message encoding
 *   is injective: one (poll, nonce) pair, one message, and a token is bound to its poll.
 * - Malformed input (wrong lengths, bad poll id) throws FormatError at once; a well-formed token
 *   whose signature is wrong verifies as `false`.
 */
import { BlindRSA, RSABSSA } from '@cloudflare/blindrsa-ts';
import { randomBytes, sha256, importRsaPssSha384PublicKey } from '#platform';
import type { RsaPssPublicKey } from '#platform';
import { FormatError, abytes, concatBytes, equalBytes, fromBase64, toBase64, utf8 } from './bytes.ts';

export const TOKEN_SUITE = 'RSABSSA-SHA384-PSS-Randomized';
export const NONCE_LENGTH = 32;
/** Length of the Randomized suite's message prefix (RFC 9474 §4.1). */
export const PREFIX_LENGTH = 32;
/** RSASSA-PSS salt length of the suite (= SHA-384 output length). */
export const SALT_LENGTH = 48;
export const MIN_MODULUS_BITS = 2048;
export const MAX_MODULUS_BITS = 8192;
export const POLL_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

const DOMAIN = utf8('blindvote/token/v1');
const ZERO = Uint8Array.of(0);

/** Returns `pollId` if it matches POLL_ID_PATTERN, else throws FormatError. */
export function checkPollId(pollId: unknown): string {
  if (typeof pollId !== 'string' || !POLL_ID_PATTERN.test(pollId)) {
    throw new FormatError('poll_id: must match [a-z0-9][a-z0-9-]{0,63}');
  }
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

// DER of AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL } (RFC 8017 Appendix C).
const RSA_ENCRYPTION_ALG_ID = Uint8Array.of(
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
);

/**
 * Checks the SPKI's AlgorithmIdentifier is rsaEncryption before any platform parses it: Node
 * would also accept id-RSASSA-PSS keys and browsers would not, and every platform MUST accept the
 * same keys.
 */
function checkRsaSpki(spki: Uint8Array): void {
  abytes(spki, undefined, 'token key');
  // SEQUENCE with a long-form length (1 or 2 length bytes), then the AlgorithmIdentifier.
  let offset = -1;
  if (spki[0] === 0x30 && spki[1] === 0x81) offset = 3;
  if (spki[0] === 0x30 && spki[1] === 0x82) offset = 4;
  const algId = offset < 0 ? undefined : spki.subarray(offset, offset + RSA_ENCRYPTION_ALG_ID.length);
  if (algId === undefined || !equalBytes(algId, RSA_ENCRYPTION_ALG_ID)) {
    throw new FormatError('token key: not a DER SubjectPublicKeyInfo with algorithm rsaEncryption');
  }
}

function checkModulusBits(bits: number): void {
  if (bits < MIN_MODULUS_BITS || bits > MAX_MODULUS_BITS) {
    throw new FormatError(`token key: modulus of ${bits} bits, expected ${MIN_MODULUS_BITS}..${MAX_MODULUS_BITS}`);
  }
}

async function importVerifyKey(spki: Uint8Array): Promise<RsaPssPublicKey> {
  checkRsaSpki(spki);
  let key: RsaPssPublicKey;
  try {
    key = await importRsaPssSha384PublicKey(spki, SALT_LENGTH);
  } catch (cause) {
    throw new FormatError('token key: not a valid RSA SubjectPublicKeyInfo', { cause });
  }
  checkModulusBits(key.modulusBits);
  return key;
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

const MAX_SIG_LENGTH = MAX_MODULUS_BITS / 8;

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
    if (this.sig.length < MIN_MODULUS_BITS / 8 || this.sig.length > MAX_SIG_LENGTH) {
      throw new FormatError(`token.sig: ${this.sig.length} bytes, expected ${MIN_MODULUS_BITS / 8}..${MAX_SIG_LENGTH}`);
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
 * message's parts). Secret: `inv` links blinded_msg to the final token. JSON keys are the field
 * names, values base64.
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
    if (this.blindedMsg.length < MIN_MODULUS_BITS / 8 || this.blindedMsg.length > MAX_SIG_LENGTH) {
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

function asRecord(json: unknown, what: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(`${what}: expected an object`);
  return json as Record<string, unknown>;
}

/** Prepare's output (RFC 9474 §4.1): the input to Blind is `prefix || tokenMessage(poll, nonce)`. */
export interface PreparedToken {
  readonly nonce: Uint8Array;
  readonly prefix: Uint8Array;
  readonly input: Uint8Array;
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

  /** RFC 9474 §4.1 Prepare for the Randomized suite; `nonce` defaults to 32 fresh random bytes. */
  prepare(nonce: Uint8Array = randomBytes(NONCE_LENGTH)): PreparedToken {
    const msg = tokenMessage(this.pollId, nonce);
    const prefix = randomBytes(PREFIX_LENGTH);
    return { nonce: Uint8Array.from(nonce), prefix, input: concatBytes(prefix, msg) };
  }

  /** RFC 9474 §4.2 Blind. Persist the result (`toJSON()`) BEFORE sending `blindedMsg`. */
  async blind(prepared: PreparedToken = this.prepare()): Promise<BlindingState> {
    const input = concatBytes(abytes(prepared.prefix, PREFIX_LENGTH, 'prefix'), tokenMessage(this.pollId, prepared.nonce));
    if (!equalBytes(input, abytes(prepared.input, undefined, 'input'))) throw new FormatError('input: is not prefix || msg');
    const { blindedMsg, inv } = await this.#suite.blind(this.#cryptoKey, input);
    return new BlindingState({ nonce: prepared.nonce, prefix: prepared.prefix, inv, blindedMsg });
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

/** Verifies tokens under one poll key; the key is parsed and imported once. */
export class TokenVerifier {
  readonly modulusLength: number;
  readonly #key: RsaPssPublicKey;

  private constructor(key: RsaPssPublicKey) {
    this.#key = key;
    this.modulusLength = Math.ceil(key.modulusBits / 8);
  }

  static async create(publicKeySpki: Uint8Array): Promise<TokenVerifier> {
    return new TokenVerifier(await importVerifyKey(publicKeySpki));
  }

  /**
   * RSASSA-PSS-VERIFY(pk, prefix || tokenMessage(pollId, nonce), sig). Throws FormatError on a
   * malformed poll id or token (sizes); resolves false on a well-formed token that does not verify.
   */
  async verify(pollId: string, token: TokenFields): Promise<boolean> {
    const msg = tokenMessage(pollId, token.nonce);
    abytes(token.prefix, PREFIX_LENGTH, 'token.prefix');
    abytes(token.sig, this.modulusLength, 'token.sig');
    return this.#key.verify(concatBytes(token.prefix, msg), token.sig);
  }
}

/** One-shot `TokenVerifier` (imports the key every call: use a TokenVerifier on hot paths). */
export async function verifyToken(publicKeySpki: Uint8Array, pollId: string, token: TokenFields): Promise<boolean> {
  const verifier = await TokenVerifier.create(publicKeySpki);
  return verifier.verify(pollId, token);
}
