/**
 * Chaos in the distributed mode (issues 4 and 7, DESIGN.md promises 2-4): a 20,000-ballot load
 * through the gateway while, one after another, a ballot box, the sequencer holding the writer
 * lock, a tallier, the Kafka broker and the PostgreSQL server are SIGKILLed and restarted.
 * Afterwards every acknowledged ballot — a receipt (200/201) or a signed acceptance (202), later
 * exchanged — is on the board exactly once at its leaf, the board holds nothing else,
 * `blindvote-verify audit` passes, and the live counts pushed by the talliers equal the recount
 * of the acknowledged ballots.
 *
 * The deployment runs on a Kafka broker and a PostgreSQL server of its own (the ones it kills;
 * testing/kafka.ts, testing/postgres-server.ts) and the shared Redis. After PostgreSQL comes back
 * the test plays the supervisor (docker-compose.yml `restart: unless-stopped`,
 * `Distributed.restartExited()`): the sequencers exit on purpose when their lock connection dies
 * (crash-only, sequencer.ts) and are started again; every other process MUST survive the outage
 * and reconnect on its own. Ballots carry tokens made with the poll's private key read out of the
 * issuer's database (`testToken`, as in crash.test.ts): the ballot box cannot tell them from
 * issued ones. BLINDVOTE_CHAOS_BALLOTS changes the load (default 20,000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import pg from 'pg';
import { Acceptance, Ballot, leafHash, toBase64 } from '@blindvote/crypto';
import type { ReceiptJSON } from '@blindvote/crypto';
import { testToken } from '@blindvote/crypto/testing';
import { allPassed, audit, httpFetcher } from '@blindvote/verifier';
import { Api } from './client.ts';
import type { AcceptanceJSON } from './client.ts';
import { Distributed } from './testing/distributed.ts';
import type { Process } from './testing/distributed.ts';
import { startTestBroker } from './testing/kafka.ts';
import { ballotIndex, OPTIONS, publishTestPoll, readBoard } from './testing/polls.ts';
import { startTestPostgres } from './testing/postgres-server.ts';

const BALLOTS = Number(process.env['BLINDVOTE_CHAOS_BALLOTS'] ?? 20_000);
const CLIENTS = 24;
const CHOICES = [['bikes'], ['library'], ['park'], ['bikes', 'park'], ['library', 'park']];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Ack = { readonly kind: 'receipt'; readonly receipt: ReceiptJSON } | { readonly kind: 'accepted'; readonly accepted: AcceptanceJSON };

/** One submission: an acknowledgement, or null when there was no usable answer (retry it). */
async function submit(url: string, ballot: Ballot): Promise<Ack | null> {
  try {
    const response = await fetch(`${url}/v1/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ballot.toJSON()), signal: AbortSignal.timeout(30_000) });
    const body = await response.text();
    if (response.status === 200 || response.status === 201) return { kind: 'receipt', receipt: JSON.parse(body) as ReceiptJSON };
    if (response.status === 202) return { kind: 'accepted', accepted: JSON.parse(body) as AcceptanceJSON };
    // 429/500/502/503: nothing acknowledged, the identical ballot is resubmitted; anything else is a failure.
    if (![429, 500, 502, 503].includes(response.status)) throw new Error(`ballot refused: ${response.status} ${body}`);
    return null;
  } catch (err) {
    if ((err as Error).message.startsWith('ballot refused')) throw err;
    return null;
  }
}

/** One chaos step: at a fraction of the load, kill something, leave it down, bring it back. */
interface ChaosStep {
  /** Fraction of the ballots sent when the kill happens. */
  readonly at: number;
  /** How long it stays down before `restart`. */
  readonly downMs: number;
  /** SIGKILLs; resolves to exactly what was killed (a process name, a server). */
  kill(): Promise<string>;
  /** Brings it back; resolves to what else had to happen, if anything (for the diagnostic). */
  restart(): Promise<string | null>;
}

/** The sequencer holding the writer lock, waiting up to `ms` for one (a failover, a restart). */
async function waitLeader(d: Distributed, ms: number): Promise<Process | null> {
  const deadline = Date.now() + ms;
  for (;;) {
    const leader = await d.leader();
    if (leader !== null || Date.now() > deadline) return leader;
    await sleep(100);
  }
}

test(`chaos: ${BALLOTS} ballots through the distributed mode while a ballot box, the sequencer, a tallier, Kafka and PostgreSQL are SIGKILLed`, { timeout: 20 * 60_000 }, async (t) => {
  // Torn down in reverse: the deployment (its databases dropped) before its broker and its server.
  const teardown: (() => Promise<void>)[] = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const down of teardown.reverse()) await down().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw new AggregateError(errors, 'chaos teardown failed');
  });
  const server = await startTestPostgres();
  teardown.push(() => server.stop());
  const broker = await startTestBroker();
  teardown.push(() => broker.stop());
  const d = await Distributed.start({ kafka: broker.bootstrap, pgAdminUrl: server.adminUrl, env: { BLINDVOTE_RATE_LIMITS: 'false', BLINDVOTE_RECEIPT_WAIT_MS: '3000' } });
  teardown.push(() => d.stop());
  const api = new Api(d.url);
  const admin = await api.login(d.adminUsername, d.adminPassword);
  const { pollId, poll, board } = await publishTestPoll(api, admin, `chaos-${Math.random().toString(36).slice(2, 8)}`, ['chaos-voter']);
  const key = await tokenKey(d, pollId);
  const acceptanceKey = (await (await fetch(`${d.url}/v1/ballots/acceptance-key`)).text()).trim();

  const acks = new Map<string, { ballot: Ballot; ack: Ack | null }>();
  const stats = { receipts: 0, accepted: 0, retries: 0 };
  const kills: string[] = [];

  await t.test('1. load: every ballot is acknowledged while a ballot box, the lock-holding sequencer, a tallier, Kafka and PostgreSQL are killed and restarted', async () => {
    let next = 0;
    const client = async () => {
      while (next < BALLOTS) {
        next++;
        const ballot = new Ballot({ poll_id: pollId, token: testToken(key, pollId), choice: CHOICES[next % CHOICES.length]! });
        const at = toBase64(ballot.serialize());
        acks.set(at, { ballot, ack: null });
        for (let attempt = 0; ; attempt++) {
          const ack = await submit(d.url, ballot);
          if (ack !== null) {
            if (ack.kind === 'accepted') {
              const accepted = Acceptance.open(ack.accepted.acceptance, acceptanceKey);
              assert.equal(toBase64(accepted.leaf_hash), toBase64(leafHash(ballot.serialize())), 'the acceptance names this ballot');
              stats.accepted++;
            } else {
              stats.receipts++;
            }
            acks.get(at)!.ack = ack;
            break;
          }
          stats.retries++;
          if (attempt > 600) throw new Error('a ballot got no acknowledgement in 600 attempts');
          await sleep(100);
        }
      }
    };
    const load = Promise.all(Array.from({ length: CLIENTS }, client));
    const failed = load.then(() => null, (err: unknown) => err);
    const reach = async (fraction: number) => {
      while (next < BALLOTS * fraction) {
        if ((await Promise.race([sleep(50).then(() => 'wait'), failed])) !== 'wait') return;
      }
    };
    const restartProcess = (p: Process) => async () => {
      await p.start();
      return null;
    };
    let failover: { leader: Process; note: string } | null = null;
    const chaos: ChaosStep[] = [
      {
        at: 0.15,
        downMs: 1000,
        kill: async () => {
          await d.of('ballot-box')[0]!.kill();
          return d.of('ballot-box')[0]!.name;
        },
        restart: restartProcess(d.of('ballot-box')[0]!),
      },
      {
        at: 0.3,
        downMs: 1000,
        kill: async () => {
          const leader = await d.leader();
          assert.ok(leader !== null, 'a sequencer holds the lock');
          await leader.kill();
          // The standby takes the writer lock (PostgreSQL released it with the dead connection).
          const killedAt = Date.now();
          const standby = await waitLeader(d, 30_000);
          assert.ok(standby !== null && standby !== leader, 'the standby sequencer took over');
          failover = { leader, note: `failover: ${standby.name} held the writer lock ${Date.now() - killedAt} ms after the kill` };
          return `${leader.name} (holding the writer lock)`;
        },
        restart: async () => {
          await failover!.leader.start();
          return failover!.note;
        },
      },
      {
        at: 0.45,
        downMs: 1000,
        kill: async () => {
          await d.of('tallier')[0]!.kill();
          return d.of('tallier')[0]!.name;
        },
        restart: restartProcess(d.of('tallier')[0]!),
      },
      {
        at: 0.6,
        downMs: 1000,
        kill: async () => {
          await broker.kill();
          return `the Kafka broker (${broker.bootstrap})`;
        },
        restart: async () => {
          await broker.restart();
          return null;
        },
      },
      {
        at: 0.8,
        downMs: 2000,
        kill: async () => {
          await server.kill();
          return `PostgreSQL (postmaster and backends, ${new URL(server.adminUrl).host})`;
        },
        restart: async () => {
          await server.restart();
          const upAt = Date.now();
          // A process whose connection died exits within a moment of the kill or not at all; the
          // supervisor restarts whatever exited.
          await sleep(500);
          const exited = await d.restartExited();
          const notCrashOnly = exited.filter(({ process }) => process.target !== 'sequencer');
          assert.deepEqual(
            notCrashOnly.map(({ process, exit }) => `${process.name} (${exit})`),
            [],
            `only the sequencers exit when PostgreSQL goes away; these did too:\n${notCrashOnly.map(({ process }) => `--- ${process.name}\n${process.output.slice(-3000)}`).join('\n')}`,
          );
          const leader = await waitLeader(d, 30_000);
          assert.ok(leader !== null, 'a restarted sequencer took the writer lock');
          const survived = d.processes.filter((p) => !exited.some((e) => e.process === p)).map((p) => p.name);
          return `exited and restarted by the supervisor: ${exited.map(({ process, exit }) => `${process.name} (${exit})`).join(', ') || 'none'}; ${leader.name} holds the writer lock ${Date.now() - upAt} ms after PostgreSQL was up; survived: ${survived.join(', ')}`;
        },
      },
    ];
    for (const [i, step] of chaos.entries()) {
      await reach(step.at);
      const sent = next;
      const killedAt = Date.now();
      const what = await step.kill();
      await sleep(step.downMs);
      const note = await step.restart();
      kills.push(what);
      t.diagnostic(`chaos ${i + 1}: killed ${what} at ballot ${sent}/${BALLOTS}; back after ${Date.now() - killedAt} ms${note === null ? '' : `; ${note}`}`);
    }
    const error = await failed;
    if (error !== null) throw error;
    t.diagnostic(`load: ${BALLOTS} ballots, ${stats.receipts} receipts, ${stats.accepted} signed acceptances, ${stats.retries} resubmissions; killed ${kills.join(', ')}`);
    assert.equal(kills.length, chaos.length);
  });

  await t.test('2. exchange: every signed acceptance becomes a receipt within the merge delay', async () => {
    const pending = [...acks.values()].filter((a) => a.ack?.kind === 'accepted');
    for (const entry of pending) {
      const accepted = (entry.ack as Extract<Ack, { kind: 'accepted' }>).accepted;
      const deadline = Date.now() + accepted.max_merge_delay * 1000;
      for (;;) {
        const res = await fetch(`${d.url}${accepted.receipt}`);
        if (res.status === 200) {
          entry.ack = { kind: 'receipt', receipt: (await res.json()) as ReceiptJSON };
          break;
        }
        assert.ok(Date.now() < deadline, `the leaf of an acceptance is not on the board after ${accepted.max_merge_delay} s`);
        await sleep(200);
      }
    }
    t.diagnostic(`exchanged ${pending.length} acceptances for receipts`);
  });

  await t.test('3. check: every acknowledged ballot is on the board exactly once at its leaf, and nothing else is', async () => {
    const entries = await readBoard(board);
    const onBoard = ballotIndex(entries);
    for (const [at, { ack }] of acks) {
      assert.ok(ack?.kind === 'receipt');
      assert.equal(onBoard.get(at), ack.receipt.leaf_index, 'the ballot sits at its receipt leaf');
    }
    assert.equal(onBoard.size, acks.size, 'the board holds only ballots that were sent');
    t.diagnostic(`checked: ${acks.size} ballots, each on the board exactly once at its receipt's leaf; kills survived: ${kills.length}`);
  });

  await t.test('4. count and audit: the live counts equal the recount; blindvote-verify audit passes', async () => {
    const expected: Record<string, number> = Object.fromEntries(OPTIONS.map((o) => [o, 0]));
    for (const { ballot } of acks.values()) for (const id of ballot.choice) expected[id]!++;
    const deadline = Date.now() + 60_000;
    let results = await api.call('GET', `/v1/results/${pollId}`);
    while (results.tree_size < acks.size + 1 && Date.now() < deadline) {
      await sleep(200);
      results = await api.call('GET', `/v1/results/${pollId}`);
    }
    assert.equal(results.tree_size, acks.size + 1, JSON.stringify(results));
    assert.equal(results.ballots_counted, acks.size);
    assert.deepEqual(results.counts, expected);
    const checks = await audit(httpFetcher(board), { boardKey: poll.board_key });
    assert.ok(allPassed(checks), JSON.stringify(checks.filter((c) => !c.ok), null, 2));
  });

  await t.test('5. storm: 1,000 concurrent submissions of one token through both ballot boxes → one entry', async () => {
    const token = testToken(key, pollId);
    const same = new Ballot({ poll_id: pollId, token, choice: ['bikes'] });
    const other = new Ballot({ poll_id: pollId, token, choice: ['park'] });
    const answers = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const ballot = i % 2 === 0 ? same : other;
        const res = await fetch(`${d.url}/v1/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ballot.toJSON()) });
        return { ballot, status: res.status, body: await res.text() };
      }),
    );
    const accepted = answers.filter((a) => a.status === 200 || a.status === 201);
    const winner = accepted[0]!.ballot;
    assert.ok(accepted.every((a) => a.ballot === winner), 'only copies of one ballot got receipts');
    assert.equal(new Set(accepted.map((a) => JSON.parse(a.body).leaf_index)).size, 1, 'every copy got the same leaf');
    assert.equal(accepted.filter((a) => a.status === 201).length, 1, 'one 201, the rest of the copies 200');
    const refused = answers.filter((a) => a.ballot !== winner);
    assert.ok(refused.every((a) => a.status === 409), JSON.stringify([...new Set(refused.map((a) => a.status))]));
    const entries = await readBoard(board);
    assert.equal(entries.filter((e) => toBase64(e) === toBase64(same.serialize()) || toBase64(e) === toBase64(other.serialize())).length, 1, 'one entry on the board');
    t.diagnostic(`storm: ${accepted.length} receipts for one leaf, ${refused.length} refused with 409`);
  });

  await t.test('6. metrics: the ballot boxes and the sequencers count what they did on Prometheus /metrics', async () => {
    /** The sum of the samples whose name and labels match `series`. */
    const metric = async (url: string, series: RegExp) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text.split('\n').filter((line) => !line.startsWith('#') && series.test(line.slice(0, line.lastIndexOf(' ')))).reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    };
    let accepted = 0;
    let produced = 0;
    for (const box of d.of('ballot-box')) {
      accepted += await metric(box.url, /^blindvote_ballots_total\{outcome="accepted"\}$/);
      produced += await metric(box.url, /^blindvote_bus_records_total\{.*topic="[^"]*board-commands".*direction="produced"|^blindvote_bus_records_total\{.*direction="produced".*topic="[^"]*board-commands"/);
    }
    assert.ok(accepted >= 1000, `ballots accepted: ${accepted}`);
    assert.ok(produced >= 1000, `commands produced: ${produced}`);
    let consumed = 0;
    let batches = 0;
    for (const sequencer of d.of('sequencer')) {
      consumed += await metric(sequencer.url, /^blindvote_bus_records_total\{.*direction="consumed"/);
      batches += await metric(sequencer.url, /^blindvote_sequencer_batch_size_count$/);
    }
    assert.ok(consumed >= 1000, `commands consumed: ${consumed}`);
    assert.ok(batches > 0, 'sequencer batches observed');
  });
});

/** The poll's RSA token key, read out of the issuer's PostgreSQL database (issuer/src/store/postgres.ts). */
async function tokenKey(d: Distributed, pollId: string) {
  const client = new pg.Client({ connectionString: d.issuerDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ token_key_pkcs8: Buffer }>('SELECT token_key_pkcs8 FROM polls WHERE poll_id = $1', [pollId]);
    return createPrivateKey({ key: rows[0]!.token_key_pkcs8, format: 'der', type: 'pkcs8' });
  } finally {
    await client.end();
  }
}
