/**
 * Test support: an external identity provider of our own (an Ed25519 key, JWTs signed with jose),
 * so tests and the bench sign voters in without password hashing, as an organisation's platform would.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const ISSUER = 'https://id.example.org';
const AUDIENCE = 'blindvote';

export interface TestIdp {
  /** What `blindvote serve` needs in its environment to trust it. */
  readonly env: Readonly<Record<string, string>>;
  /** A bearer JWT for `subject` (the issuer's account `idp:<subject>`), valid two hours. */
  token(subject: string): Promise<string>;
}

export async function testIdp(): Promise<TestIdp> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return {
    env: {
      BLINDVOTE_IDP_PUBLIC_KEY: JSON.stringify(await exportJWK(publicKey)),
      BLINDVOTE_IDP_ISSUER: ISSUER,
      BLINDVOTE_IDP_AUDIENCE: AUDIENCE,
    },
    token: (subject) =>
      new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject(subject).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('2h').sign(privateKey),
  };
}
