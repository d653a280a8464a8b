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
