/**
 * Test fixture: polls with a real RSA token key, and tokens made fast by signing RSASSA-PSS
 * (SHA-384, MGF1-SHA-384, salt 48) over prefix || tokenMessage directly with the poll's private
 * key, which is what RFC 9474 Finalize yields; the blinded path (blindrsa-ts, ~30/s) proves
 * nothing more here. For tests only.
 */
import { constants, randomBytes, sign } from 'node:crypto';
import { Ballot, Close, NoteSigner, Poll, Token, concatBytes, formatSignerKey, sha256, tokenMessage, utf8 } from '@blindvote/crypto';
import type { BallotToken, ResultsPolicy } from '@blindvote/crypto';
import { generateTokenKey } from '@blindvote/crypto/issuer';
import type { TokenKeyPair } from '@blindvote/crypto/issuer';

export const HOST = 'vote.test';
export const OPTION_IDS = ['bikes', 'library', 'park'] as const;

/** The board's checkpoint signer (key name = the host, as a board names its key). */
export const BOARD_SIGNER = new NoteSigner(formatSignerKey(HOST, new Uint8Array(32).fill(1)));
export const OTHER_SIGNER = new NoteSigner(formatSignerKey(HOST, new Uint8Array(32).fill(2)));

let sharedKey: Promise<TokenKeyPair> | null = null;

export interface Election {
  readonly poll: Poll;
  readonly tokenKey: TokenKeyPair;
}

/** A multi-choice poll (up to 2 of bikes/library/park) whose board key is BOARD_SIGNER's. */
export async function election(pollId: string, results: ResultsPolicy = 'live'): Promise<Election> {
  sharedKey ??= generateTokenKey(2048);
  const tokenKey = await sharedKey;
  const poll = new Poll({
    poll_id: pollId,
    title: `Poll ${pollId}`,
    description: '',
    ballot: {
      kind: 'multi',
      options: [
        { id: 'bikes', label: 'Bike lanes' },
        { id: 'library', label: 'Library hours' },
        { id: 'park', label: 'A new park' },
      ],
      max_choices: 2,
    },
    opens_at: '2026-03-01T08:00:00Z',
    closes_at: '2026-03-01T18:00:00Z',
    results,
    token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki: tokenKey.spki },
    board_key: BOARD_SIGNER.verifierKey,
    roll: { size: 100_000, commitment: sha256(utf8('roll')) },
  });
  return { poll, tokenKey };
}

/** `n` valid tokens for the poll. */
export function tokens(e: Election, n: number): Token[] {
  return Array.from({ length: n }, () => {
    const nonce = new Uint8Array(randomBytes(32));
    const prefix = new Uint8Array(randomBytes(32));
    const sig = sign('sha384', concatBytes(prefix, tokenMessage(e.poll.poll_id, nonce)), {
      key: e.tokenKey.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 48,
    });
    return new Token({ nonce, prefix, sig: new Uint8Array(sig) });
  });
}

/** The same token id with one signature bit flipped: well-formed, does not verify. */
export function forged(token: Token): Token {
  const sig = token.sig.slice();
  sig[sig.length - 1]! ^= 1;
  return new Token({ nonce: token.nonce, prefix: token.prefix, sig });
}

/** Ballot i's default choice: a cycle of single and double choices. */
export function choiceOf(i: number): string[] {
  return [['bikes'], ['library'], ['bikes', 'park'], ['park']][i % 4]!;
}

export function ballot(e: Election, token: BallotToken, choice: readonly string[]): Ballot {
  return new Ballot({ poll_id: e.poll.poll_id, token, choice: [...choice] });
}

/** Ballots with fresh valid tokens and the default choices, starting at choice `offset`. */
export function ballots(e: Election, n: number, offset = 0): Ballot[] {
  return tokens(e, n).map((t, i) => ballot(e, t, choiceOf(offset + i)));
}

export function close(e: Election, ballotCount: number): Close {
  return new Close({ poll_id: e.poll.poll_id, closed_at: '2026-03-01T18:00:00Z', ballots: ballotCount, issued: ballotCount });
}
