/** In-process primitives against the fastest native operation they wrap: BlindSign, Merkle appends. */
import { constants, generateKeyPairSync, hash, privateDecrypt, randomBytes } from 'node:crypto';
import { CompactRange, sha256 } from '@blindvote/crypto';
import { blindSign } from '@blindvote/crypto/issuer';
import { record } from './stats.ts';
import { interleave, rateSync } from './timing.ts';

export async function primitiveRows(): Promise<void> {
  // ── issuer BlindSign vs raw RSASP1 ──────────────────────────────────────────────────────────
  {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const blinded = Array.from({ length: 256 }, () => {
      const m = randomBytes(256);
      m[0] = m[0]! & 0x7f; // < n for a 2048-bit modulus whose top bit is set
      return new Uint8Array(m);
    });
    const { s, b } = await interleave({
      b: () => rateSync((i) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, blinded[i & 255]!)),
      s: () => rateSync((i) => blindSign(privateKey, blinded[i & 255]!)),
    });
    record('issuer BlindSign (RSA-2048, with RSAVP1 check), 1 core', 'signs/s', s, { name: 'raw privateDecrypt RSA_NO_PADDING', b, target: 0.9 });
  }

  // ── Merkle appends vs raw SHA-256 ───────────────────────────────────────────────────────────
  {
    const leaves = Array.from({ length: 1024 }, (_, i) => sha256(new Uint8Array([i & 255, i >> 8])));
    const range = new CompactRange();
    const block = new Uint8Array(65);
    const { s, b } = await interleave({
      b: () => rateSync(() => hash('sha256', block, 'buffer')),
      s: () => rateSync((i) => range.append(leaves[i & 1023]!)),
    });
    // An append hashes one node on average (the leaf hash is given), with the fastest SHA-256 Node
    // has (one-shot `hash`, as crypto/ uses): ratio ≈ 1 is the limit.
    record('Merkle compact-range appends', 'appends/s', s, { name: 'raw SHA-256 of a 65-byte node', b, target: 0.5 });
  }
}
