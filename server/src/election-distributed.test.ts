/**
 * The same numbered end-to-end election as election.test.ts, against the distributed mode: every
 * component its own process (two ballot boxes, two board readers, two talliers, two sequencers,
 * the issuer, the gateway) on real PostgreSQL, Redis and Kafka. 300 voters by default
 * (BLINDVOTE_E2E_DISTRIBUTED_VOTERS to change): ten processes share the machine with the tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Distributed } from './testing/distributed.ts';
import { runElection } from './testing/election.ts';
import { testIdp } from './testing/idp.ts';

const VOTERS = Number(process.env['BLINDVOTE_E2E_DISTRIBUTED_VOTERS'] ?? 300);

test(`an election with ${VOTERS} voters, distributed`, { timeout: 15 * 60_000 }, async (t) => {
  const idp = await testIdp();
  const deployment = await Distributed.start({ env: idp.env });
  t.after(() => deployment.stop());
  try {
    await runElection(t, deployment, { voters: VOTERS, builtinVoters: Math.min(10, VOTERS), idpToken: idp.token });
    await t.test('the gateway serves one API description for the one origin', async () => {
      const doc = (await (await fetch(`${deployment.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      for (const path of ['/v1/polls', '/v1/polls/{id}/tokens', '/v1/ballots', '/v1/results/{pollId}', '/poll/{pollId}/checkpoint', '/v1/board/{pollId}']) {
        assert.ok(path in doc.paths, `${path} in ${Object.keys(doc.paths).join(' ')}`);
      }
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${deployment.output()}`, { cause: err });
  }
});
