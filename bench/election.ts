/**
 * An open poll on a running service for the bench, set up through the public API (server's test
 * support): an external identity provider whose voters are on the roll, so issuance measures no
 * password hashing, and the poll's private token key, read from the issuer's database so the bench
 * can make valid tokens (`testToken`) without issuance.
 */
import type { KeyObject } from 'node:crypto';
import { Api, publishPoll } from '@blindvote/server';
import { readAdminPassword } from '../server/src/keys.ts';
import { pollTokenKey } from '../server/src/testing/polls.ts';
import type { Service } from './service.ts';

export { testIdp as benchIdp } from '../server/src/testing/idp.ts';
export type { TestIdp as Idp } from '../server/src/testing/idp.ts';

export interface BenchPoll {
  readonly pollId: string;
  /** The board's tlog-tiles prefix URL. */
  readonly board: string;
  readonly privateKey: KeyObject;
  /** Roll members are `idp:voter-0` … `idp:voter-<voters − 1>`. */
  readonly voters: number;
}

/** Creates and publishes a live-results poll (open six hours) whose roll holds `voters` identity-provider voters. */
export async function openPoll(service: Service, pollId: string, voters: number): Promise<BenchPoll> {
  const api = new Api(service.url);
  const admin = readAdminPassword(service.dataDir);
  if (admin === null) throw new Error('no admin password in the data directory');
  const session = await api.login(admin.username, admin.password);
  const options = [{ id: 'bikes', label: 'Bike lanes' }, { id: 'library', label: 'Library' }, { id: 'park', label: 'Park' }];
  const accounts = Array.from({ length: voters }, (_, i) => `idp:voter-${i}`);
  const spec = { poll_id: pollId, title: 'Bench poll', description: 'npm run bench', options, kind: 'multi', max_choices: 2, openForMs: 6 * 3600_000 } as const;
  const { board } = await publishPoll(api, session, spec, accounts);
  return { pollId, board, privateKey: pollTokenKey(service.dataDir, pollId), voters };
}
