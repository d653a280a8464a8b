/**
 * A thread of BundleChecker (bundle-checks.ts): decodes entry bundles, hashes their leaves and
 * establishes each ballot's facts (canonical parsing, `Poll.checkBallot`, the token signature,
 * crypto's `ballotFacts`) with the manifest it was started with. Order and every decision stay
 * on the auditing thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Ballot, Poll, TokenVerifier, ballotFacts, decodeBundle, leafHash, parseEntry } from '@blindvote/crypto';
import type { BundleRequest, BundleResult, EntryResult } from './bundle-checks.ts';

const poll = parseEntry(workerData.manifest as Uint8Array, 'entry 0');
if (!(poll instanceof Poll)) throw new Error('bundle worker: entry 0 is not a poll manifest');
const verifier = TokenVerifier.fromPoll(poll);
verifier.catch(() => {}); // each ballot reports it

async function check({ id, bytes, first, width }: BundleRequest): Promise<BundleResult> {
  let entries: Uint8Array[];
  try {
    entries = decodeBundle(bytes);
  } catch (err) {
    return { id, ok: false, error: (err as Error).message };
  }
  const n = Math.min(width, entries.length);
  const leafHashes = new Uint8Array(n * 32);
  const results: EntryResult[] = [];
  for (let j = 0; j < n; j++) {
    const bytes = entries[j]!;
    const index = first + j;
    leafHashes.set(leafHash(bytes), j * 32);
    if (index === 0) {
      results.push({ kind: 'raw', bytes });
      continue;
    }
    let entry;
    try {
      entry = parseEntry(bytes, `entry ${index}`);
    } catch (err) {
      results.push({ kind: 'invalid', error: (err as Error).message });
      continue;
    }
    results.push(entry instanceof Ballot ? { kind: 'ballot', facts: await ballotFacts(poll as Poll, verifier, entry, index) } : { kind: 'raw', bytes });
  }
  return { id, ok: true, count: entries.length, leafHashes, results };
}

parentPort!.on('message', (request: BundleRequest) => {
  void check(request).then((result) => parentPort!.postMessage(result, result.ok ? [result.leafHashes.buffer as ArrayBuffer] : []));
});
