/**
 * The issuer's side of RFC 9474 (RSABSSA-SHA384-PSS-Randomized, see `token.ts`): BlindSign and
 * key handling, on Node's native RSA (`@blindvote/crypto/issuer`; Node only).
 *
 * BlindSign (RFC 9474 §4.3):
 *   1. m = bytes_to_int(blinded_msg)            (len(blinded_msg) MUST be modulus_len, m < n)
 *   2. s = RSASP1(sk, m)                        → OpenSSL `privateDecrypt` with RSA_NO_PADDING:
 *                                                 CRT, constant-time, with RSA blinding
 *   3. m' = RSAVP1(pk, s); m' != m → "signing failure"   (a faulty signature can leak a factor)
 *   4. blind_sig = int_to_bytes(s, modulus_len)
 *
 * The issuer MUST NOT use blindrsa-ts's `blindSign`: pure-JS bignum without CRT, not constant
 * time, and ~700x slower. BlindSign is deterministic, so the same blinded_msg always gets the same
 * blind_sig (the idempotent retry of DESIGN.md promise 1 relies on this).
 *
 * Threat: the issuer signs whatever 0 <= m < n it is given (that is what blindness means); one
 * signature per (poll, voter) is the caller's job, enforced in its database.
 */
import { constants, createPrivateKey, createPublicKey, generateKeyPair, privateDecrypt, publicEncrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { FormatError, abytes, equalBytes } from './bytes.ts';
import { MAX_MODULUS_BITS, MIN_MODULUS_BITS, parseTokenKeySpki } from './token.ts';
import type { TokenKeyInfo } from './token.ts';

/** RFC 9474 "signing failure": RSAVP1(pk, s) != m. Never the client's fault (a 500, not a 4xx). */
export class SigningFailureError extends Error {
  override name = 'SigningFailureError';
}

export class TokenKeyError extends Error {
  override name = 'TokenKeyError';
}

interface SigningKey {
  readonly modulusLength: number;
  /** n, big-endian, exactly modulusLength bytes. */
  readonly n: Uint8Array;
  /** The public half of the private key itself, for the RSAVP1 check. */
  readonly publicKey: KeyObject;
  /** Its DER SPKI, as `parseTokenKeySpki` accepts it. */
  readonly spki: Uint8Array;
}

const signingKeys = new WeakMap<KeyObject, SigningKey>();

function signingKey(privateKey: KeyObject): SigningKey {
  const cached = signingKeys.get(privateKey);
  if (cached !== undefined) return cached;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new TokenKeyError('token key: expected an RSA private key');
  }
  const publicKey = createPublicKey(privateKey);
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  let info: TokenKeyInfo;
  try {
    // The same parser as the poll manifest and every client: a key they would refuse is no use.
    info = parseTokenKeySpki(spki);
  } catch (cause) {
    throw new TokenKeyError((cause as Error).message, { cause });
  }
  const key = { modulusLength: info.modulusLength, n: info.modulus, publicKey, spki };
  signingKeys.set(privateKey, key);
  return key;
}

/** a < b for two big-endian unsigned integers of the same byte length (public values only). */
function lessThan(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]!;
  }
  return false;
}

/**
 * RFC 9474 §4.3 BlindSign. Throws FormatError when blinded_msg is not modulus_len bytes or is not
 * less than n (the client's fault), SigningFailureError when the RSAVP1 check fails.
 */
export function blindSign(privateKey: KeyObject, blindedMsg: Uint8Array): Uint8Array {
  const key = signingKey(privateKey);
  abytes(blindedMsg, key.modulusLength, 'blinded_msg');
  if (!lessThan(blindedMsg, key.n)) {
    throw new FormatError('blinded_msg: not less than the modulus n (RFC 9474 §4.3, RSASP1 "message representative out of range")');
  }
  const s = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, blindedMsg);
  if (s.length !== key.modulusLength) throw new SigningFailureError('signing failure: RSASP1 output has the wrong length');
  const check = publicEncrypt({ key: key.publicKey, padding: constants.RSA_NO_PADDING }, s);
  if (!equalBytes(check, blindedMsg)) throw new SigningFailureError('signing failure: RSAVP1(pk, s) != blinded_msg (RFC 9474 §4.3)');
  return new Uint8Array(s.buffer, s.byteOffset, s.length);
}

export interface TokenKeyPair {
  readonly privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo (rsaEncryption): the poll manifest's `token_key.spki`. */
  readonly spki: Uint8Array;
}

const generateRsaKeyPair = promisify(generateKeyPair);

/** A fresh poll token key: RSA, e = 65537, `bits` in 2048..8192 and a multiple of 8. */
export async function generateTokenKey(bits = 2048): Promise<TokenKeyPair> {
  if (!Number.isSafeInteger(bits) || bits % 8 !== 0 || bits < MIN_MODULUS_BITS || bits > MAX_MODULUS_BITS) {
    throw new RangeError(`token key: ${bits} bits, expected a multiple of 8 in ${MIN_MODULUS_BITS}..${MAX_MODULUS_BITS}`);
  }
  const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  signingKey(privateKey);
  return { privateKey, spki: tokenKeySpki(privateKey) };
}

/** DER SPKI (rsaEncryption) of the public half of `privateKey`. */
export function tokenKeySpki(privateKey: KeyObject): Uint8Array {
  return signingKey(privateKey).spki.slice();
}

/** PKCS#8 DER of the private key, for storage (unencrypted: protect it at rest). */
export function exportTokenPrivateKey(privateKey: KeyObject): Uint8Array {
  signingKey(privateKey);
  return new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
}

/**
 * Parses a stored PKCS#8 DER RSA key and proves it sound with one BlindSign of a fixed value (so
 * a corrupted key fails at start-up, not on a voter).
 */
export function importTokenPrivateKey(pkcs8: Uint8Array): KeyObject {
  abytes(pkcs8, undefined, 'token key');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new TokenKeyError('token key: not a PKCS#8 DER private key', { cause });
  }
  const key = signingKey(privateKey);
  const probe = new Uint8Array(key.modulusLength);
  probe[probe.length - 1] = 2;
  blindSign(privateKey, probe);
  return privateKey;
}
