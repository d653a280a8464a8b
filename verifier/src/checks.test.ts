/** EvidenceList: the same evidence whatever order it arrives in, when the list has an order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EvidenceList, MAX_EVIDENCE_ITEMS } from './checks.ts';

test('an ordered EvidenceList keeps the lowest items sorted, whatever order they arrive in; an unordered one the first', () => {
  const n = MAX_EVIDENCE_ITEMS * 3;
  const arrival = Array.from({ length: n }, (_, i) => (i * 7919) % n); // a permutation of 0..n-1
  const ordered = new EvidenceList<{ index: number }>((a, b) => a.index - b.index);
  const first = new EvidenceList<{ index: number }>();
  for (const index of arrival) {
    ordered.add({ index });
    first.add({ index });
  }
  assert.deepEqual(ordered.toJSON(), { count: n, items: Array.from({ length: MAX_EVIDENCE_ITEMS }, (_, i) => ({ index: i })), omitted: n - MAX_EVIDENCE_ITEMS });
  assert.deepEqual(first.items, arrival.slice(0, MAX_EVIDENCE_ITEMS).map((index) => ({ index })));
  assert.equal(first.count, n);
});
