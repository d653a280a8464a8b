/**
 * Platform primitives in browsers: `types.ts`'s Platform, as `node.ts`, on the noble libraries
 * and WebCrypto. Both MUST give byte-identical results (tested in `platform.test.ts`).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { abytes } from '../bytes.ts';
import { primeOrderPoint } from './ed25519-points.ts';
import type { Ed25519Signer, Ed25519Verifier, RsaPssPublicKey } from './types.ts';

export type { Ed25519Signer, Ed25519Verifier, RsaPssPublicKey } from './types.ts';

// Uint8Array.prototype.toBase64 / Uint8Array.fromBase64 (TC39, in current browsers) when present.
type NativeBase64 = { toBase64?: () => string };
const nativeFromBase64 = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array }).fromBase64;

export function base64Encode(bytes: Uint8Array): string {
  const native = (bytes as NativeBase64).toBase64;
  if (native !== undefined) return native.call(bytes);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function base64Decode(text: string): Uint8Array {
  if (nativeFromBase64 !== undefined) return nativeFromBase64(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

export function randomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** RFC 8032 Ed25519 (deterministic) from a 32-byte seed. */
export function ed25519Signer(seed: Uint8Array): Ed25519Signer {
  const secret = Uint8Array.from(abytes(seed, 32, 'Ed25519 seed'));
  return {
    publicKey: ed25519.getPublicKey(secret),
    sign: (message) => ed25519.sign(message, secret),
  };
}

/**
 * noble's verification is cofactored ([8][S]B = [8]R + [8][k]A); with R required in the
 * prime-order subgroup and not the identity (and `zip215: false`: canonical encodings, S < L) it
 * accepts exactly what node.ts's cofactorless check accepts, for a prime-order key.
 */
export function ed25519Verifier(publicKey: Uint8Array): Ed25519Verifier {
  const key = Uint8Array.from(abytes(publicKey, 32, 'Ed25519 public key'));
  return {
    verify: (message, signature) =>
      signature.length === 64 && primeOrderPoint(signature.subarray(0, 32)) === 'ok' && ed25519.verify(signature, message, key, { zip215: false }),
  };
}

/** WebCrypto RSA-PSS SHA-384; same contract as `node.ts`. */
export async function importRsaPssSha384PublicKey(spki: Uint8Array, saltLength: number): Promise<RsaPssPublicKey> {
  const key = await globalThis.crypto.subtle.importKey(
    'spki',
    Uint8Array.from(spki),
    { name: 'RSA-PSS', hash: 'SHA-384' },
    false,
    ['verify'],
  );
  const modulusBits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  const algorithm = { name: 'RSA-PSS', saltLength };
  return {
    modulusBits,
    verify: (message, signature) =>
      globalThis.crypto.subtle.verify(algorithm, key, Uint8Array.from(signature), Uint8Array.from(message)),
  };
}
