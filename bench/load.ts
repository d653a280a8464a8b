/** Runs one load job in a separate generator process (bench/load-worker.ts) and returns its result. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadJob, LoadResult } from './load-worker.ts';

export type { LoadJob, LoadRequest, LoadResult } from './load-worker.ts';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-load-'));
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(job));
  try {
    const child = spawn(process.execPath, [WORKER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`load generator exited with ${code}: ${err.slice(-2000)}`);
    return JSON.parse(out) as LoadResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws unless every request of the run was answered 2xx (a figure over failures means nothing). */
export function expectAllOk(what: string, result: LoadResult, expected: number): void {
  if (result.ok !== expected) throw new Error(`${what}: ${result.ok} of ${expected} answered 2xx (${result.failed} failed: ${result.failures.join('; ')})`);
}
