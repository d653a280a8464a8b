/**
 * The end-to-end election, all-in-one: `blindvote serve` as `npm start` runs it, 1,000 voters
 * (BLINDVOTE_E2E_VOTERS to change), every step through the public API and the verifier CLI.
 */
import { test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AllInOne } from './testing/deployment.ts';
import { runElection } from './testing/election.ts';

const VOTERS = Number(process.env['BLINDVOTE_E2E_VOTERS'] ?? 1000);
const ISSUER = 'https://id.example.org';
const AUDIENCE = 'blindvote';

test(`an election with ${VOTERS} voters, all-in-one`, { timeout: 15 * 60_000 }, async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const idpToken = (subject: string) =>
    new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject(subject).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('1h').sign(privateKey);
  const deployment = await AllInOne.start({
    env: {
      BLINDVOTE_IDP_PUBLIC_KEY: JSON.stringify(await exportJWK(publicKey)),
      BLINDVOTE_IDP_ISSUER: ISSUER,
      BLINDVOTE_IDP_AUDIENCE: AUDIENCE,
    },
  });
  t.after(() => deployment.stop());
  await runElection(t, deployment, { voters: VOTERS, builtinVoters: Math.min(10, VOTERS), idpToken });
});
