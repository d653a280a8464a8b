/**
 * Test fixture: polls with a real RSA token key, and tokens made fast by signing RSASSA-PSS
 * (SHA-384, MGF1-SHA-384, salt 48) over prefix || tokenMessage directly with the poll's private
 * key, which is what RFC 9474 Finalize yields; the blinded path (blindrsa-ts, ~30/s) proves
 * nothing more here. For tests only.
 */
import { Ballot, Close, NoteSigner, Poll, formatSignerKey } from '@blindvote/crypto';
import type { Token } from '@blindvote/crypto';
import { forgedToken, testPollFields, testToken } from '@blindvote/crypto/testing';
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
  const poll = new Poll(testPollFields({ poll_id: pollId, spki: tokenKey.spki, board_key: BOARD_SIGNER.verifierKey }, { title: `Poll ${pollId}`, description: '', results }));
  return { poll, tokenKey };
}

/** `n` valid tokens for the poll. */
export function tokens(e: Election, n: number): Token[] {
  return Array.from({ length: n }, () => testToken(e.tokenKey.privateKey, e.poll.poll_id));
}

/** The same token id with one signature bit flipped: well-formed, does not verify. */
export const forged = forgedToken;

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
