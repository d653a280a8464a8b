/**
 * Test support for the Redis-backed parts (live-redis, rate-limits-redis): the shared test Redis
 * (BLINDVOTE_TEST_REDIS_URL, default local) and throwaway `redis-server` processes a test may
 * kill, restart or FLUSHALL without touching anyone else's keys. For tests only; a missing
 * `redis-server` or Redis is a failure, never a skip.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

export const TEST_REDIS_URL = process.env.BLINDVOTE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other run uses. */
export const uniquePrefix = (what: string): string => `blindvote-test:${what}:${randomBytes(6).toString('hex')}:`;

/** A client of the shared test Redis that fails commands fast when Redis is unreachable. */
export function testRedis(url = TEST_REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
}

export interface ThrowawayRedis {
  readonly url: string;
  /** SIGKILLs the server (no shutdown, no save) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port: empty, as after a restart without persistence. */
  start(): Promise<void>;
  /** Kills it for good. */
  stop(): Promise<void>;
}

/** A `redis-server` of its own on a free port, without persistence. */
export async function throwawayRedis(): Promise<ThrowawayRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    child = proc;
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (error) => reject(new Error(`redis-server could not start (${error.message}): install Redis (redis-server on PATH)`)));
    });
    await spawned;
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      for (let i = 0; ; i++) {
        try {
          if (probe.status !== 'ready') await probe.connect();
          if ((await probe.ping()) === 'PONG') return;
        } catch (error) {
          if (i >= 100) throw new Error(`redis-server on port ${port} did not answer PING within 5 s: ${(error as Error).message}`);
          await sleep(50);
        }
      }
    } finally {
      probe.disconnect();
    }
  };
  const kill = async () => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url, kill, start, stop: kill };
}
