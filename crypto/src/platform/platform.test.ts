import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as node from './node.ts';
import * as browser from './browser.ts';

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
