import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeBundle, entriesPath, inclusionProof, leafHash, openCheckpoint, sha256, tileNodeReader, tilePath, utf8, verifyInclusion,
} from '@blindvote/crypto';
import { exportLog } from './export.ts';
import { Sequencer } from './sequencer.ts';
import { testSigner } from './storage-contract.ts';
import { SqliteLogStorage } from './storage/sqlite.ts';

test('an exported log is a tlog-tiles directory from which proofs verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-export-'));
  const storage = new SqliteLogStorage(join(dir, 'board.db'));
  const signer = testSigner();
  try {
    const sequencer = new Sequencer(storage, [signer]);
    await sequencer.createLog('p1', 'board.test/poll/p1');
    const n = 256 * 3 + 17; // three full bundles and a partial one
    await Promise.all(Array.from({ length: n }, (_, i) => sequencer.append('p1', utf8(`entry ${i}`), sha256(utf8(`t${i}`)))));
    const out = join(dir, 'export');
    assert.equal(await exportLog(storage, 'p1', out), n);

    const read = (path: string) => new Uint8Array(readFileSync(join(out, path)));
    const { checkpoint } = openCheckpoint(readFileSync(join(out, 'checkpoint'), 'utf8'), [signer.verifierKey], 'board.test/poll/p1');
    assert.equal(checkpoint.size, n);
    assert.deepEqual(decodeBundle(read(entriesPath(3, 17)), 17)[16], utf8(`entry ${n - 1}`));
    assert.equal(decodeBundle(read(entriesPath(0)), 256).length, 256);
    const nodes = tileNodeReader(n, async (level, index, width) => read(tilePath(level, index, width === 256 ? undefined : width)));
    for (const index of [0, 255, 256, 700, n - 1]) {
      const proof = await inclusionProof(index, n, nodes);
      verifyInclusion(leafHash(utf8(`entry ${index}`)), index, n, proof, checkpoint.root);
    }
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
