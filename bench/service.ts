/**
 * `blindvote serve` in a child process on a fresh data directory, exactly as `npm start` runs it,
 * with what the bench reads from outside: its pid (RSS from /proc), the time from spawn to
 * listening, and the data directory (the issuer's sqlite file holds the poll keys).
 *
 * BENCH_CPU_PROF=<dir> runs the service with `--cpu-prof` and writes its profile there on stop.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../server/src/cli.ts', import.meta.url));

export class Service {
  readonly url: string;
  readonly dataDir: string;
  /** Milliseconds from spawn to the listening line on stdout. */
  readonly startMs: number;
  readonly #child: ChildProcess;

  private constructor(url: string, dataDir: string, startMs: number, child: ChildProcess) {
    this.url = url;
    this.dataDir = dataDir;
    this.startMs = startMs;
    this.#child = child;
  }

  static async start(env: Readonly<Record<string, string>> = {}): Promise<Service> {
    const dataDir = mkdtempSync(join(tmpdir(), 'blindvote-bench-'));
    const profile = process.env['BENCH_CPU_PROF'];
    const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
    const started = performance.now();
    const child = spawn(process.execPath, [...execArgv, CLI, 'serve', '--data', dataDir, '--port', '0'], {
      env: { ...(process.env as Record<string, string>), BLINDVOTE_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`blindvote serve did not start in 30 s:\n${out}\n${err}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const polls = /^\s+polls\s+(\S+)\/v1\/polls$/m.exec(out);
        if (polls !== null) {
          clearTimeout(timer);
          resolve(polls[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`blindvote serve exited with ${code}:\n${out}\n${err}`));
      });
    });
    return new Service(url, dataDir, performance.now() - started, child);
  }

  /** Resident set size of the service process, bytes (Linux /proc). */
  rss(): number {
    const status = readFileSync(`/proc/${this.#child.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (kb === null) throw new Error('no VmRSS in /proc/<pid>/status');
    return Number(kb[1]) * 1024;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
