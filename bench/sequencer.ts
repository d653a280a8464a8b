/**
 * The sequencer (spend + append + tiles + signed checkpoint) on PostgreSQL against bare batched
 * INSERTs into the same server, and on the embedded engine.
 *
 * Needs PostgreSQL (BLINDVOTE_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres);
 * creates and drops its own database (`createTestDatabase`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateSignerKey, NoteSigner } from '@blindvote/crypto';
import { PostgresLogStorage, Sequencer, SqliteLogStorage } from '@blindvote/bulletin-board';
import { createTestDatabase } from '@blindvote/bulletin-board/testing';
import { record } from './stats.ts';
import { interleave, quick, RUNS } from './timing.ts';

const WAVE = quick ? 60_000 : 120_000;
const BATCH = 4096;
/**
 * `n` random byte strings of the given lengths, as views into one buffer: a ballot box hands the
 * sequencer entries it parsed from one request body each, not 100k separate allocations whose
 * garbage collection would be the bench's cost, billed to the sequencer.
 */
function views(n: number, length: (i: number) => number): Uint8Array[] {
  const lengths = Array.from({ length: n }, (_, i) => length(i));
  const pool = new Uint8Array(randomBytes(lengths.reduce((a, b) => a + b, 0)));
  let at = 0;
  return lengths.map((l) => pool.subarray(at, (at += l)));
}

const entries = views(WAVE, (i) => 300 + (i % 50));
const signer = new NoteSigner(generateSignerKey('bench.test').signerKey);

/**
 * Sustained load: a closed loop keeping 2·BATCH calls in flight (as many ballot boxes would),
 * so arrivals keep coming while a batch commits. Returns calls/s.
 */
async function closedLoop(call: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < WAVE) await call(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: 2 * BATCH }, worker));
  return WAVE / ((performance.now() - start) / 1000);
}

const freshTokens = () => views(WAVE, () => 32);

/** Per poll, the tokens of its last wave, all spent: what clients retrying after an outage resubmit. */
const spentTokens = new Map<string, Uint8Array[]>();

/**
 * Calls/s of a wave of fresh ballots; with `resubmitted` > 0, that share of the calls (spread
 * evenly) are instead byte-identical resubmissions of the poll's last wave (if it had one).
 */
async function sequencerRate(sequencer: Sequencer, pollId: string, resubmitted = 0): Promise<number> {
  const tokens = freshTokens();
  const again = spentTokens.get(pollId);
  const every = resubmitted > 0 && again !== undefined ? Math.round(1 / resubmitted) : 0;
  const rate = await closedLoop(async (i) => {
    const retry = every > 0 && i % every === 0;
    const result = await sequencer.append(pollId, entries[i]!, retry ? again![i]! : tokens[i]!);
    if (result.status !== (retry ? 'duplicate' : 'appended')) throw new Error(`bench: unexpected ${result.status}`);
  });
  // The calls that resubmitted left their fresh token unspent: the next wave resubmits others.
  spentTokens.set(pollId, every > 0 ? tokens.map((t, i) => (i % every === 0 ? again![i]! : t)) : tokens);
  return rate;
}

/**
 * The naive design's write: one row per ballot (token UNIQUE, its index, its bytes) in one
 * multi-row INSERT … ON CONFLICT DO NOTHING RETURNING, sent the way the sequencer sends its
 * batches (one binary bytea per column, cut server-side), in its own transaction.
 */
let bareSize = 0;
async function bareInsert(db: pg.Pool, rows: readonly { token: Uint8Array; entry: Uint8Array }[]): Promise<void> {
  const offsets: number[] = [];
  let at = 0;
  for (const r of rows) {
    offsets.push(at);
    at += r.entry.length;
  }
  const first = bareSize;
  bareSize += rows.length;
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO bare (token_id, leaf_index, data)
       SELECT substring($1::bytea FROM (n::int - 1) * 32 + 1 FOR 32), $2::bigint + n, substring($3::bytea FROM o + 1 FOR l)
         FROM unnest($4::integer[], $5::integer[]) WITH ORDINALITY AS u(o, l, n)
       ON CONFLICT DO NOTHING RETURNING leaf_index`,
      [Buffer.concat(rows.map((r) => r.token)), first, Buffer.concat(rows.map((r) => r.entry)), offsets, rows.map((r) => r.entry.length)],
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** The same callers through the thinnest group commit: queue, insert, acknowledge (2 in flight). */
function bareBatcher(db: pg.Pool) {
  const queue: { token: Uint8Array; entry: Uint8Array; done: () => void }[] = [];
  let inflight = 0;
  const pump = () => {
    while (inflight < 2 && queue.length > 0) {
      const batch = queue.splice(0, BATCH);
      inflight++;
      void bareInsert(db, batch).then(() => {
        inflight--;
        for (const r of batch) r.done();
        pump();
      });
    }
  };
  return (token: Uint8Array, entry: Uint8Array) =>
    new Promise<void>((done) => {
      queue.push({ token, entry, done });
      if (queue.length === 1) setImmediate(pump);
    });
}

export async function sequencerRows(): Promise<void> {
  {
    const db = await createTestDatabase('blindvote_bench');
    const storage = await PostgresLogStorage.open({ connectionString: db.url, max: 4 });
    const bare = new pg.Pool({ connectionString: db.url, max: 2 });
    bare.on('error', () => undefined); // idle clients dropped with the database at the end
    try {
      await bare.query('CREATE TABLE bare (token_id bytea PRIMARY KEY, leaf_index bigint NOT NULL, data bytea NOT NULL)');
      const sequencer = new Sequencer(storage, [signer], { maxBatch: BATCH });
      await sequencer.createLog('bench', 'bench.test/poll/bench');
      // Its own log: a batch that met a spent token makes its poll's next batches spend carefully.
      await sequencer.createLog('retries', 'bench.test/poll/retries');
      const batcher = bareBatcher(bare);
      const batched = async () => {
        const tokens = freshTokens();
        return closedLoop((i) => batcher(tokens[i]!, entries[i]!));
      };
      const loop = async () => {
        const tokens = freshTokens();
        const start = performance.now();
        for (let o = 0; o < WAVE; o += BATCH) {
          await bareInsert(bare, entries.slice(o, o + BATCH).map((entry, k) => ({ token: tokens[o + k]!, entry })));
        }
        return WAVE / ((performance.now() - start) / 1000);
      };
      const { b, raw, s } = await interleave({ b: batched, raw: loop, s: () => sequencerRate(sequencer, 'bench') });
      // After the rows above, not between them: what a retry wave leaves (dead rows, vacuum)
      // would slow the measurements after it.
      await sequencerRate(sequencer, 'retries'); // the ballots the first measured wave resubmits
      const { retrying } = await interleave({ retrying: () => sequencerRate(sequencer, 'retries', 0.01) });
      const name = `sequencer appends, PostgreSQL (spend + append + tiles + signed checkpoint; ${2 * BATCH} callers in flight)`;
      record(name, 'entries/s', s, {
        name: `bare multi-row INSERT … ON CONFLICT DO NOTHING RETURNING of (token, entry) rows in a loop, batches of ${BATCH}`, b: raw, target: 0.8,
      });
      record('sequencer appends, PostgreSQL, 1 % of them byte-identical resubmissions of spent tokens (a retry wave)', 'entries/s', retrying, {
        name: 'the bare multi-row INSERTs above', b: raw, target: null,
      }, 'every batch meets spent tokens, so every batch spends with ON CONFLICT DO NOTHING');
      record(`${name}, against the same callers through a bare batcher`, 'entries/s', s, {
        name: 'the same INSERTs behind the thinnest group commit (queue, insert, acknowledge; 2 in flight, no log order)', b, target: null,
      });
    } finally {
      await bare.end();
      await storage.close();
      await db.drop();
    }
  }

  // ── sequencer on the embedded engine ────────────────────────────────────────────────────────
  {
    const dir = mkdtempSync(join(tmpdir(), 'blindvote-bench-'));
    const storage = new SqliteLogStorage(join(dir, 'board.db'));
    const sequencer = new Sequencer(storage, [signer], { maxBatch: BATCH });
    await sequencer.createLog('bench', 'bench.test/poll/bench');
    const s: number[] = [];
    for (let r = 0; r < RUNS; r++) s.push(await sequencerRate(sequencer, 'bench'));
    record('sequencer appends, embedded node:sqlite (synchronous=FULL)', 'entries/s', s);
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
