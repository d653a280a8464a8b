/**
 * Ballot box durable ballots/s over HTTP (POST /v1/ballots: verify + spend + append + receipt),
 * all-in-one, against bare fastify answering the same JSON POSTs from the same generator; then
 * p50/p99 latency at half the measured maximum, open model (bench/load-worker.ts).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeBallots } from './ballots-fixture.ts';
import type { BenchPoll } from './election.ts';
import { expectAllOk, runLoad } from './load.ts';
import { median, percentile, record, recordAbsolute } from './stats.ts';

const BARE = fileURLToPath(new URL('./bare-server.ts', import.meta.url));
const CONNECTIONS = 128;
/**
 * The baseline answers in microseconds, so a short run measures connection set-up and JIT warm-up,
 * not fastify: the quick run's 2,000 requests gave 1,923/s against 14,706/s for 15,000. The bare
 * server gets a warm-up run and at least this many requests (the same bodies, repeated).
 */
const BASELINE_MIN_REQUESTS = 15_000;

async function bareServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BARE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\S+)$/m.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`bench/bare-server.ts exited with ${code}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Records the throughput rows; returns the median ballots/s and how many ballots were appended. */
export async function ballotRows(url: string, poll: BenchPoll, perRun: number, runs: number, cores: string): Promise<{ rate: number; rates: number[]; appended: number }> {
  const bare = await bareServer();
  const s: number[] = [];
  const b: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const requests = makeBallots(poll.privateKey, poll.pollId, perRun).map((x) => x.request);
      const baseline = Array.from({ length: Math.max(BASELINE_MIN_REQUESTS, requests.length) }, (_, i) => requests[i % requests.length]!);
      if (r === 0) expectAllOk('bare fastify warm-up', await runLoad({ mode: 'closed', url: bare.url, connections: CONNECTIONS, requests: baseline }), baseline.length);
      const base = await runLoad({ mode: 'closed', url: bare.url, connections: CONNECTIONS, requests: baseline });
      expectAllOk('bare fastify', base, baseline.length);
      b.push(base.rate);
      const result = await runLoad({ mode: 'closed', url, connections: CONNECTIONS, requests });
      expectAllOk('ballots', result, requests.length);
      s.push(result.rate);
    }
  } finally {
    await bare.stop();
  }
  const name = `ballot box durable ballots over HTTP, all-in-one (verify + spend + append + receipt; ${perRun} a run, ${CONNECTIONS} connections)`;
  record(name, 'ballots/s', s, { name: 'bare fastify JSON POST (same bodies, same generator)', b, target: 0.3 }, cores);
  recordAbsolute(`${name}, absolute (stretch goal)`, 'ballots/s', s, { atLeast: 10_000 }, cores);
  return { rate: median(s), rates: s, appended: perRun * runs };
}

/**
 * Open-model latency at `rate` ballots/s for `seconds`, `runs` times; returns ballots appended.
 * Runs do not wait for the service to finish what the rows before left it (its tallier verifying
 * the backlog of the maximum-rate runs): that is the service a voter meets.
 */
export async function latencyRows(url: string, poll: BenchPoll, rate: number, seconds: number, runs: number): Promise<number> {
  const p50: number[] = [];
  const p99: number[] = [];
  const n = Math.max(50, Math.round(rate * seconds));
  for (let r = 0; r < runs; r++) {
    const requests = makeBallots(poll.privateKey, poll.pollId, n).map((x) => x.request);
    const result = await runLoad({ mode: 'open', url, rate, requests });
    expectAllOk('ballot latency', result, n);
    p50.push(percentile(result.latencies!, 50));
    p99.push(percentile(result.latencies!, 99));
  }
  const what = `ballot latency at 50 % of the measured maximum (${Math.round(rate)}/s for ${seconds} s, open model, from the scheduled send)`;
  recordAbsolute(`${what}, p50`, 'ms', p50, {});
  recordAbsolute(`${what}, p99`, 'ms', p99, { atMost: 100 });
  return n * runs;
}
