/**
 * DESIGN.md promise 3 for the log core: a process appending under load is SIGKILLed at random
 * moments and restarted (resubmitting from where it stood, so some entries arrive twice);
 * at the end every acknowledged append is in the log exactly once, at the index it was
 * acknowledged with, every index holds one distinct entry, and the tree verifies.
 * Runs against node:sqlite and the real PostgreSQL server.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CompactRange, generateSignerKey, leafHash, openCheckpoint } from '@blindvote/crypto';
import { PostgresLogStorage } from './storage/postgres.ts';
import { SqliteLogStorage } from './storage/sqlite.ts';
import type { LogStorage } from './storage.ts';
import { crashEntry, crashToken } from './testing/crash-data.ts';
import { createTestDatabase } from './testing/postgres.ts';

const KILLS = Number(process.env.BLINDVOTE_CRASH_KILLS ?? 5);
const CHILD = join(import.meta.dirname, 'testing', 'append-child.ts');
const { NODE_TEST_CONTEXT: _, ...env } = process.env;

/** Runs the child until it is killed after `ms` (or finishes); returns the acks it printed. */
function runChild(target: string, signerKey: string, first: number, count: number, ms: number) {
  return new Promise<Map<number, number>>((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, target, signerKey, String(first), String(count)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const acks = new Map<number, number>();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), ms);
      const m = /^ack (\d+) (appended|duplicate) (\d+)$/.exec(line);
      if (m) acks.set(Number(m[1]), Number(m[3]));
      else if (line !== 'ready') reject(new Error(`child: unexpected line ${line}`));
    });
    // 'close', not 'exit': every line the child printed before it died has been read by then.
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(acks);
      else reject(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

async function crashRun(target: string, open: () => Promise<LogStorage>): Promise<void> {
  const { signerKey, verifierKey } = generateSignerKey('board.test');
  const acked = new Map<number, number>();
  let first = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    // Restart a little behind the last ack, so entries in flight at the kill are resubmitted.
    const acks = await runChild(target, signerKey, Math.max(0, first - 300), 200_000, 150 + Math.floor(Math.random() * 500));
    for (const [n, index] of acks) {
      const before = acked.get(n);
      assert.ok(before === undefined || before === index, `entry ${n} acknowledged at ${before} and at ${index}`);
      acked.set(n, index);
      first = Math.max(first, n + 1);
    }
  }
  assert.ok(acked.size > 0, 'the child acknowledged nothing');

  const storage = await open();
  try {
    const head = (await storage.head('crash'))!;
    const { checkpoint } = openCheckpoint(head.checkpoint, [verifierKey], 'board.test/poll/crash');
    assert.equal(checkpoint.size, head.size);
    const entries = await storage.readEntries('crash', 0, head.size);
    assert.equal(entries.length, head.size, 'every index holds an entry');
    const range = new CompactRange();
    const seen = new Set<string>();
    for (const entry of entries) {
      const text = new TextDecoder().decode(entry);
      assert.ok(!seen.has(text), `entry stored twice: ${text}`);
      seen.add(text);
      range.append(leafHash(entry));
    }
    assert.deepEqual(range.root(), checkpoint.root, 'the stored entries hash to the signed root');
    for (const [n, index] of acked) {
      assert.deepEqual(entries[index], crashEntry(n), `acknowledged entry ${n} is at index ${index}`);
      assert.equal(await storage.spentIndex('crash', crashToken(n)), index);
    }
  } finally {
    await storage.close();
  }
}

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

test(`sqlite: ${KILLS} SIGKILLs under load lose and duplicate nothing acknowledged`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-crash-'));
  dirs.push(dir);
  const path = join(dir, 'board.db');
  await crashRun(path, async () => new SqliteLogStorage(path));
});

test(`postgres: ${KILLS} SIGKILLs under load lose and duplicate nothing acknowledged`, async () => {
  const db = await createTestDatabase('blindvote_crash_test');
  try {
    await crashRun(db.url, () => PostgresLogStorage.open({ connectionString: db.url, max: 2 }));
  } finally {
    await db.drop();
  }
});
