/**
 * The end-to-end election, all-in-one: `blindvote serve` as `npm start` runs it, 1,000 voters
 * (BLINDVOTE_E2E_VOTERS to change), every step through the public API and the verifier CLI.
 */
import { test } from 'node:test';
import { AllInOne } from './testing/deployment.ts';
import { runElection } from './testing/election.ts';
import { testIdp } from './testing/idp.ts';

const VOTERS = Number(process.env['BLINDVOTE_E2E_VOTERS'] ?? 1000);

test(`an election with ${VOTERS} voters, all-in-one`, { timeout: 15 * 60_000 }, async (t) => {
  const idp = await testIdp();
  const deployment = await AllInOne.start({ env: idp.env });
  t.after(() => deployment.stop());
  await runElection(t, deployment, { voters: VOTERS, builtinVoters: Math.min(10, VOTERS), idpToken: idp.token });
});
