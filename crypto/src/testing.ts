/**
 * Test support, Node only (`@blindvote/crypto/testing`): the one way tests make polls and tokens.
 *
 * `testToken` signs RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) over prefix || token message
 * directly with the poll's private key. That is exactly what RFC 9474 Finalize yields, so a
 * ballot box, tallier or verifier cannot tell it from an issued token; it skips only the client
 * blinding (blindrsa-ts, ~40/s), which tests of issuance exercise on their own. Never for
 * production: the issuer would see the token.
 */
import { constants, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { concatBytes, utf8 } from './bytes.ts';
import { Poll, Tally, parseEntry } from './entries.ts';
import type { PollFields } from './entries.ts';
import { CompactRange, leafHash } from './merkle.ts';
import { sha256 } from '#platform';
import { Token, TOKEN_SUITE, tokenMessage } from './token.ts';

/** A fresh valid token of `pollId` under `privateKey`. */
export function testToken(privateKey: KeyObject, pollId: string): Token {
  const nonce = new Uint8Array(randomBytes(32));
  const prefix = new Uint8Array(randomBytes(32));
  const sig = sign('sha384', concatBytes(prefix, tokenMessage(pollId, nonce)), {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 48,
  });
  return new Token({ nonce, prefix, sig: new Uint8Array(sig) });
}

/** The same token with one signature bit flipped: well-formed, same token id, does not verify. */
export function forgedToken(token: Token): Token {
  const sig = token.sig.slice();
  sig[sig.length - 1]! ^= 1;
  return new Token({ nonce: token.nonce, prefix: token.prefix, sig });
}

/**
 * The fields of the tests' standard poll: "City budget", up to two of bikes / library / park,
 * open 2026-03-01 08:00–18:00 UTC, live results. Pass the keys; override anything else.
 */
export function testPollFields(
  keys: { readonly poll_id: string; readonly spki: Uint8Array; readonly board_key: string },
  overrides: Partial<PollFields> = {},
): PollFields {
  return {
    poll_id: keys.poll_id,
    title: 'City budget 2026',
    description: 'Pick up to two.',
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
    results: 'live',
    token_key: { suite: TOKEN_SUITE, spki: keys.spki },
    board_key: keys.board_key,
    roll: { size: 100_000, commitment: sha256(utf8('roll')) },
    ...overrides,
  };
}

/**
 * The honest tally of a closed board whose entries (manifest … close) are `entries`: the root of
 * exactly those entries and every ballot among them counted (pass only valid, distinct ballots
 * unless a test wants otherwise). `overrides` make a dishonest one.
 */
export function testTally(entries: readonly Uint8Array[], overrides: Partial<{ counts: Record<string, number>; ballots_counted: number }> = {}): Tally {
  const range = new CompactRange();
  const poll = Poll.deserialize(entries[0]!);
  const counts: Record<string, number> = Object.fromEntries(poll.ballot.options.map((o) => [o.id, 0]));
  let ballots = 0;
  for (const bytes of entries) {
    range.append(leafHash(bytes));
    const entry = parseEntry(bytes);
    if (entry.type !== 'ballot') continue;
    ballots++;
    for (const id of entry.choice) counts[id]!++;
  }
  const counted = overrides.ballots_counted ?? ballots;
  return new Tally({
    poll_id: poll.poll_id,
    tree_size: entries.length,
    root: range.root(),
    counts: overrides.counts ?? counts,
    ballots_counted: counted,
    ballots_rejected: entries.length - 2 - counted,
  });
}
