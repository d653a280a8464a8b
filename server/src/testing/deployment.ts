/**
 * Test support: a real all-in-one deployment — `blindvote serve` in a child process on a temp
 * data directory, exactly as `npm start` runs it — plus the knobs the end-to-end scenario needs
 * (stop, restart, SIGKILL, reach into the board's database to tamper with an entry).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { readAdminPassword } from '../keys.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

/** What the election scenario needs from a deployment, whichever way it runs. */
export interface Deployment {
  /** Public base URL. */
  readonly url: string;
  readonly adminUsername: string;
  readonly adminPassword: string;
  /** Restarts every process; data persists. */
  restart(): Promise<void>;
  /** Changes one byte of entry `index` of a poll's log where the board stores it (the service is stopped meanwhile). */
  tamperEntry(pollId: string, index: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A stored chunk of entries (the bundle encoding: uint16 length, bytes) starting at `firstIndex`,
 * with one byte of entry `index` changed: what an insider with database access could do.
 */
export function tamperChunk(chunk: Uint8Array, firstIndex: number, index: number): Uint8Array {
  const data = Uint8Array.from(chunk);
  let offset = 0;
  for (let i = firstIndex; i < index; i++) offset += 2 + ((data[offset]! << 8) | data[offset + 1]!);
  const length = (data[offset]! << 8) | data[offset + 1]!;
  const at = offset + 2 + length - 3;
  data[at] = data[at] === 0x61 ? 0x62 : 0x61;
  return data;
}

export interface AllInOneOptions {
  readonly env?: Readonly<Record<string, string>>;
}

export class AllInOne implements Deployment {
  readonly dataDir: string;
  readonly adminUsername = 'admin';
  readonly #env: Record<string, string>;
  #child: ChildProcess | null = null;
  #url = '';
  #port = 0;
  /** The child's stderr, every start. */
  output = '';
  /** The child's stdout (the service log), every start. */
  stdout = '';

  private constructor(options: AllInOneOptions) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'blindvote-e2e-'));
    this.#env = { ...(process.env as Record<string, string>), BLINDVOTE_LOG_LEVEL: 'warn', ...options.env };
    delete this.#env['NODE_TEST_CONTEXT'];
  }

  static async start(options: AllInOneOptions = {}): Promise<AllInOne> {
    const deployment = new AllInOne(options);
    await deployment.#spawn();
    return deployment;
  }

  get url(): string {
    return this.#url;
  }

  get adminPassword(): string {
    const admin = readAdminPassword(this.dataDir);
    if (admin === null) throw new Error('no admin password in the data directory');
    return admin.password;
  }

  async #spawn(): Promise<void> {
    // The first start picks a free port; restarts keep it, so board URLs (checkpoint origins) stay the same.
    const args = [CLI, 'serve', '--data', this.dataDir, '--port', String(this.#port)];
    const child = spawn(process.execPath, args, { env: this.#env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`blindvote serve did not start in 30 s:\n${out}\n${this.output}`)), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        this.stdout += d.toString();
        out += d.toString();
        const polls = /^\s+polls\s+(\S+)\/v1\/polls$/m.exec(out);
        if (polls !== null) {
          clearTimeout(timer);
          this.#url = polls[1]!;
          this.#port = Number(new URL(this.#url).port);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`blindvote serve exited with ${code}:\n${out}\n${this.output}`));
      });
    });
  }

  async #halt(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.#child = null;
  }

  async restart(): Promise<void> {
    await this.#halt('SIGTERM');
    await this.#spawn();
  }

  async kill(): Promise<void> {
    await this.#halt('SIGKILL');
  }

  async tamperEntry(pollId: string, index: number): Promise<void> {
    await this.#halt('SIGTERM');
    const db = new DatabaseSync(join(this.dataDir, 'board.db'));
    try {
      const row = db
        .prepare('SELECT first_index, data FROM entry_chunks WHERE poll_id = ? AND first_index <= ? ORDER BY first_index DESC LIMIT 1')
        .get(pollId, index) as { first_index: number; data: Uint8Array } | undefined;
      if (row === undefined) throw new Error(`no stored chunk holds entry ${index} of ${pollId}`);
      const data = tamperChunk(row.data, row.first_index, index);
      db.prepare('UPDATE entry_chunks SET data = ? WHERE poll_id = ? AND first_index = ?').run(data, pollId, row.first_index);
    } finally {
      db.close();
    }
    await this.#spawn();
  }

  async stop(): Promise<void> {
    await this.#halt('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
