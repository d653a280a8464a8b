/**
 * Test support: real polls for the ballot box. A manifest with a fresh RSA token key (so tokens
 * verify for real) and a board key, the `OpenPoll` the directory hands out, and an in-memory
 * `PollDirectory` whose entries a test can close.
 */
import type { KeyObject } from 'node:crypto';
import { Ballot, NoteSigner, Poll, TokenVerifier, generateSignerKey, sha256, utf8 } from '@blindvote/crypto';
import type { BallotKind, ResultsPolicy, Token } from '@blindvote/crypto';
import { generateTokenKey } from '@blindvote/crypto/issuer';
import type { OpenPoll, PollDirectory } from '../ports.ts';
import { testToken } from '@blindvote/crypto/testing';

export const OPENS_AT = '2026-03-01T08:00:00Z';
export const CLOSES_AT = '2026-03-01T18:00:00Z';
/** A moment while test polls are open. */
export const DURING = Date.parse('2026-03-01T12:00:00Z');

export interface TestPoll {
  readonly poll: Poll;
  readonly open: OpenPoll;
  readonly tokenKey: KeyObject;
  /** A fresh valid token of this poll. */
  token(): Token;
  /** A ballot of this poll with a fresh token (or `token`). */
  ballot(choice: readonly string[], token?: Token): Ballot;
}

/** Options a, b, c; `multi` allows up to 2. The board signer is shared by the test's polls. */
export async function testPoll(pollId: string, signer: NoteSigner, kind: BallotKind = 'multi', results: ResultsPolicy = 'live'): Promise<TestPoll> {
  const { privateKey, spki } = await generateTokenKey(2048);
  const poll = new Poll({
    poll_id: pollId,
    title: `Poll ${pollId}`,
    description: '',
    ballot: {
      kind,
      options: [
        { id: 'a', label: 'Option A' },
        { id: 'b', label: 'Option B' },
        { id: 'c', label: 'Option C' },
      ],
      max_choices: kind === 'multi' ? 2 : 1,
    },
    opens_at: OPENS_AT,
    closes_at: CLOSES_AT,
    results,
    token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki },
    board_key: signer.verifierKey,
    roll: { size: 1000, commitment: sha256(utf8(`roll of ${pollId}`)) },
  });
  const open: OpenPoll = { poll, verifier: await TokenVerifier.fromPoll(poll), board: `https://vote.example/poll/${pollId}`, closed: false };
  const token = () => testToken(privateKey, pollId);
  return {
    poll,
    open,
    tokenKey: privateKey,
    token,
    ballot: (choice, t = token()) => new Ballot({ poll_id: pollId, token: t, choice: [...choice] }),
  };
}

export function newBoardSigner(): NoteSigner {
  return new NoteSigner(generateSignerKey('vote.example').signerKey);
}

/** An in-memory directory; `close(pollId)` marks a poll closed as its board would. */
export class MemoryPollDirectory implements PollDirectory {
  readonly #polls = new Map<string, OpenPoll>();

  constructor(polls: readonly OpenPoll[]) {
    for (const p of polls) this.#polls.set(p.poll.poll_id, p);
  }

  async get(pollId: string): Promise<OpenPoll | null> {
    return this.#polls.get(pollId) ?? null;
  }

  close(pollId: string): void {
    const p = this.#polls.get(pollId);
    if (p === undefined) throw new Error(`no test poll ${pollId}`);
    this.#polls.set(pollId, { ...p, closed: true });
  }
}
