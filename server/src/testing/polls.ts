/**
 * Test support for the reliability battery (crash, storm, unlinkability): voters with built-in
 * accounts, a published poll through the public API, the poll's token private key read out of
 * the issuer's database (so load generators can make tokens with `testToken` instead of slow
 * client blinding), and every entry of a board read over HTTP as a tlog-tiles client reads it.
 */
import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import assert from 'node:assert/strict';
import { Checkpoint, Poll, decodeBundle, parseEntry, parseNote, TILE_WIDTH, toBase64 } from '@blindvote/crypto';
import { httpFetcher } from '@blindvote/verifier';
import { publishPoll } from '../client.ts';
import type { Api } from '../client.ts';

export interface TestVoter {
  /** The account id the issuer knows the voter by (the built-in username). */
  readonly account: string;
  readonly password: string;
  /** The session token (a bearer JWT). */
  readonly session: string;
}

export interface PublishedPoll {
  readonly pollId: string;
  readonly poll: Poll;
  /** The board's tlog-tiles prefix URL. */
  readonly board: string;
}

export const OPTIONS = ['bikes', 'library', 'park'] as const;

/** Registers and signs in `count` built-in accounts named `<prefix>-<i>`. */
export async function registerVoters(api: Api, prefix: string, count: number): Promise<TestVoter[]> {
  const password = 'correct horse battery staple';
  const voters: TestVoter[] = [];
  for (let i = 0; i < count; i++) {
    const account = `${prefix}-${i}`;
    await api.call('POST', '/v1/accounts', { body: { username: account, password } });
    voters.push({ account, password, session: await api.login(account, password) });
  }
  return voters;
}

/** Creates, rolls and publishes a poll open for an hour: up to two of bikes / library / park, live results. */
export async function publishTestPoll(api: Api, admin: string, pollId: string, accounts: readonly string[]): Promise<PublishedPoll> {
  const options = OPTIONS.map((id) => ({ id, label: id }));
  const spec = { poll_id: pollId, title: 'Reliability battery', description: 'A poll made by a test.', options, kind: 'multi', max_choices: 2 } as const;
  return { pollId, ...(await publishPoll(api, admin, spec, accounts)) };
}

/**
 * The poll's RSA token private key, read from `issuer.db` (table `polls`, column `token_key_pkcs8`,
 * see issuer/src/store/sqlite.ts). Reading beside the running service is safe: WAL readers do not block it.
 */
export function pollTokenKey(dataDir: string, pollId: string): KeyObject {
  const db = new DatabaseSync(join(dataDir, 'issuer.db'), { readOnly: true });
  try {
    const row = db.prepare('SELECT token_key_pkcs8 FROM polls WHERE poll_id = ?').get(pollId) as { token_key_pkcs8: Uint8Array | null } | undefined;
    if (row?.token_key_pkcs8 == null) throw new Error(`issuer.db holds no token key for ${pollId}`);
    return createPrivateKey({ key: Buffer.from(row.token_key_pkcs8), format: 'der', type: 'pkcs8' });
  } finally {
    db.close();
  }
}

/** Every entry of the board at `board` up to its current checkpoint, fetched as tlog-tiles entry bundles. */
export async function readBoard(board: string): Promise<Uint8Array[]> {
  const fetcher = httpFetcher(board);
  const size = Checkpoint.parse(parseNote(await fetcher.checkpoint()).text).size;
  const entries: Uint8Array[] = [];
  for (let index = 0; index * TILE_WIDTH < size; index++) {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    entries.push(...decodeBundle(await fetcher.bundle(index, width), width));
  }
  return entries;
}

/**
 * The ballots of a board's entries (the manifest first), by their bytes in base64 → index;
 * asserts that every entry after the manifest is a ballot and none repeats another.
 */
export function ballotIndex(entries: readonly Uint8Array[]): Map<string, number> {
  const onBoard = new Map<string, number>();
  for (const [index, bytes] of entries.entries()) {
    if (index === 0) continue;
    assert.equal(parseEntry(bytes).type, 'ballot', `entry ${index}`);
    const at = toBase64(bytes);
    assert.equal(onBoard.has(at), false, `entry ${index} repeats entry ${onBoard.get(at)}`);
    onBoard.set(at, index);
  }
  return onBoard;
}
