import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as node from './node.ts';
import * as browser from './browser.ts';
import type { Platform } from './types.ts';
import { FormatError } from '../bytes.ts';

test('node and browser platforms hash identically', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), (parts) => {
      assert.deepEqual(node.sha256(...parts), browser.sha256(...parts));
    }),
  );
});

test('node and browser platforms sign Ed25519 identically (RFC 8032 is deterministic)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), (seed, msg) => {
      const a = node.ed25519Signer(seed);
      const b = browser.ed25519Signer(seed);
      assert.deepEqual(a.publicKey, b.publicKey);
      assert.deepEqual(a.sign(msg), b.sign(msg));
    }),
    { numRuns: 50 },
  );
});

// Compile-time conformance: both modules implement the one declared contract.
const platforms: Record<'node' | 'browser', Platform> = { node, browser };

test('both platforms refuse Ed25519 seeds that are not exactly 32 bytes, with FormatError', () => {
  for (const [name, platform] of Object.entries(platforms)) {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => platform.ed25519Signer(new Uint8Array(length).fill(1)), FormatError, `${name}: ${length} bytes`);
    }
    assert.throws(() => platform.ed25519Signer('x'.repeat(32) as unknown as Uint8Array), FormatError, name);
    assert.equal(platform.ed25519Signer(new Uint8Array(32).fill(1)).publicKey.length, 32);
  }
});

test('node and browser platforms encode and decode base64 identically (RFC 4648 §4, padded)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const text = node.base64Encode(bytes);
      assert.equal(browser.base64Encode(bytes), text);
      assert.equal(text, Buffer.from(bytes).toString('base64'));
      assert.deepEqual(node.base64Decode(text), bytes);
      assert.deepEqual(browser.base64Decode(text), bytes);
    }),
  );
  // A decoded value never shares memory with Node's Buffer pool.
  assert.equal(node.base64Decode('AAEC').buffer.byteLength, 3);
});

test('fromBase64 refuses stray bits in the last character, for both padding lengths', async () => {
  const { fromBase64 } = await import('../bytes.ts');
  assert.deepEqual(fromBase64('AA==', 'x'), Uint8Array.of(0));
  assert.deepEqual(fromBase64('AAA=', 'x'), Uint8Array.of(0, 0));
  for (const bad of ['AB==', 'AP==', 'AAB=', 'AAD=']) assert.throws(() => fromBase64(bad, 'x'), /non-canonical base64/, bad);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      assert.deepEqual(fromBase64(Buffer.from(bytes).toString('base64'), 'x'), bytes);
    }),
  );
});

test('node and browser platforms give the same Ed25519 verdicts: valid, altered, and every strictness rule', () => {
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const int = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const smallOrder = [le(1n), le(0n), le(2n ** 255n - 20n), le(2n ** 255n - 18n)]; // identity, order 4 (x=0,y=0), order 2 (y=-1), identity with a non-canonical y (p + 1)
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 100 }), fc.nat(6), fc.nat(63), (seed, msg, how, at) => {
      const signer = node.ed25519Signer(seed);
      const sig = signer.sign(msg);
      let candidate = sig;
      let expected: boolean | null = null;
      if (how === 0) expected = true;
      if (how === 1) {
        candidate = sig.slice();
        candidate[at] = candidate[at]! ^ 1; // any flipped bit
        expected = false;
      }
      if (how === 2) {
        candidate = Uint8Array.from([...sig.subarray(0, 32), ...le(int(sig.subarray(32)) + L)]); // S + L: same equation, S ≥ L
        expected = false;
      }
      if (how >= 3) {
        candidate = Uint8Array.from([...smallOrder[how - 3]!, ...sig.subarray(32)]);
        expected = false;
      }
      const a = node.ed25519Verifier(signer.publicKey).verify(msg, candidate);
      const b = browser.ed25519Verifier(signer.publicKey).verify(msg, candidate);
      assert.equal(a, b, `case ${how}`);
      if (expected !== null) assert.equal(a, expected, `case ${how}`);
    }),
    { numRuns: 60 },
  );
  for (const platform of Object.values(platforms)) {
    for (const length of [0, 31, 33]) assert.throws(() => platform.ed25519Verifier(new Uint8Array(length)), FormatError);
  }
});
