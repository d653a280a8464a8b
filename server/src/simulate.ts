/**
 * `blindvote simulate`: whole elections against a running service, through its public HTTP API
 * only, like pgbench for polls. An admin creates and publishes the polls; N simulated voters
 * register, sign in, blind and fetch their tokens, wait a random delay, vote with random
 * choices and verify every receipt; then the polls are closed, the tally awaited and the board
 * audited with the verifier. It is a demo, a smoke test and a load generator.
 */
import { performance } from 'node:perf_hooks';
import { Ballot, Poll, Receipt, TokenClient, fromBase64, toBase64, verifyReceipt } from '@blindvote/crypto';
import type { BlindingState, ReceiptJSON } from '@blindvote/crypto';
import { allPassed, audit, httpFetcher } from '@blindvote/verifier';
import type { Check } from '@blindvote/verifier';
import { Api, awaitTally, castBallot, pool, publishPoll } from './client.ts';

export interface SimulateOptions {
  readonly url: string;
  readonly voters: number;
  readonly polls: number;
  readonly adminUsername: string;
  readonly adminPassword: string;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Each voter waits 0..maxDelayMs between getting the token and voting (DESIGN.md: weakens timing correlation). */
  readonly maxDelayMs: number;
  /** Close the polls, await the tally and audit the boards (default true). */
  readonly close: boolean;
  readonly onProgress?: (line: string) => void;
}

export interface PollSummary {
  readonly poll_id: string;
  readonly board: string;
  readonly ballots: number;
  readonly expected: Record<string, number>;
  readonly tally: Record<string, number> | null;
  readonly tally_matches: boolean | null;
  readonly audit_ok: boolean | null;
  readonly failed_checks: readonly Check[];
}

export interface SimulateSummary {
  readonly ok: boolean;
  readonly voters: number;
  readonly polls: readonly PollSummary[];
  readonly tokens_issued: number;
  readonly ballots_accepted: number;
  readonly receipts_verified: number;
  readonly errors: readonly string[];
  readonly seconds: { readonly setup: number; readonly issue: number; readonly vote: number; readonly close_and_audit: number };
  readonly ballot_latency_ms: { readonly p50: number; readonly p99: number; readonly max: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function randomChoice(poll: Poll): string[] {
  const ids = poll.ballot.options.map((o) => o.id);
  if (poll.ballot.kind === 'single') return [ids[Math.floor(Math.random() * ids.length)]!];
  const k = 1 + Math.floor(Math.random() * poll.ballot.max_choices);
  const shuffled = [...ids].sort(() => Math.random() - 0.5);
  return shuffled.slice(0, k).sort();
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function simulate(options: SimulateOptions): Promise<SimulateSummary> {
  const api = new Api(options.url);
  const say = options.onProgress ?? (() => {});
  const errors: string[] = [];
  const run = Math.random().toString(36).slice(2, 8);
  const t0 = performance.now();

  // 1. Setup: the admin creates and publishes the polls with every simulated voter on the roll.
  const admin = await api.login(options.adminUsername, options.adminPassword);
  const usernames = Array.from({ length: options.voters }, (_, i) => `sim-${run}-${i}`);
  const password = `pw-${run}-${Math.random().toString(36).slice(2)}`;
  say(`registering ${options.voters} voters`);
  const sessions: (string | null)[] = new Array(options.voters).fill(null);
  await pool(usernames, options.concurrency, async (username, i) => {
    await api.call('POST', '/v1/accounts', { body: { username, password } });
    sessions[i] = await api.login(username, password);
  }, errors);

  const polls: { poll: Poll; client: TokenClient; board: string }[] = [];
  for (let p = 0; p < options.polls; p++) {
    const multi = p % 2 === 1;
    const { poll, board } = await publishPoll(api, admin, {
      poll_id: `sim-${run}-${p}`,
      title: `Simulated poll ${p + 1} (${run})`,
      description: 'Created by blindvote simulate.',
      options: [
        { id: 'apples', label: 'Apples' },
        { id: 'pears', label: 'Pears' },
        { id: 'plums', label: 'Plums' },
      ],
      kind: multi ? 'multi' : 'single',
      max_choices: multi ? 2 : 1,
    }, usernames);
    polls.push({ poll, client: await TokenClient.create(poll.token_key.spki, poll.poll_id), board });
  }
  const t1 = performance.now();
  say(`published ${polls.length} poll(s); issuing tokens`);

  // 2. Issue: each voter blinds (saving the state first, as a real client must) and fetches a token per poll.
  type Job = { voter: number; poll: number };
  const jobs: Job[] = [];
  for (let v = 0; v < options.voters; v++) for (let p = 0; p < polls.length; p++) if (sessions[v] !== null) jobs.push({ voter: v, poll: p });
  const tokens = new Map<Job, { state: BlindingState; sig: Uint8Array }>();
  await pool(jobs, options.concurrency, async (job) => {
    const { client, poll } = polls[job.poll]!;
    const state = await client.blind();
    const reply = await api.call('POST', `/v1/polls/${poll.poll_id}/tokens`, { token: sessions[job.voter]!, body: { blinded_msg: toBase64(state.blindedMsg) } });
    tokens.set(job, { state, sig: fromBase64(reply.blind_sig, 'blind_sig') });
  }, errors);
  const t2 = performance.now();
  say(`${tokens.size} tokens issued; voting`);

  // 3. Vote: no credentials, a random delay, a random choice; every receipt verified against the manifest's board key.
  const latencies: number[] = [];
  const expected = polls.map(() => new Map<string, number>());
  const acceptedPerPoll = polls.map(() => 0);
  let accepted = 0;
  let verified = 0;
  await pool([...tokens.entries()], options.concurrency, async ([job, { state, sig }]) => {
    const { client, poll } = polls[job.poll]!;
    const token = await client.finalize(state, sig);
    const choice = randomChoice(poll);
    const ballot = new Ballot({ poll_id: poll.poll_id, token, choice });
    await sleep(Math.random() * options.maxDelayMs);
    const start = performance.now();
    const receiptJson = (await castBallot(api, ballot)) as ReceiptJSON;
    latencies.push(performance.now() - start);
    accepted++;
    acceptedPerPoll[job.poll]!++;
    for (const id of choice) expected[job.poll]!.set(id, (expected[job.poll]!.get(id) ?? 0) + 1);
    const receipt = Receipt.fromJSON(receiptJson);
    const checks = await verifyReceipt(receipt, poll);
    if (!checks.every((c) => c.ok)) throw new Error(`receipt ${receipt.leaf_index} of ${poll.poll_id} does not verify: ${JSON.stringify(checks)}`);
    verified++;
  }, errors);
  const t3 = performance.now();
  say(`${accepted} ballots accepted, ${verified} receipts verified`);

  // 4. Close, await the tally, audit each board from the outside.
  const summaries: PollSummary[] = [];
  for (const [p, { poll, board }] of polls.entries()) {
    const want = Object.fromEntries(poll.ballot.options.map((o) => [o.id, expected[p]!.get(o.id) ?? 0]));
    let tally: Record<string, number> | null = null;
    let auditOk: boolean | null = null;
    let failed: Check[] = [];
    if (options.close) {
      try {
        await api.call('POST', `/v1/polls/${poll.poll_id}/close`, { token: admin });
        const results = await awaitTally(api, poll.poll_id);
        tally = results.final?.tally?.counts ?? null;
        const checks = await audit(httpFetcher(board), { boardKey: poll.board_key });
        auditOk = allPassed(checks);
        failed = checks.filter((c) => !c.ok);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const matches = tally === null ? null : Object.keys(want).every((id) => tally![id] === want[id]);
    summaries.push({ poll_id: poll.poll_id, board, ballots: acceptedPerPoll[p]!, expected: want, tally, tally_matches: matches, audit_ok: auditOk, failed_checks: failed });
  }
  const t4 = performance.now();
  latencies.sort((a, b) => a - b);
  const ok = errors.length === 0 && verified === jobs.length && jobs.length === options.voters * options.polls &&
    summaries.every((s) => !options.close || (s.tally_matches === true && s.audit_ok === true));
  return {
    ok,
    voters: options.voters,
    polls: summaries,
    tokens_issued: tokens.size,
    ballots_accepted: accepted,
    receipts_verified: verified,
    errors,
    seconds: { setup: (t1 - t0) / 1000, issue: (t2 - t1) / 1000, vote: (t3 - t2) / 1000, close_and_audit: (t4 - t3) / 1000 },
    ballot_latency_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 },
  };
}
