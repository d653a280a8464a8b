/**
 * Test support for the Kafka event bus.
 *
 * - `TEST_KAFKA`: the shared broker every Kafka test talks to (scripts/kafka.sh start; CI starts it
 *   through scripts/start-services.sh). Tests MUST use unique topic names and group ids on it and
 *   MUST NOT stop or kill it.
 * - `startTestBroker()`: a SEPARATE single-node broker in a child process (its own ports and temp
 *   directory, the cached jars of scripts/kafka.sh) for chaos tests that kill and restart it.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import { freePort } from './ports.ts';

export const TEST_KAFKA: string = process.env['BLINDVOTE_TEST_KAFKA'] ?? '127.0.0.1:9092';

const KAFKA_SH = fileURLToPath(new URL('../../../scripts/kafka.sh', import.meta.url));

export interface TestBroker {
  /** host:port of the broker. */
  readonly bootstrap: string;
  /** SIGKILLs the broker (no clean shutdown); resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the broker again on the same ports and data; resolves once it answers clients. */
  restart(): Promise<void>;
  /** Stops the broker (SIGTERM, SIGKILL after 30 s) and deletes its directory. */
  stop(): Promise<void>;
}

export interface TestBrokerOptions {
  /** Default: a free port. The controller listens on another free port. */
  readonly port?: number;
  /** Default: a new temp directory, deleted by stop(). */
  readonly dir?: string;
  /** How long a start may take before it fails. Default 90 s (the first run may fetch the jars). */
  readonly startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Resolves once the broker at `bootstrap` answers a real client: it lists a broker and the group
 * coordinator answers (same test as scripts/kafka/Ready.java). Rejects when `child` exits first or
 * at `timeoutMs`.
 */
async function waitReady(bootstrap: string, child: ChildProcess, timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`test Kafka broker on ${bootstrap} exited (${child.exitCode ?? child.signalCode}) while starting:\n${logTail(log)}`);
    }
    const admin = new Admin({ clientId: 'blindvote-test-ready', bootstrapBrokers: [bootstrap], retries: 0, connectTimeout: 1000, timeout: 2000 });
    try {
      const metadata = await admin.metadata({ topics: [] });
      if (metadata.brokers.size > 0) {
        await admin.describeGroups({ groups: ['blindvote-test-ready'] });
        return;
      }
      last = 'no broker registered yet';
    } catch (error) {
      last = error;
    } finally {
      await admin.close().catch(() => {});
    }
    await sleep(200);
  }
  throw new Error(`test Kafka broker on ${bootstrap} not ready in ${timeoutMs} ms (${String(last)}):\n${logTail(log)}`);
}

/** Starts a separate broker (see the module doc); `stop()` it in an after hook. */
export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const port = options.port ?? (await freePort());
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'blindvote-kafka-'));
  const log = join(dir, 'broker.log');
  const bootstrap = `127.0.0.1:${port}`;
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const args = ['--port', String(port), '--controller-port', String(controllerPort), '--dir', dir];
  const env = { ...process.env, BLINDVOTE_KAFKA_HEAP: process.env['BLINDVOTE_KAFKA_HEAP'] ?? '-Xmx512m' };

  // Fetch the jars (once per machine), write the config and format the storage, in the open.
  const prepared = spawnSync('bash', [KAFKA_SH, 'prepare', ...args], { env, encoding: 'utf8' });
  if (prepared.status !== 0) {
    throw new Error(`scripts/kafka.sh prepare failed (${prepared.status}): ${prepared.stderr}`);
  }

  let child: ChildProcess | null = null;
  // A test process that ends without stop() MUST NOT leave a broker behind.
  const orphan = () => {
    child?.kill('SIGKILL');
  };
  process.once('exit', orphan);
  const start = async () => {
    const out = openSync(log, 'a');
    try {
      // `kafka.sh run` execs the JVM: this child IS the broker, so SIGKILL reaches it.
      child = spawn('bash', [KAFKA_SH, 'run', ...args], { env, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    await waitReady(bootstrap, child, timeoutMs, log);
  };
  const signal = async (name: NodeJS.Signals, graceMs: number) => {
    const running = child;
    child = null;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    running.kill(name);
    const gone = exited(running);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
    const stopped = await Promise.race([gone.then(() => true), grace]);
    clearTimeout(timer);
    if (stopped) return;
    running.kill('SIGKILL');
    await gone;
  };

  try {
    await start();
  } catch (error) {
    process.removeListener('exit', orphan);
    await signal('SIGKILL', 0);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    bootstrap,
    kill: () => signal('SIGKILL', 10_000),
    restart: async () => {
      await signal('SIGTERM', 30_000);
      await start();
    },
    stop: async () => {
      process.removeListener('exit', orphan);
      await signal('SIGTERM', 30_000);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
