/**
 * The load generator, run in its own process (`node bench/load-worker.ts <job.json>`) so its CPU
 * is not the service's. Prints one JSON line (LoadResult) on stdout.
 *
 *   closed  autocannon (`connections` keep-alive connections, each sends its next request when
 *           the previous is answered) through the job's requests once: the maximum rate.
 *   open    requests sent on a fixed schedule (`rate`/s) whatever the responses, each latency
 *           measured from its SCHEDULED send time, so a stall counts against every request
 *           it delays (no coordinated omission).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';

/** autocannon ships no types; the fields read here are its documented result. */
const autocannon = createRequire(import.meta.url)('autocannon') as (options: object) => Promise<AutocannonResult>;

export interface LoadRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export type LoadJob =
  | { readonly mode: 'closed'; readonly url: string; readonly connections: number; readonly requests: readonly LoadRequest[] }
  | { readonly mode: 'open'; readonly url: string; readonly rate: number; readonly requests: readonly LoadRequest[] };

export interface LoadResult {
  /** 2xx responses. */
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  /** 2xx per second over the run. */
  readonly rate: number;
  /** Open model only: latencies from the scheduled send, ms. */
  readonly latencies?: number[];
  /** A few distinct failure statuses or messages, to say why. */
  readonly failures: string[];
}

/** The fields of autocannon's result read here (seconds; counts of responses and errors). */
interface AutocannonResult {
  readonly duration: number;
  readonly '2xx': number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

async function closed(job: Extract<LoadJob, { mode: 'closed' }>): Promise<LoadResult> {
  let next = 0;
  let answered = 0;
  let last = 0;
  const failures = new Set<string>();
  // autocannon notices the end of a run on its once-a-second tick, so its `duration` is rounded
  // up to whole seconds (2,000 requests answered in 1.1 s measured as 2.03 s): time the first send
  // to the last answer here instead.
  const started = performance.now();
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    amount: job.requests.length,
    timeout: 30,
    requests: [{
      setupRequest: (req: any) => {
        const r = job.requests[next++ % job.requests.length]!;
        return { ...req, method: r.method, path: r.path, headers: r.headers, body: r.body };
      },
      onResponse: (status: number, body: string) => {
        if (++answered === job.requests.length) last = performance.now();
        if ((status < 200 || status > 299) && failures.size < 5) failures.add(`${status} ${body.slice(0, 160)}`);
      },
    }],
  });
  const ok = result['2xx'];
  const seconds = last > 0 ? (last - started) / 1000 : result.duration;
  return { ok, failed: result.non2xx + result.errors + result.timeouts, seconds, rate: ok / seconds, failures: [...failures] };
}

async function open(job: Extract<LoadJob, { mode: 'open' }>): Promise<LoadResult> {
  const target = new URL(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const latencies: number[] = [];
  const failures = new Set<string>();
  let ok = 0;
  let failed = 0;
  let done = 0;
  const n = job.requests.length;
  const interval = 1000 / job.rate;
  const t0 = performance.now() + 20;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const settle = (scheduled: number, status: number | string) => {
    latencies.push(performance.now() - scheduled);
    if (typeof status === 'number' && status >= 200 && status <= 299) ok++;
    else {
      failed++;
      if (failures.size < 5) failures.add(String(status));
    }
    if (++done === n) finish();
  };
  const send = (i: number) => {
    const r = job.requests[i]!;
    const scheduled = t0 + i * interval;
    const req = request({ host: target.hostname, port: target.port, method: r.method, path: r.path, headers: r.headers, agent }, (res) => {
      res.resume();
      res.once('end', () => settle(scheduled, res.statusCode ?? 0));
    });
    req.once('error', (err) => settle(scheduled, err.message));
    req.end(r.body);
  };
  let next = 0;
  const tick = () => {
    const now = performance.now();
    while (next < n && t0 + next * interval <= now) send(next++);
    if (next < n) setTimeout(tick, Math.max(0, Math.min(1, t0 + next * interval - performance.now())));
  };
  setTimeout(tick, 20);
  await finished;
  agent.destroy();
  const seconds = (performance.now() - t0) / 1000;
  return { ok, failed, seconds, rate: ok / seconds, latencies, failures: [...failures] };
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadJob;
const result = job.mode === 'closed' ? await closed(job) : await open(job);
process.stdout.write(JSON.stringify(result) + '\n');
