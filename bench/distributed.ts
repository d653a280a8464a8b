/**
 * The distributed topology's row: durable ballots/s through the gateway of the multi-process
 * deployment (server/src/testing/distributed.ts: two ballot boxes, two sequencers, two board
 * readers, two talliers, the issuer, the gateway) on the local PostgreSQL, Redis and Kafka, with
 * the all-in-one figure of the same run beside it. A 202 (signed acceptance: durable in Kafka,
 * not yet on the board within the wait) counts as acknowledged, as it does for a voter.
 *
 * On one 2-core machine this measures the overhead of the hops (gateway, Kafka, Redis replies,
 * PostgreSQL), not the scale-out: every process shares the same two cores with the generator.
 */
import { createPrivateKey } from 'node:crypto';
import pg from 'pg';
import { Api, publishPoll } from '@blindvote/server';
import { Distributed } from '../server/src/testing/distributed.ts';
import { makeBallots } from './ballots-fixture.ts';
import { expectAllOk, runLoad } from './load.ts';
import { record, recordFailure } from './stats.ts';

const CONNECTIONS = 128;

const NAME = (perRun: number) =>
  `ballot box durable ballots over HTTP, distributed topology (gateway → 2 ballot boxes → Kafka → sequencer → PostgreSQL; ${perRun} a run, ${CONNECTIONS} connections)`;

/** The row; if the topology cannot run here (no Kafka, say), a row that says why, and the bench goes on. */
export async function distributedRow(allInOneRates: readonly number[], perRun: number, runs: number): Promise<void> {
  try {
    await measure(allInOneRates, perRun, runs);
  } catch (error) {
    recordFailure(NAME(perRun), 'ballots/s', error);
  }
}

async function measure(allInOneRates: readonly number[], perRun: number, runs: number): Promise<void> {
  const d = await Distributed.start({ env: { BLINDVOTE_RATE_LIMITS: 'false' } });
  try {
    const api = new Api(d.url);
    const session = await api.login(d.adminUsername, d.adminPassword);
    const options = [{ id: 'bikes', label: 'Bike lanes' }, { id: 'library', label: 'Library' }, { id: 'park', label: 'Park' }];
    const spec = { poll_id: 'bench-distributed', title: 'Bench poll', description: 'npm run bench', options, kind: 'multi', max_choices: 2, openForMs: 6 * 3600_000 } as const;
    await publishPoll(api, session, spec, ['idp:voter-0']);
    const client = new pg.Client({ connectionString: d.issuerDatabaseUrl });
    await client.connect();
    const { rows } = await client.query<{ token_key_pkcs8: Buffer }>('SELECT token_key_pkcs8 FROM polls WHERE poll_id = $1', [spec.poll_id]);
    await client.end();
    const key = createPrivateKey({ key: rows[0]!.token_key_pkcs8, format: 'der', type: 'pkcs8' });
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const requests = makeBallots(key, spec.poll_id, perRun).map((b) => b.request);
      const result = await runLoad({ mode: 'closed', url: d.url, connections: CONNECTIONS, requests });
      expectAllOk('distributed ballots', result, requests.length);
      rates.push(result.rate);
    }
    record(
      NAME(perRun),
      'ballots/s',
      rates,
      { name: 'the all-in-one figure of this run', b: [...allInOneRates], target: null },
      '10 service processes + the generator on one machine: the cost of the hops, not the scale-out (docs/performance.md)',
    );
  } finally {
    await d.stop();
  }
}
