/**
 * Test support: the distributed mode as processes — the topology of docker-compose.yml, each
 * component `blindvote serve --target <name>` in its own child process, on the real PostgreSQL
 * (a fresh issuer database and a fresh board database, each with its own role), Redis and Kafka,
 * behind one gateway. Every deployment has its own Kafka topic prefix and Redis key prefix, so
 * several can share one broker and one Redis. A chaos test may give it a PostgreSQL server and a
 * Kafka broker of its own (to kill), and `restartExited()` is its supervisor.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateSignerKey } from '@blindvote/crypto';
import type { Target } from '../config.ts';
import { readAdminPassword } from '../keys.ts';
import type { Deployment } from './deployment.ts';
import { tamperChunk } from './deployment.ts';
import { TEST_KAFKA } from './kafka.ts';
import { TEST_REDIS_URL } from './redis.ts';
import { createServiceDatabases } from './postgres.ts';
import { freePort } from './ports.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));

/** The processes, as in docker-compose.yml: two of every stateless component, two sequencers. */
export const TOPOLOGY: readonly { readonly target: Target; readonly replicas: number }[] = [
  { target: 'sequencer', replicas: 2 },
  { target: 'board-reader', replicas: 2 },
  { target: 'tallier', replicas: 2 },
  { target: 'ballot-box', replicas: 2 },
  { target: 'issuer', replicas: 1 },
  { target: 'gateway', replicas: 1 },
];

export interface DistributedOptions {
  /** Kafka bootstrap servers (default the shared test broker). */
  readonly kafka?: string;
  /** Admin URL of the PostgreSQL server the two databases are made on (default the shared test server, BLINDVOTE_TEST_PG_URL). */
  readonly pgAdminUrl?: string;
  /** Extra environment for every process (the identity provider's variables, say). */
  readonly env?: Readonly<Record<string, string>>;
}

export class Process {
  readonly name: string;
  readonly target: Target;
  readonly port: number;
  readonly #env: Record<string, string>;
  #child: ChildProcess | null = null;
  /** stdout and stderr of every start. */
  output = '';

  constructor(name: string, target: Target, port: number, env: Record<string, string>) {
    this.name = name;
    this.target = target;
    this.port = port;
    this.#env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** How the last start ended on its own (exit code or signal); null while it runs, before start() and after stop() or kill(). */
  get exit(): number | NodeJS.Signals | null {
    return this.#child === null ? null : (this.#child.exitCode ?? this.#child.signalCode);
  }

  async start(): Promise<void> {
    // Started in the data directory: a .env file in the repository MUST NOT reach the processes.
    const child = spawn(process.execPath, [CLI, 'serve', '--target', this.target, '--port', String(this.port)], { env: this.#env, cwd: this.#env['BLINDVOTE_DATA_DIR'], stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-100_000)));
    // This start's stdout alone: the output of an earlier start MUST NOT count as listening.
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start in 60 s:\n${this.output.slice(-4000)}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        this.output = (this.output + d.toString()).slice(-100_000);
        stdout = (stdout + d.toString()).slice(-10_000);
        if (/listening on/.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before listening:\n${this.output.slice(-4000)}`));
      });
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    this.#child = null;
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }
}

export class Distributed implements Deployment {
  readonly adminUsername = 'admin';
  readonly processes: Process[] = [];
  readonly dataDir: string;
  /** The issuer's database (a test may read the poll's token key out of it, as an insider could). */
  readonly issuerDatabaseUrl: string;
  readonly #boardUrl: string;
  readonly #drop: () => Promise<void>;
  readonly #gateway: Process;

  private constructor(processes: Process[], gateway: Process, dataDir: string, issuerUrl: string, boardUrl: string, drop: () => Promise<void>) {
    this.processes = processes;
    this.issuerDatabaseUrl = issuerUrl;
    this.#gateway = gateway;
    this.dataDir = dataDir;
    this.#boardUrl = boardUrl;
    this.#drop = drop;
  }

  static async start(options: DistributedOptions = {}): Promise<Distributed> {
    const id = randomBytes(4).toString('hex');
    const dbs = await createServiceDatabases(`e2e_${id}`, options.pgAdminUrl);
    const dataDir = mkdtempSync(join(tmpdir(), 'blindvote-distributed-'));
    const board = generateSignerKey('127.0.0.1');
    const acceptance = generateSignerKey('127.0.0.1/acceptance');
    const gatewayPort = await freePort();
    const publicUrl = `http://127.0.0.1:${gatewayPort}`;
    const base: Record<string, string> = {
      ...(process.env as Record<string, string>),
      BLINDVOTE_LOG_LEVEL: 'warn',
      BLINDVOTE_PUBLIC_URL: publicUrl,
      BLINDVOTE_DATA_DIR: dataDir,
      BLINDVOTE_KAFKA_BROKERS: options.kafka ?? TEST_KAFKA,
      BLINDVOTE_KAFKA_TOPIC_PREFIX: `e2e-${id}.`,
      BLINDVOTE_KAFKA_PARTITIONS: '4',
      BLINDVOTE_KAFKA_REPLICATION: '1', // one test broker
      BLINDVOTE_REDIS_URL: TEST_REDIS_URL,
      BLINDVOTE_REDIS_PREFIX: `e2e-${id}:`,
      BLINDVOTE_PG_POOL_SIZE: '4',
      ...options.env,
    };
    delete base['NODE_TEST_CONTEXT'];
    // Each process gets only the secrets and the database of its own component.
    const envOf = (target: Target): Record<string, string> => {
      const env = { ...base };
      // The gateway sets X-Forwarded-For to the client's address: the issuer's per-IP limits need it.
      if (target === 'issuer') Object.assign(env, { BLINDVOTE_ISSUER_DATABASE_URL: dbs.issuerUrl, BLINDVOTE_BOARD_KEY: board.verifierKey, BLINDVOTE_TRUST_PROXY: 'true' });
      if (['ballot-box', 'board-reader', 'sequencer', 'tallier'].includes(target)) env['BLINDVOTE_BOARD_DATABASE_URL'] = dbs.boardUrl;
      if (target === 'sequencer') env['BLINDVOTE_BOARD_SIGNER_KEY'] = board.signerKey;
      if (target === 'ballot-box') env['BLINDVOTE_ACCEPTANCE_SIGNER_KEY'] = acceptance.signerKey;
      return env;
    };
    const processes: Process[] = [];
    for (const { target, replicas } of TOPOLOGY) {
      if (target === 'gateway') continue;
      for (let i = 1; i <= replicas; i++) processes.push(new Process(`${target}-${i}`, target, await freePort(), envOf(target)));
    }
    const pool = (target: Target) => processes.filter((p) => p.target === target).map((p) => p.url).join(',');
    const gateway = new Process('gateway', 'gateway', gatewayPort, {
      ...base,
      BLINDVOTE_UPSTREAM_ISSUER: pool('issuer'),
      BLINDVOTE_UPSTREAM_BALLOT_BOX: pool('ballot-box'),
      BLINDVOTE_UPSTREAM_BOARD: pool('board-reader'),
      BLINDVOTE_UPSTREAM_TALLIER: pool('tallier'),
    });
    processes.push(gateway);
    const deployment = new Distributed(processes, gateway, dataDir, dbs.issuerUrl, dbs.boardUrl, async () => {
      await dbs.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    try {
      await deployment.#startAll();
    } catch (err) {
      await deployment.stop();
      throw err;
    }
    return deployment;
  }

  get url(): string {
    return this.#gateway.url;
  }

  get adminPassword(): string {
    const admin = readAdminPassword(this.dataDir);
    if (admin === null) throw new Error('no admin password in the issuer data directory');
    return admin.password;
  }

  /** The processes of one target. */
  of(target: Target): Process[] {
    return this.processes.filter((p) => p.target === target);
  }

  /** The sequencer holding the writer lock, or null. */
  async leader(): Promise<Process | null> {
    for (const p of this.of('sequencer')) {
      if (!p.running) continue;
      const res = await fetch(`${p.url}/v1/sequencer`).catch(() => null);
      if (res?.ok && ((await res.json()) as { leader: boolean }).leader) return p;
    }
    return null;
  }

  async #startAll(): Promise<void> {
    // The sequencers create the topics; the rest start together.
    const sequencers = this.of('sequencer');
    await Promise.all(sequencers.map((p) => p.start()));
    for (let i = 0; (await this.leader()) === null; i++) {
      if (i > 600) throw new Error('no sequencer took the writer lock in 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(this.processes.filter((p) => p.target !== 'sequencer' && p.target !== 'gateway').map((p) => p.start()));
    await this.#gateway.start();
  }

  async #stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }

  async restart(): Promise<void> {
    await this.#stopAll();
    await this.#startAll();
  }

  /**
   * The supervisor (docker-compose.yml `restart: unless-stopped`): starts again every process that
   * exited on its own, leaving those a test stopped or killed. Returns them with how each ended.
   */
  async restartExited(): Promise<{ readonly process: Process; readonly exit: number | NodeJS.Signals }[]> {
    const exited = this.processes.flatMap((p) => {
      const exit = p.exit;
      return exit === null ? [] : [{ process: p, exit }];
    });
    await Promise.all(exited.map((e) => e.process.start()));
    return exited;
  }

  async tamperEntry(pollId: string, index: number): Promise<void> {
    await this.#stopAll();
    const client = new pg.Client({ connectionString: this.#boardUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ first_index: string; data: Buffer }>(
        'SELECT first_index, data FROM entry_chunks WHERE poll_id = $1 AND first_index <= $2 ORDER BY first_index DESC LIMIT 1',
        [pollId, index],
      );
      const row = rows[0];
      if (row === undefined) throw new Error(`no stored chunk holds entry ${index} of ${pollId}`);
      const data = tamperChunk(row.data, Number(row.first_index), index);
      await client.query('UPDATE entry_chunks SET data = $1 WHERE poll_id = $2 AND first_index = $3', [Buffer.from(data), pollId, row.first_index]);
    } finally {
      await client.end();
    }
    await this.#startAll();
  }

  /** Every process's output, for a failing test's message. */
  output(): string {
    return this.processes.map((p) => `--- ${p.name}\n${p.output.slice(-3000)}`).join('\n');
  }

  async stop(): Promise<void> {
    await this.#stopAll();
    await this.#drop();
  }
}
