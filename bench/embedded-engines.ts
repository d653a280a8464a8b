/**
 * Which embedded SQL engine should the all-in-one mode (`npm start`) store the bulletin
 * board in: PGlite (Postgres in WASM) or `node:sqlite`? Decision record:
 * docs/embedded-engine.md.
 *
 *   node bench/embedded-engines.ts [--quick] [--runs N] [--batches N] [--dir PATH]
 *
 * Every measurement runs in a fresh child process (`--child <engine> <test> <dir>`), so
 * module loading counts towards start-up and memory is not shared between engines. Runs
 * are interleaved across engines (the machine is shared) and reported as median [min–max].
 *
 * Engines: pglite (file, NodeFS, default durability), pglite-mem, sqlite-full (file, WAL,
 * synchronous=FULL), sqlite-normal (file, WAL, synchronous=NORMAL), sqlite-mem, and `none`
 * (bare Node boot, the floor of start-up).
 * Tests: startup (fresh dir: open + schema + first query), reopen (the database a workload
 * run left behind), workload (the sequencer's batch: 1,000 spent rows with ON CONFLICT DO
 * NOTHING RETURNING, one ~200 KB entries chunk, one tree-head upsert, in one transaction).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PGlite } from '@electric-sql/pglite';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';

const ROWS_PER_BATCH = 1000;
const CHUNK_BYTES = 200 * 1024;
const POLL = 'poll-0001';
/** SQLITE_MAX_VARIABLE_NUMBER default since SQLite 3.32. */
const SQLITE_MAX_VARS = 32766;
/** Postgres' bind message counts parameters in an int16. */
const PG_MAX_PARAMS = 65535;

const ENGINES = ['pglite', 'pglite-mem', 'sqlite-full', 'sqlite-normal', 'sqlite-mem'] as const;
type Engine = (typeof ENGINES)[number] | 'none';
type Test = 'startup' | 'reopen' | 'workload';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');

// ---------------------------------------------------------------------------------------
// Engine adapters: the same schema and statements on both.

interface Batch {
  index: number;
  tokens: Uint8Array[];
  firstLeaf: number;
  chunk: Uint8Array;
  compact: Uint8Array;
}

interface Store {
  /** One transaction; returns how many spent rows were new (RETURNING count). */
  batch(b: Batch): Promise<number>;
  head(): Promise<number | null>;
  count(): Promise<number>;
  close(): Promise<void>;
}

const SQLITE_SCHEMA = `
  CREATE TABLE IF NOT EXISTS logs (
    poll_id TEXT PRIMARY KEY, size INTEGER NOT NULL, compact BLOB NOT NULL, checkpoint TEXT NOT NULL
  ) STRICT;
  CREATE TABLE IF NOT EXISTS spent (
    poll_id TEXT NOT NULL, token_id BLOB NOT NULL, leaf_index INTEGER NOT NULL,
    PRIMARY KEY (poll_id, token_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS entry_chunks (
    poll_id TEXT NOT NULL, first_index INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (poll_id, first_index)
  ) STRICT, WITHOUT ROWID;`;

const PG_SCHEMA = `
  CREATE TABLE IF NOT EXISTS logs (
    poll_id text PRIMARY KEY, size bigint NOT NULL, compact bytea NOT NULL, checkpoint text NOT NULL
  );
  CREATE TABLE IF NOT EXISTS spent (
    poll_id text NOT NULL, token_id bytea NOT NULL, leaf_index bigint NOT NULL,
    PRIMARY KEY (poll_id, token_id)
  );
  CREATE TABLE IF NOT EXISTS entry_chunks (
    poll_id text NOT NULL, first_index bigint NOT NULL, count integer NOT NULL, data bytea NOT NULL,
    PRIMARY KEY (poll_id, first_index)
  );`;

const HEAD_QUERY = 'SELECT size FROM logs WHERE poll_id = $1';

/** `($1,$2,$3),($4,$5,$6),…` for Postgres, `(?,?,?),…` for SQLite. */
function valuesList(rows: number, numbered: boolean): string {
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const b = r * 3;
    out.push(numbered ? `($${b + 1},$${b + 2},$${b + 3})` : '(?,?,?)');
  }
  return out.join(',');
}

function spendParams(b: Batch, from: number, to: number): (string | number | Uint8Array)[] {
  const params: (string | number | Uint8Array)[] = [];
  for (let i = from; i < to; i++) params.push(POLL, b.tokens[i]!, b.firstLeaf + i);
  return params;
}


async function openSqlite(path: string, synchronous: 'FULL' | 'NORMAL' | null): Promise<Store> {
  const db = new DatabaseSync(path);
  if (synchronous) db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
  db.exec(SQLITE_SCHEMA);
  const maxRows = Math.floor(SQLITE_MAX_VARS / 3);
  const spendStmts = new Map<number, StatementSync>();
  const spendStmt = (rows: number): StatementSync => {
    let s = spendStmts.get(rows);
    if (!s) {
      s = db.prepare(
        `INSERT INTO spent (poll_id, token_id, leaf_index) VALUES ${valuesList(rows, false)}
         ON CONFLICT DO NOTHING RETURNING token_id`,
      );
      spendStmts.set(rows, s);
    }
    return s;
  };
  const chunk = db.prepare('INSERT INTO entry_chunks (poll_id, first_index, count, data) VALUES (?, ?, ?, ?)');
  const upsert = db.prepare(
    `INSERT INTO logs (poll_id, size, compact, checkpoint) VALUES (?, ?, ?, ?)
     ON CONFLICT (poll_id) DO UPDATE SET size = excluded.size, compact = excluded.compact,
       checkpoint = excluded.checkpoint`,
  );
  const head = db.prepare(HEAD_QUERY.replace('$1', '?'));
  const count = db.prepare('SELECT count(*) AS n FROM spent');
  return {
    async batch(b) {
      let fresh = 0;
      db.exec('BEGIN IMMEDIATE');
      try {
        // 1,000 rows × 3 = 3,000 parameters: one statement; bigger batches are split.
        for (let from = 0; from < b.tokens.length; from += maxRows) {
          const to = Math.min(b.tokens.length, from + maxRows);
          fresh += spendStmt(to - from).all(...(spendParams(b, from, to) as (string | number | Uint8Array)[])).length;
        }
        chunk.run(POLL, b.firstLeaf, b.tokens.length, b.chunk);
        const size = b.firstLeaf + b.tokens.length;
        upsert.run(POLL, size, b.compact, `checkpoint ${size}`);
        db.exec('COMMIT');
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
      return fresh;
    },
    async head() {
      const row = head.get(POLL) as { size: number } | undefined;
      return row ? Number(row.size) : null;
    },
    async count() {
      return Number((count.get() as { n: number }).n);
    },
    async close() {
      db.close();
    },
  };
}

async function openPglite(dataDir: string | null): Promise<Store> {
  const { PGlite: Pg } = await import('@electric-sql/pglite');
  const pg: PGlite = dataDir === null ? await Pg.create() : await Pg.create(dataDir);
  await pg.exec(PG_SCHEMA);
  const maxRows = Math.floor(PG_MAX_PARAMS / 3);
  const spendSql = new Map<number, string>();
  const spend = (rows: number): string => {
    let s = spendSql.get(rows);
    if (!s) {
      s = `INSERT INTO spent (poll_id, token_id, leaf_index) VALUES ${valuesList(rows, true)}
           ON CONFLICT DO NOTHING RETURNING token_id`;
      spendSql.set(rows, s);
    }
    return s;
  };
  return {
    async batch(b) {
      return pg.transaction(async (tx) => {
        let fresh = 0;
        for (let from = 0; from < b.tokens.length; from += maxRows) {
          const to = Math.min(b.tokens.length, from + maxRows);
          fresh += (await tx.query(spend(to - from), spendParams(b, from, to))).rows.length;
        }
        await tx.query('INSERT INTO entry_chunks (poll_id, first_index, count, data) VALUES ($1, $2, $3, $4)', [
          POLL,
          b.firstLeaf,
          b.tokens.length,
          b.chunk,
        ]);
        const size = b.firstLeaf + b.tokens.length;
        await tx.query(
          `INSERT INTO logs (poll_id, size, compact, checkpoint) VALUES ($1, $2, $3, $4)
           ON CONFLICT (poll_id) DO UPDATE SET size = excluded.size, compact = excluded.compact,
             checkpoint = excluded.checkpoint`,
          [POLL, size, b.compact, `checkpoint ${size}`],
        );
        return fresh;
      });
    },
    async head() {
      const r = await pg.query<{ size: number | bigint | string }>(HEAD_QUERY, [POLL]);
      const row = r.rows[0];
      return row ? Number(row.size) : null;
    },
    async count() {
      const r = await pg.query<{ n: number | bigint | string }>('SELECT count(*) AS n FROM spent');
      return Number(r.rows[0]!.n);
    },
    async close() {
      await pg.close();
    },
  };
}

async function openEngine(engine: Engine, dir: string): Promise<Store> {
  switch (engine) {
    case 'pglite':
      return openPglite(join(dir, 'pgdata'));
    case 'pglite-mem':
      return openPglite(null);
    case 'sqlite-full':
      return openSqlite(join(dir, 'board.sqlite'), 'FULL');
    case 'sqlite-normal':
      return openSqlite(join(dir, 'board.sqlite'), 'NORMAL');
    case 'sqlite-mem':
      return openSqlite(':memory:', null);
    case 'none':
      throw new Error('engine "none" has no store');
  }
}

// ---------------------------------------------------------------------------------------
// Child: one measurement, one JSON line on stdout.

const MB = 1024 * 1024;

function memory(): { rssMB: number; heapMB: number; externalMB: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, heapMB: m.heapUsed / MB, externalMB: m.external / MB };
}

function duBytes(path: string): number {
  let total = 0;
  const st = lstatSync(path);
  if (st.isDirectory()) for (const name of readdirSync(path)) total += duBytes(join(path, name));
  return total + st.blocks * 512;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function child(engine: Engine, test: Test, dir: string, batches: number): Promise<Record<string, unknown>> {
  const t0 = performance.now(); // ms since this process started
  if (engine === 'none') return { readyMs: performance.now(), openMs: 0 };
  const store = await openEngine(engine, dir);
  const head = await store.head(); // first query answered
  const tReady = performance.now();
  const result: Record<string, unknown> = { readyMs: tReady, openMs: tReady - t0, memOpen: memory() };
  if (test === 'reopen') {
    result.headSize = head;
    result.rows = await store.count();
  }
  if (test === 'workload') {
    const base = randomBytes(CHUNK_BYTES);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const batchMs: number[] = [];
    loop.enable();
    const tStart = performance.now();
    for (let i = 0; i < batches; i++) {
      const all = randomBytes(32 * ROWS_PER_BATCH);
      const tokens: Uint8Array[] = [];
      for (let r = 0; r < ROWS_PER_BATCH; r++) tokens.push(all.subarray(r * 32, r * 32 + 32));
      const chunk = Buffer.from(base);
      chunk.writeUInt32BE(i, 0);
      const b: Batch = { index: i, tokens, firstLeaf: i * ROWS_PER_BATCH, chunk, compact: randomBytes(32 * 18) };
      const t = performance.now();
      const fresh = await store.batch(b);
      batchMs.push(performance.now() - t);
      if (fresh !== ROWS_PER_BATCH) throw new Error(`batch ${i}: ${fresh} rows returned, expected ${ROWS_PER_BATCH}`);
      await new Promise((resolve) => setImmediate(resolve)); // let the event loop breathe between batches
    }
    const wallMs = performance.now() - tStart;
    loop.disable();
    const dbMs = batchMs.reduce((a, b) => a + b, 0);
    // Re-spending the last batch must insert nothing and return nothing (not timed).
    const dupTokens: Uint8Array[] = [];
    for (let r = 0; r < 10; r++) dupTokens.push(randomBytes(32));
    const last = batches * ROWS_PER_BATCH;
    await store.batch({ index: batches, tokens: dupTokens, firstLeaf: last, chunk: base, compact: base.subarray(0, 32) });
    const again = await store.batch({
      index: batches + 1,
      tokens: dupTokens,
      firstLeaf: last + 10,
      chunk: base,
      compact: base.subarray(0, 32),
    });
    if (again !== 0) throw new Error(`re-spent tokens returned ${again} rows`);
    const sorted = [...batchMs].sort((a, b) => a - b);
    result.rows = batches * ROWS_PER_BATCH;
    result.rowsPerSec = (batches * ROWS_PER_BATCH) / (dbMs / 1000);
    result.wallRowsPerSec = (batches * ROWS_PER_BATCH) / (wallMs / 1000);
    result.batchP50Ms = percentile(sorted, 0.5);
    result.batchP99Ms = percentile(sorted, 0.99);
    result.batchMaxMs = sorted[sorted.length - 1];
    result.loopDelayMaxMs = loop.max / 1e6;
    result.memAfter = memory();
    const tClose = performance.now();
    await store.close();
    result.closeMs = performance.now() - tClose;
    result.diskMB = engine.endsWith('-mem') ? 0 : duBytes(dir) / MB;
    return result;
  }
  await store.close();
  return result;
}

// ---------------------------------------------------------------------------------------
// Parent: spawn, repeat, summarise.

function runChild(engine: Engine, test: Test, dir: string, batches: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', SELF, '--child', engine, test, dir, String(batches)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`${engine} ${test} exited ${code}: ${err || out}`));
      const r = JSON.parse(line.slice(7)) as Record<string, unknown>;
      if (err.trim()) r.stderr = err.trim();
      resolve(r);
    });
  });
}

interface Stat {
  median: number;
  min: number;
  max: number;
}

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

function get(r: Record<string, unknown>, path: string): number {
  let v: unknown = r;
  for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
  if (typeof v !== 'number') throw new Error(`missing ${path}`);
  return v;
}

function fmt(s: Stat | undefined, digits = 0): string {
  if (!s) return '–';
  const f = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

const FSYNC_BATCHES = 20;

/** fsync/fdatasync calls per commit of each file-backed engine, counted by strace if present. */
async function countFsyncs(base: string): Promise<Record<string, number | null> | null> {
  const which = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (which.error || which.status !== 0) return null;
  const out: Record<string, number | null> = {};
  for (const engine of ['pglite', 'sqlite-full', 'sqlite-normal'] as const) {
    const dir = mkdtempSync(join(base, `bv-strace-${engine}-`));
    try {
      const log = join(dir, 'strace.txt');
      mkdirSync(join(dir, 'db'));
      const args = ['-f', '-qq', '-c', '-e', 'trace=fsync,fdatasync', '-o', log];
      const r = spawnSync('strace', [...args, process.execPath, '--expose-gc', SELF, '--child', engine, 'workload', join(dir, 'db'), String(FSYNC_BATCHES)], { cwd: ROOT, stdio: 'ignore' });
      if (r.status !== 0) {
        out[engine] = null;
        continue;
      }
      let calls = 0;
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)$/.exec(line);
        if (m) calls += Number(m[1]);
      }
      out[engine] = calls / (FSYNC_BATCHES + 2); // + the two untimed re-spend transactions
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

async function parent(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const runs = opt('--runs', quick ? 3 : 5);
  const batches = opt('--batches', quick ? 50 : 200);
  const dirArg = argv.indexOf('--dir');
  const base = dirArg >= 0 ? argv[dirArg + 1]! : tmpdir();
  const results: Record<string, Record<string, Record<string, unknown>[]>> = {};
  const push = (engine: string, test: string, r: Record<string, unknown>): void => {
    ((results[engine] ??= {})[test] ??= []).push(r);
  };
  const stderrSeen = new Set<string>();
  console.error(`embedded-engines: ${runs} runs, ${batches} batches × ${ROWS_PER_BATCH} rows, temp dirs in ${base}`);
  for (let run = 1; run <= runs; run++) {
    push('none', 'startup', await runChild('none', 'startup', base, 0));
    for (const engine of ENGINES) {
      const fresh = mkdtempSync(join(base, `bv-${engine}-`));
      try {
        push(engine, 'startup', await runChild(engine, 'startup', fresh, 0));
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
      const dir = mkdtempSync(join(base, `bv-${engine}-`));
      try {
        const w = await runChild(engine, 'workload', dir, batches);
        push(engine, 'workload', w);
        if (!engine.endsWith('-mem')) {
          const r = await runChild(engine, 'reopen', dir, 0);
          if (r.rows !== batches * ROWS_PER_BATCH + 10) throw new Error(`${engine} reopen saw ${String(r.rows)} rows`);
          push(engine, 'reopen', r);
        }
        for (const r of [w]) if (typeof r.stderr === 'string') stderrSeen.add(`${engine}: ${r.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const w = results[engine]!.workload!.at(-1)!;
      console.error(
        `  run ${run} ${engine.padEnd(13)} startup ${get(results[engine]!.startup!.at(-1)!, 'readyMs').toFixed(0)} ms, ` +
          `${get(w, 'rowsPerSec').toFixed(0)} rows/s, batch p50 ${get(w, 'batchP50Ms').toFixed(1)} ms`,
      );
    }
  }

  const summary: Record<string, Record<string, Stat>> = {};
  const col = (engine: string, test: string, path: string): Stat | undefined => {
    const rs = results[engine]?.[test];
    if (!rs?.length) return undefined;
    const s = stat(rs.map((r) => get(r, path)));
    (summary[engine] ??= {})[`${test}.${path}`] = s;
    return s;
  };
  const table = (header: string[], rows: string[][]): void => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
    console.log(line(header));
    console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
    for (const r of rows) console.log(line(r));
    console.log('');
  };
  table(
    ['engine', 'cold start ready ms', 'import+open+schema ms', 'reopen ready ms', 'RSS open MB', 'heap open MB', 'RSS reopen MB'],
    ['none', ...ENGINES].map((engine) => [
      engine,
      fmt(col(engine, 'startup', 'readyMs')),
      fmt(col(engine, 'startup', 'openMs')),
      fmt(col(engine, 'reopen', 'readyMs')),
      fmt(col(engine, 'workload', 'memOpen.rssMB')),
      fmt(col(engine, 'workload', 'memOpen.heapMB'), 1),
      fmt(col(engine, 'reopen', 'memOpen.rssMB')),
    ]),
  );
  table(
    ['engine', 'rows/s', 'batch p50 ms', 'batch p99 ms', 'loop block max ms', `RSS ${batches}k rows MB`, `heap ${batches}k rows MB`, 'disk MB'],
    ENGINES.map((engine) => [
      engine,
      fmt(col(engine, 'workload', 'rowsPerSec')),
      fmt(col(engine, 'workload', 'batchP50Ms'), 1),
      fmt(col(engine, 'workload', 'batchP99Ms'), 1),
      fmt(col(engine, 'workload', 'loopDelayMaxMs'), 1),
      fmt(col(engine, 'workload', 'memAfter.rssMB')),
      fmt(col(engine, 'workload', 'memAfter.heapMB'), 1),
      fmt(col(engine, 'workload', 'diskMB')),
    ]),
  );
  for (const engine of ENGINES) {
    col(engine, 'workload', 'wallRowsPerSec');
    col(engine, 'workload', 'batchMaxMs');
    col(engine, 'workload', 'memOpen.externalMB');
    col(engine, 'workload', 'memAfter.externalMB');
    col(engine, 'workload', 'closeMs');
  }
  const fsyncs = await countFsyncs(base);
  const pgliteDir = join(ROOT, 'node_modules', '@electric-sql', 'pglite');
  let pgliteInstallMB: number | null = null;
  try {
    pgliteInstallMB = duBytes(pgliteDir) / MB;
  } catch {
    /* not installed */
  }
  console.log(`median [min–max] of ${runs} runs; ${batches} batches × ${ROWS_PER_BATCH} rows + one ${CHUNK_BYTES / 1024} KB chunk + one head upsert per transaction`);
  console.log(`pglite install size: ${pgliteInstallMB?.toFixed(1)} MB (du of node_modules/@electric-sql/pglite); node:sqlite: 0 (built in)`);
  if (fsyncs) {
    const f = Object.entries(fsyncs).map(([e, n]) => `${e} ${n === null ? '?' : n.toFixed(2)}`);
    console.log(`fsync+fdatasync syscalls per committed transaction (strace, ${FSYNC_BATCHES} batches): ${f.join(', ')}`);
  } else console.log('fsync count skipped: strace not found');
  for (const s of stderrSeen) console.log(`child stderr — ${s}`);
  console.log(
    'JSON ' +
      JSON.stringify({
        bench: 'embedded-engines',
        node: process.version,
        runs,
        batches,
        rowsPerBatch: ROWS_PER_BATCH,
        chunkBytes: CHUNK_BYTES,
        pgliteInstallMB,
        fsyncsPerCommit: fsyncs,
        summary,
      }),
  );
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  const [, engine, test, dir, batches] = argv;
  const r = await child(engine as Engine, test as Test, dir!, Number(batches ?? 0));
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
} else {
  await parent(argv);
}
