/**
 * An open poll on a running service, set up through the public API: an external identity
 * provider (Ed25519 JWTs, as server/src/election.test.ts) whose voters are on the roll, so
 * issuance measures no password hashing; and the poll's private token key, read from the
 * issuer's sqlite file so the bench can make valid tokens (`testToken`) without issuance.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { importTokenPrivateKey } from '@blindvote/crypto/issuer';
import { Api } from '@blindvote/server';
import { readAdminPassword } from '../server/src/keys.ts';
import type { Service } from './service.ts';

const ISSUER = 'https://id.bench.example';
const AUDIENCE = 'blindvote';

export interface Idp {
  /** What `blindvote serve` needs to trust it. */
  readonly env: Readonly<Record<string, string>>;
  /** A bearer JWT for `subject` (account `idp:<subject>`). */
  token(subject: string): Promise<string>;
}

export async function benchIdp(): Promise<Idp> {
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

export interface BenchPoll {
  readonly pollId: string;
  /** The board's tlog-tiles prefix URL. */
  readonly board: string;
  readonly privateKey: KeyObject;
  /** Roll members are `idp:voter-0` … `idp:voter-<voters − 1>`. */
  readonly voters: number;
}

const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Creates and publishes a live-results poll whose roll holds `voters` identity-provider voters. */
export async function openPoll(service: Service, pollId: string, voters: number): Promise<BenchPoll> {
  const api = new Api(service.url);
  const admin = readAdminPassword(service.dataDir);
  if (admin === null) throw new Error('no admin password in the data directory');
  const session = await api.login(admin.username, admin.password);
  const now = Date.now();
  await api.call('POST', '/v1/polls', {
    token: session,
    body: {
      poll_id: pollId,
      title: 'Bench poll',
      description: 'npm run bench',
      options: [{ id: 'bikes', label: 'Bike lanes' }, { id: 'library', label: 'Library' }, { id: 'park', label: 'Park' }],
      kind: 'multi',
      max_choices: 2,
      opens_at: wholeSecond(now - 1000),
      closes_at: wholeSecond(now + 6 * 3600_000),
      results: 'live',
    },
  });
  const csv = ['account', ...Array.from({ length: voters }, (_, i) => `idp:voter-${i}`)].join('\n');
  await api.call('PUT', `/v1/polls/${pollId}/roll`, { token: session, text: csv, contentType: 'text/csv' });
  await api.call('POST', `/v1/polls/${pollId}/publish`, { token: session });
  const listed = await api.call('GET', '/v1/polls');
  const entry = (listed.polls as { poll_id: string; board: string }[]).find((p) => p.poll_id === pollId);
  if (entry === undefined) throw new Error(`poll ${pollId} is not listed`);

  const db = new DatabaseSync(join(service.dataDir, 'issuer.db'), { readOnly: true });
  try {
    const row = db.prepare('SELECT token_key_pkcs8 FROM polls WHERE poll_id = ?').get(pollId) as { token_key_pkcs8: Uint8Array } | undefined;
    if (row?.token_key_pkcs8 == null) throw new Error(`poll ${pollId} has no token key in issuer.db`);
    return { pollId, board: entry.board, privateKey: importTokenPrivateKey(row.token_key_pkcs8), voters };
  } finally {
    db.close();
  }
}
