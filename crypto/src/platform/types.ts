/**
 * The contract both platforms implement (`node.ts` on Node, `browser.ts` elsewhere; package.json
 * `imports["#platform"]` picks one). Declared once here; `platform.test.ts` fails to typecheck if
 * either module stops conforming, and checks that both give byte-identical results.
 */

/** RFC 8032 Ed25519 signing with one key; the seed stays inside. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  /** Deterministic RFC 8032 signature (64 bytes) over the exact message bytes. */
  sign(message: Uint8Array): Uint8Array;
}

/**
 * Strict RFC 8032 Ed25519 verification with one public key, which the caller MUST have checked is
 * a canonical point of the prime-order subgroup (note.ts refuses any other verifier key). Accepts
 * exactly when S < L, R is not the identity, and [S]B = R + [k]A with R in its canonical encoding:
 * given such a key, the cofactored and cofactorless equations then accept the same signatures.
 */
export interface Ed25519Verifier {
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** An imported RSA public key for RSASSA-PSS-SHA384 verification. */
export interface RsaPssPublicKey {
  /** Bit length of the modulus n. */
  readonly modulusBits: number;
  /**
   * RSASSA-PSS-VERIFY (RFC 8017 §8.1.2) with SHA-384, MGF1-SHA-384 and the salt length fixed at
   * import. `offThread`: run it on a thread of the platform's pool instead of the calling one
   * (Node: the libuv pool; browsers' WebCrypto always does), for callers with many to check.
   */
  verify(message: Uint8Array, signature: Uint8Array, offThread?: boolean): Promise<boolean>;
}

export interface Platform {
  /** Standard padded base64 (RFC 4648 §4) of `bytes`. */
  base64Encode(bytes: Uint8Array): string;
  /**
   * The bytes of `text`, which the caller MUST have checked is standard padded base64 (the
   * decoders differ on anything else).
   */
  base64Decode(text: string): Uint8Array;
  /** SHA-256 of the concatenation of `parts`. */
  sha256(...parts: Uint8Array[]): Uint8Array;
  /** `n` bytes from the platform's CSPRNG. */
  randomBytes(n: number): Uint8Array;
  /** MUST throw FormatError unless `seed` is exactly 32 bytes. */
  ed25519Signer(seed: Uint8Array): Ed25519Signer;
  /** See Ed25519Verifier; MUST throw FormatError unless `publicKey` is exactly 32 bytes. */
  ed25519Verifier(publicKey: Uint8Array): Ed25519Verifier;
  /**
   * Imports a DER SubjectPublicKeyInfo for RSASSA-PSS-SHA384 with a fixed salt length. Callers
   * MUST have parsed the SPKI with `parseTokenKeySpki` first (both platforms must accept exactly
   * the same keys, and their own parsers differ).
   */
  importRsaPssSha384PublicKey(spki: Uint8Array, saltLength: number): Promise<RsaPssPublicKey>;
}
