/**
 * Ed25519 point classes (RFC 8032 §5.1.3 decoding, subgroup membership), shared by note.ts (which
 * refuses verifier keys outside the prime-order subgroup) and browser.ts (whose cofactored noble
 * verification needs R in that subgroup to agree with cofactorless verifiers).
 */
import { ed25519 } from '@noble/curves/ed25519.js';

/**
 * Classifies an encoded Ed25519 point: `invalid` unless it decodes strictly (RFC 8032 §5.1.3:
 * canonical y, no "negative zero" x); `small-order` for the 8 points of order 1..8 (identity
 * included); `mixed-order` when it has a small-order component; `ok` in the prime-order subgroup.
 */
export function primeOrderPoint(bytes: Uint8Array): 'invalid' | 'small-order' | 'mixed-order' | 'ok' {
  let point: InstanceType<typeof ed25519.Point>;
  try {
    point = ed25519.Point.fromBytes(bytes, false);
  } catch {
    return 'invalid';
  }
  if (point.isSmallOrder()) return 'small-order';
  if (!point.isTorsionFree()) return 'mixed-order';
  return 'ok';
}
