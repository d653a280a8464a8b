/**
 * Valid ballots made BEFORE a measurement: tokens signed directly with the poll's private key
 * (`testToken`: what RFC 9474 Finalize yields, without client blinding), as POST /v1/ballots
 * requests for the load generator.
 */
import type { KeyObject } from 'node:crypto';
import { Ballot } from '@blindvote/crypto';
import type { Token } from '@blindvote/crypto';
import { testToken } from '@blindvote/crypto/testing';
import type { LoadRequest } from './load.ts';

const CHOICES = [['bikes'], ['library'], ['bikes', 'park'], ['library', 'park'], ['park']];

export interface BenchBallot {
  readonly token: Token;
  readonly request: LoadRequest;
}

export function makeBallots(privateKey: KeyObject, pollId: string, n: number): BenchBallot[] {
  return Array.from({ length: n }, (_, i) => {
    const token = testToken(privateKey, pollId);
    const body = JSON.stringify(new Ballot({ poll_id: pollId, token, choice: CHOICES[i % CHOICES.length]! }).toJSON());
    return { token, request: { method: 'POST', path: '/v1/ballots', headers: { 'content-type': 'application/json' }, body } };
  });
}
