/**
 * The one contract every LogStorage implementation passes, driven through the sequencer and
 * the reader (the code that uses storage). `sqlite.test.ts` and `postgres.test.ts` run it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Checkpoint, generateSignerKey, leafHash, NoteSigner, openCheckpoint, parseVerifierKey, sha256, utf8,
  verifyConsistency, verifyInclusion,
} from '@blindvote/crypto';
import { OverloadedError, Sequencer } from './sequencer.ts';
import { LogReader } from './reader.ts';
import type { LogStorage } from './storage.ts';
import { UnknownLogError } from './storage.ts';

export interface ContractOptions {
  /** A fresh, empty storage for each test. */
  readonly open: () => Promise<LogStorage>;
  /** Number of entries in the scale test (1,000,000 in CI). */
  readonly scale: number;
}

export const testSigner = (): NoteSigner => new NoteSigner(generateSignerKey('board.test').signerKey);

const entry = (i: number) => utf8(`{"type":"ballot","n":${i}}`);
const token = (i: number) => sha256(utf8(`token ${i}`));

export function storageContract(name: string, options: ContractOptions): void {
  const setup = async () => {
    const storage = await options.open();
    const signer = testSigner();
    const sequencer = new Sequencer(storage, [signer]);
    const reader = new LogReader(storage);
    const verifier = parseVerifierKey(signer.verifierKey);
    return { storage, sequencer, reader, verifier };
  };

  test(`${name}: a new log has a signed empty checkpoint; creating it twice changes nothing`, async () => {
    const { storage, sequencer, verifier } = await setup();
    try {
      assert.equal(await sequencer.createLog('p1', 'board.test/poll/p1'), true);
      assert.equal(await sequencer.createLog('p1', 'other/poll/p1'), false);
      const head = await storage.head('p1');
      assert.equal(head?.size, 0);
      assert.equal(head?.origin, 'board.test/poll/p1');
      const { checkpoint } = openCheckpoint(head!.checkpoint, [verifier], 'board.test/poll/p1');
      assert.equal(checkpoint.size, 0);
      assert.equal(await storage.head('nope'), null);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: appends resolve after commit with indexes, leaf hashes and a checkpoint that includes them`, async () => {
    const { storage, sequencer, reader, verifier } = await setup();
    try {
      await sequencer.createLog('p1', 'board.test/poll/p1');
      const results = await Promise.all(Array.from({ length: 600 }, (_, i) => sequencer.append('p1', entry(i), token(i))));
      const indexes = results.map((r) => (r.status === 'appended' ? r.index : -1)).sort((a, b) => a - b);
      assert.deepEqual(indexes, Array.from({ length: 600 }, (_, i) => i));
      for (const r of results) {
        assert.equal(r.status, 'appended');
        if (r.status !== 'appended') continue;
        const { checkpoint } = openCheckpoint(r.checkpoint, [verifier], 'board.test/poll/p1');
        assert.ok(r.index < checkpoint.size);
        const [stored] = await reader.entries('p1', r.index, r.index + 1);
        assert.deepEqual(leafHash(stored!), r.leafHash);
        verifyInclusion(r.leafHash, r.index, checkpoint.size, await reader.inclusionProof('p1', r.index, checkpoint.size), checkpoint.root);
        assert.equal(await storage.spentIndex('p1', token(Number(JSON.parse(new TextDecoder().decode(stored!)).n))), r.index);
      }
      const head = await storage.head('p1');
      assert.equal(head?.size, 600);
      assert.equal(await storage.checkpointAt('p1', 600), head?.checkpoint);
      // Entry bundles hold 256 entries each, the last partial.
      assert.equal((await reader.bundle('p1', 0)).length, 256);
      assert.equal((await reader.bundle('p1', 2)).length, 88);
      assert.deepEqual((await reader.bundle('p1', 1))[0], (await reader.entries('p1', 256, 257))[0]);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: a spent token is refused naming the entry; a byte-identical resubmission gets the original index`, async () => {
    const { storage, sequencer, reader } = await setup();
    try {
      await sequencer.createLog('p1', 'board.test/poll/p1');
      const first = await sequencer.append('p1', entry(1), token(1));
      assert.equal(first.status, 'appended');
      assert.deepEqual(await sequencer.append('p1', entry(1), token(1)), { status: 'duplicate', index: 0 });
      assert.deepEqual(await sequencer.append('p1', entry(2), token(1)), { status: 'spent', index: 0 });
      // In one batch: leader, identical copy, different entry, a later fresh token.
      const batch = await Promise.all([
        sequencer.append('p1', entry(3), token(3)),
        sequencer.append('p1', entry(3), token(3)),
        sequencer.append('p1', entry(4), token(3)),
        sequencer.append('p1', entry(2), token(1)),
        sequencer.append('p1', entry(5), token(5)),
      ]);
      assert.deepEqual(batch.map((r) => [r.status, r.index]), [
        ['appended', 1], ['duplicate', 1], ['spent', 1], ['spent', 0], ['appended', 2],
      ]);
      // The conflict renumbered the batch: every spent row points at its own entry, by token and by leaf hash.
      assert.equal(await storage.spentIndex('p1', token(5)), 2);
      assert.equal(await storage.leafIndex('p1', leafHash(entry(5))), 2);
      assert.equal(await storage.leafIndex('p1', leafHash(entry(3))), 1);
      assert.equal(await storage.leafIndex('p1', leafHash(entry(4))), null, 'a refused entry has no leaf');
      assert.deepEqual(await reader.entries('p1', 0, 10), [entry(1), entry(3), entry(5)]);
      assert.equal((await storage.head('p1'))?.size, 3);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: the same token from many concurrent callers leaves exactly one entry`, async () => {
    const { storage, sequencer, reader } = await setup();
    try {
      await sequencer.createLog('p1', 'board.test/poll/p1');
      await sequencer.append('p1', entry(0), token(0));
      const racers = Array.from({ length: 500 }, (_, i) => sequencer.append('p1', entry(1000 + (i % 7)), token(42)));
      const results = await Promise.all(racers);
      const appended = results.filter((r) => r.status === 'appended');
      assert.equal(appended.length, 1);
      const winner = results.indexOf(appended[0]!);
      results.forEach((r, i) => {
        assert.equal(r.index, 1);
        assert.equal(r.status, i === winner ? 'appended' : (i - winner) % 7 === 0 ? 'duplicate' : 'spent');
      });
      assert.equal((await reader.entries('p1', 0, 100)).length, 2);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: small batches in flight with double spends mixed in keep every index and spent row right`, async () => {
    const { storage, reader } = await setup();
    const sequencer = new Sequencer(storage, [testSigner()], { maxBatch: 7 });
    try {
      await sequencer.createLog('p1', 'board.test/poll/p1');
      // Tokens 0..299; every 6th submission reuses an earlier token (some byte-identical).
      const submissions = Array.from({ length: 360 }, (_, i) => {
        if (i % 6 === 5) {
          const t = Math.floor((i * 7) % Math.max(1, Math.floor(i / 6) * 5));
          return { entry: entry(i % 12 === 5 ? t : 100_000 + i), token: token(t) };
        }
        const t = i - Math.floor(i / 6);
        return { entry: entry(t), token: token(t) };
      });
      const results = await Promise.all(submissions.map((s) => sequencer.append('p1', s.entry, s.token)));
      const appended = results.filter((r) => r.status === 'appended');
      assert.equal(appended.length, 300);
      assert.deepEqual(appended.map((r) => r.index).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i));
      const stored = await reader.entries('p1', 0, 400);
      assert.equal(stored.length, 300);
      for (const [i, r] of results.entries()) {
        const { entry: bytes, token: tokenId } = submissions[i]!;
        assert.equal(await storage.spentIndex('p1', tokenId), r.index, `submission ${i}: spent row`);
        if (r.status !== 'spent') assert.equal(await storage.leafIndex('p1', leafHash(bytes)), r.index, `submission ${i}: leaf index`);
        if (r.status === 'appended' || r.status === 'duplicate') assert.deepEqual(stored[r.index], bytes, `submission ${i}`);
        else assert.notDeepEqual(stored[r.index], bytes, `submission ${i}`);
      }
      // Entries keep their append order: the first submission of each token precedes the next.
      const order = appended.map((r) => results.indexOf(r));
      assert.deepEqual(order, [...order].sort((a, b) => results[a]!.index - results[b]!.index));
      assert.equal((await storage.head('p1'))?.size, 300);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: logs lists every poll with a log, in byte order; leafIndex finds a leaf by its hash, per poll`, async () => {
    const { storage, sequencer } = await setup();
    try {
      assert.deepEqual(await storage.logs(), []);
      for (const id of ['b-1', 'a', 'b', 'a0']) await sequencer.createLog(id, `board.test/poll/${id}`);
      assert.deepEqual(await storage.logs(), ['a', 'a0', 'b', 'b-1']);
      const same = entry(7);
      await sequencer.append('a', utf8('manifest a'), token(1000));
      await sequencer.append('a', same, token(7));
      await sequencer.append('b', same, token(8));
      await sequencer.append('b', utf8('no token'));
      // The same bytes under a second token: the first index is the one found.
      await sequencer.append('b', same, token(9));
      assert.equal(await storage.leafIndex('a', leafHash(same)), 1);
      assert.equal(await storage.leafIndex('a', leafHash(utf8('manifest a'))), 0);
      assert.equal(await storage.leafIndex('b', leafHash(same)), 0);
      assert.equal(await storage.leafIndex('b', leafHash(utf8('no token'))), null, 'entries without a token id are not indexed');
      assert.equal(await storage.leafIndex('a0', leafHash(same)), null);
      assert.equal(await storage.leafIndex('nope', leafHash(same)), null);
      assert.equal(await storage.leafIndex('a', new Uint8Array(32)), null);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: entries without tokens, several polls, unknown poll`, async () => {
    const { storage, sequencer, reader } = await setup();
    try {
      await sequencer.createLog('a', 'board.test/poll/a');
      await sequencer.createLog('b', 'board.test/poll/b');
      const [x, y] = await Promise.all([sequencer.append('a', utf8('manifest a')), sequencer.append('b', utf8('manifest b'))]);
      assert.equal(x.index, 0);
      assert.equal(y.index, 0);
      // A token spent in poll a is unspent in poll b.
      assert.equal((await sequencer.append('a', entry(1), token(1))).status, 'appended');
      assert.equal((await sequencer.append('b', entry(1), token(1))).status, 'appended');
      assert.deepEqual(await reader.entries('b', 0, 5), [utf8('manifest b'), entry(1)]);
      await assert.rejects(sequencer.append('nope', entry(1), token(9)), UnknownLogError);
      await assert.rejects(sequencer.append('a', new Uint8Array(0)), /1\.\.65535 bytes/);
      await assert.rejects(sequencer.append('a', entry(1), new Uint8Array(5)), /32 bytes/);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: a full queue pushes back with OverloadedError (by count and by bytes); nothing else is lost`, async () => {
    const { storage } = await setup();
    try {
      const byCount = new Sequencer(storage, [testSigner()], { maxQueue: 10 });
      await byCount.createLog('p1', 'board.test/poll/p1');
      const appends = Array.from({ length: 11 }, (_, i) => byCount.append('p1', entry(i), token(i)));
      await assert.rejects(appends[10]!, OverloadedError);
      assert.ok((await Promise.all(appends.slice(0, 10))).every((r) => r.status === 'appended'));
      const byBytes = new Sequencer(storage, [testSigner()], { maxQueueBytes: 100 });
      const big = [byBytes.append('p1', new Uint8Array(60).fill(1), token(100)), byBytes.append('p1', new Uint8Array(60).fill(2), token(101))];
      await assert.rejects(big[1]!, OverloadedError);
      assert.equal((await big[0]!).status, 'appended');
      assert.equal((await storage.head('p1'))?.size, 11);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: every stored checkpoint is consistent with every later one`, async () => {
    const { storage, sequencer, reader, verifier } = await setup();
    try {
      await sequencer.createLog('p1', 'board.test/poll/p1');
      const sizes: number[] = [];
      for (let round = 0; round < 12; round++) {
        const n = 1 + ((round * 37) % 90);
        await Promise.all(Array.from({ length: n }, (_, i) => sequencer.append('p1', entry(round * 1000 + i), token(round * 1000 + i))));
        sizes.push((await storage.head('p1'))!.size);
      }
      const at = async (size: number) => openCheckpoint((await storage.checkpointAt('p1', size))!, [verifier]).checkpoint;
      let pairs = 0;
      for (const a of sizes) {
        for (const b of sizes.filter((s) => s > a)) {
          const [c1, c2] = [await at(a), await at(b)];
          verifyConsistency(a, b, await reader.consistencyProof('p1', a, b), c1.root, c2.root);
          pairs++;
        }
      }
      assert.equal(pairs, (sizes.length * (sizes.length - 1)) / 2);
    } finally {
      await storage.close();
    }
  });

  test(`${name}: ${options.scale.toLocaleString('en')} entries through the sequencer; random proofs verify`, async () => {
    const { storage, sequencer, reader, verifier } = await setup();
    try {
      await sequencer.createLog('big', 'board.test/poll/big');
      const checkpoints: Checkpoint[] = [];
      // At least ten waves, so there are checkpoints of many sizes to prove consistent.
      const wave = Math.max(1000, Math.min(20_000, Math.floor(options.scale / 10)));
      for (let start = 0; start < options.scale; start += wave) {
        const n = Math.min(wave, options.scale - start);
        const results = await Promise.all(Array.from({ length: n }, (_, i) => sequencer.append('big', entry(start + i), token(start + i))));
        const last = results[results.length - 1]!;
        assert.equal(last.status, 'appended');
        if (last.status === 'appended') checkpoints.push(openCheckpoint(last.checkpoint, [verifier]).checkpoint);
      }
      const head = await storage.head('big');
      assert.equal(head?.size, options.scale);
      const final = checkpoints[checkpoints.length - 1]!;
      assert.equal(final.size, options.scale);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: options.scale - 1 }), async (index) => {
          const [stored] = await reader.entries('big', index, index + 1);
          assert.deepEqual(stored, entry(index));
          assert.equal(await storage.leafIndex('big', leafHash(stored!)), index);
          verifyInclusion(leafHash(stored!), index, final.size, await reader.inclusionProof('big', index, final.size), final.root);
        }),
        { numRuns: 200 },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...checkpoints), fc.constantFrom(...checkpoints), async (x, y) => {
          fc.pre(x.size !== y.size);
          const [a, b] = x.size < y.size ? [x, y] : [y, x];
          verifyConsistency(a.size, b.size, await reader.consistencyProof('big', a.size, b.size), a.root, b.root);
        }),
        { numRuns: 100 },
      );
    } finally {
      await storage.close();
    }
  });
}
