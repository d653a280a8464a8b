/**
 * Test support for the Board and its routes: a Board on SQLite in a temporary directory, poll
 * manifests with a real RSA token key (made once per process), and ballots whose tokens are
 * well-formed random bytes (the board checks the manifest's rules, not token signatures: that
 * is the ballot box's job, so these never need signing).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ballot, generateSignerKey, NoteSigner, Poll, sha256, utf8 } from '@blindvote/crypto';
import type { BallotToken, PollFields } from '@blindvote/crypto';
import { generateTokenKey } from '@blindvote/crypto/issuer';
import { Board } from '../board.ts';
import type { BoardOptions } from '../board.ts';
import { SqliteLogStorage } from '../storage/sqlite.ts';

export const BASE_URL = 'http://board.test';
export const OPTIONS = ['a', 'b', 'c'] as const;

let tokenSpki: Promise<Uint8Array> | null = null;

/** A manifest for this board (its key), single choice among a, b, c, roll of 1000. */
export async function manifest(signer: NoteSigner, pollId: string, overrides: Partial<PollFields> = {}): Promise<Poll> {
  tokenSpki ??= generateTokenKey(2048).then((key) => key.spki);
  return new Poll({
    poll_id: pollId,
    title: `Poll ${pollId}`,
    description: '',
    ballot: { kind: 'single', options: OPTIONS.map((id) => ({ id, label: id.toUpperCase() })), max_choices: 1 },
    opens_at: '2026-03-01T08:00:00Z',
    closes_at: '2026-03-01T18:00:00Z',
    results: 'live',
    token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki: await tokenSpki },
    board_key: signer.verifierKey,
    roll: { size: 1000, commitment: sha256(utf8('roll')) },
    ...overrides,
  });
}

/** A ballot with a fresh random token (2048-bit signature length), choosing `choice`. */
export function ballot(pollId: string, choice = 'a', token: BallotToken = { nonce: randomBytes(32), prefix: randomBytes(32), sig: randomBytes(256) }): Ballot {
  return new Ballot({ poll_id: pollId, token, choice: [choice] });
}

export interface TestBoard {
  readonly board: Board;
  readonly storage: SqliteLogStorage;
  readonly signer: NoteSigner;
  /** The database file (open a second Board on it to test restarts). */
  readonly path: string;
  /** Shuts the board down, closes storage, removes the directory. */
  close(): Promise<void>;
}

export function testBoard(options: Partial<Omit<BoardOptions, 'storage'>> = {}): TestBoard {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-board-'));
  const path = join(dir, 'board.db');
  const storage = new SqliteLogStorage(path);
  const signer = options.signer ?? new NoteSigner(generateSignerKey('board.test').signerKey);
  const board = new Board({ baseUrl: BASE_URL, ...options, storage, signer });
  return {
    board,
    storage,
    signer,
    path,
    async close() {
      await board.shutdown();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { testTally as tallyOf } from '@blindvote/crypto/testing';
