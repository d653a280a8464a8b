/**
 * Platform primitives on Node: native SHA-256, Ed25519 signing, RSASSA-PSS verification and
 * randomness (`node:crypto`, ~25x faster than pure JS). Implements `types.ts`'s Platform, as
 * `browser.ts` does; package.json `imports["#platform"]` picks one. Both MUST give byte-identical results.
 */
import { constants, createPrivateKey, hash, createPublicKey, randomBytes as nodeRandomBytes, sign, verify } from 'node:crypto';
import { abytes, equalBytes } from '../bytes.ts';
import type { Ed25519Signer, Ed25519Verifier, RsaPssPublicKey } from './types.ts';

export type { Ed25519Signer, Ed25519Verifier, RsaPssPublicKey } from './types.ts';

export function base64Encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function base64Decode(text: string): Uint8Array {
  // A copy: small Buffers are views into a shared pool, which callers must never see or keep alive.
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Where the parts of a multi-part input are joined: reused, as hashing is synchronous. */
let joined = Buffer.allocUnsafe(4096);
const MAX_JOINED = 1 << 16;

export function sha256(...parts: Uint8Array[]): Uint8Array {
  // One-shot `hash` is ~1.6x faster than createHash for the 33..65-byte Merkle inputs, and
  // joining the parts into a reused buffer ~0.3 µs faster per hash than Buffer.concat.
  let input: Uint8Array;
  if (parts.length === 1) {
    input = parts[0]!;
  } else {
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > MAX_JOINED) {
      input = Buffer.concat(parts);
    } else {
      if (length > joined.length) joined = Buffer.allocUnsafe(MAX_JOINED);
      let at = 0;
      for (const p of parts) {
        joined.set(p, at);
        at += p.length;
      }
      input = joined.subarray(0, length);
    }
  }
  const digest = hash('sha256', input, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n));
}

// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410 §7).
const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** A raw 32-byte key in its DER wrapping (the fixed prefix, then the key). */
function der(prefix: Uint8Array, raw: Uint8Array): Buffer {
  return Buffer.concat([prefix, raw]);
}

// SubjectPublicKeyInfo wrapping of a raw 32-byte Ed25519 public key (RFC 8410 §4).
const SPKI_ED25519 = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const ED25519_L = Uint8Array.from(Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'));

/** True if the 32-byte little-endian integer is below L. */
function belowL(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! !== ED25519_L[i]!) return s[i]! < ED25519_L[i]!;
  }
  return false;
}

/** The identity's encoding (y = 1, x = 0). */
const IDENTITY = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));

/**
 * Ed25519 verification by OpenSSL (node:crypto, ~25x noble's speed), cofactorless: [S]B = R + [k]A
 * with R compared as its canonical encoding. With a prime-order key A, a passing R is [S]B − [k]A,
 * in the prime-order subgroup, so the one rule left to check is R ≠ identity; S < L is checked here
 * too rather than trusted to the OpenSSL version.
 */
export function ed25519Verifier(publicKey: Uint8Array): Ed25519Verifier {
  const key = createPublicKey({ key: der(SPKI_ED25519, abytes(publicKey, 32, 'Ed25519 public key')), format: 'der', type: 'spki' });
  return {
    verify: (message, signature) => {
      if (signature.length !== 64 || !belowL(signature.subarray(32)) || equalBytes(signature.subarray(0, 32), IDENTITY)) return false;
      return verify(null, message, key, signature);
    },
  };
}

/** RFC 8032 Ed25519 (deterministic) from a 32-byte seed. */
export function ed25519Signer(seed: Uint8Array): Ed25519Signer {
  const key = createPrivateKey({ key: der(PKCS8_ED25519, abytes(seed, 32, 'Ed25519 seed')), format: 'der', type: 'pkcs8' });
  const jwk = key.export({ format: 'jwk' });
  const publicKey = new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
  return {
    publicKey,
    sign: (message) => new Uint8Array(sign(null, message, key)),
  };
}

/**
 * Imports an RSA public key (DER SubjectPublicKeyInfo) for RSASSA-PSS-SHA384 verification with a
 * fixed salt length. Throws on anything that is not an RSA key. Callers MUST have parsed the SPKI
 * with `parseTokenKeySpki` (both platforms must accept exactly the same keys).
 */
export async function importRsaPssSha384PublicKey(spki: Uint8Array, saltLength: number): Promise<RsaPssPublicKey> {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const modulusBits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || modulusBits === undefined) throw new Error('not an RSA public key');
  const options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
  return {
    modulusBits,
    verify: async (message, signature, offThread = false) =>
      offThread
        ? new Promise<boolean>((resolve, reject) => verify('sha384', message, options, signature, (err, ok) => (err === null ? resolve(ok) : reject(err))))
        : verify('sha384', message, options, signature),
  };
}
