/**
 * Test support: real elections on real boards. A poll manifest with a fresh RSA token key and
 * Ed25519 board key, real RFC 9474 tokens (TokenClient blind → issuer BlindSign → finalize),
 * entries appended by the bulletin board's Sequencer over SqliteLogStorage, exported with
 * `exportLog` as a static tlog-tiles directory, and a tiny node:http static server to read the
 * same directory over HTTP. Temporary files and servers are removed after the test file (`after`).
 *
 * Tokens cost: blindrsa-ts blinds ~30/s, so a test file issues few real tokens and reuses them
 * across boards (every board here is the same poll in a different database). `directTokens`
 * signs RFC 9474 tokens straight with the issuer's key (RSASSA-PSS over prefix || msg, which is
 * what a finalized blind signature is) for volume tests only.
 *
 * The bulletin board comes in through `useBulletinBoard`: DESIGN.md lets the verifier's tests
 * use it, but no non-test module of the verifier may import it (scripts/boundaries.test.ts), so
 * each test file imports `@blindvote/bulletin-board` and hands it over. `BulletinBoard` names only
 * what this module calls.
 */
import { after } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import {
  Ballot,
  Close,
  NoteSigner,
  Poll,
  Receipt,
  Tally,
  Token,
  TokenClient,
  generateSignerKey,
  leafHash,
  sha256,
  utf8,
} from '@blindvote/crypto';
import type { ReceiptJSON } from '@blindvote/crypto';
import { forgedToken, testPollFields, testTally, testToken } from '@blindvote/crypto/testing';
import { blindSign, generateTokenKey } from '@blindvote/crypto/issuer';
import type { TokenKeyPair } from '@blindvote/crypto/issuer';

/** The parts of `@blindvote/bulletin-board` used here (its LogStorage is `S`). */
export interface BulletinBoard<S> {
  readonly SqliteLogStorage: new (path: string) => S & { close(): Promise<void> };
  readonly Sequencer: new (storage: S, signers: readonly NoteSigner[]) => {
    createLog(pollId: string, origin: string): Promise<boolean>;
    append(pollId: string, entry: Uint8Array, tokenId: Uint8Array | null): Promise<{ readonly status: string; readonly index: number }>;
  };
  readonly LogReader: new (storage: S) => { inclusionProof(pollId: string, index: number, size: number): Promise<Uint8Array[]> };
  readonly exportLog: (storage: S, pollId: string, dir: string) => Promise<number>;
}

let bulletinBoard: BulletinBoard<unknown> | null = null;

/** Call once per test file: `useBulletinBoard(await import('@blindvote/bulletin-board'))`. */
export function useBulletinBoard<S>(module: BulletinBoard<S>): void {
  bulletinBoard = module as unknown as BulletinBoard<unknown>;
}

export const POLL_ID = 'city-2026';
export const OPTION_IDS = ['bikes', 'library', 'park'] as const;
export const DIR_HOST = 'vote.example';
export const DIR_ORIGIN = `${DIR_HOST}/poll/${POLL_ID}`;
export const DIR_BOARD_URL = `https://${DIR_ORIGIN}`;

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'blindvote-verifier-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export interface Election {
  readonly tokenKey: TokenKeyPair;
  readonly signer: NoteSigner;
  /** Another board key, for forged checkpoints. */
  readonly otherSigner: NoteSigner;
  readonly poll: Poll;
  /** Real tokens: blinded, blind-signed by the issuer, finalized. */
  readonly tokens: readonly Token[];
}

/** A poll (multi choice, up to 2 of 3 options, roll of 1000) with `tokens` real tokens. */
export async function election(tokens: number): Promise<Election> {
  const tokenKey = await generateTokenKey(2048);
  const signer = new NoteSigner(generateSignerKey('board.test').signerKey);
  const otherSigner = new NoteSigner(generateSignerKey('board.test').signerKey);
  const fields = testPollFields({ poll_id: POLL_ID, spki: tokenKey.spki, board_key: signer.verifierKey }, { roll: { size: 1000, commitment: sha256(utf8('roll')) } });
  const client = await TokenClient.create(tokenKey.spki, POLL_ID);
  const issued: Token[] = [];
  for (let i = 0; i < tokens; i++) {
    const state = await client.blind();
    issued.push(await client.finalize(state, blindSign(tokenKey.privateKey, state.blindedMsg)));
  }
  return { tokenKey, signer, otherSigner, poll: new Poll(fields), tokens: issued };
}

/** `n` valid tokens signed directly with the issuer's key (volume tests; see the module docs). */
export function directTokens(e: Election, n: number): Token[] {
  return Array.from({ length: n }, () => testToken(e.tokenKey.privateKey, POLL_ID));
}

/** The choices ballot i makes by default: a cycle of single and double choices. */
export function defaultChoice(i: number): string[] {
  return [['bikes'], ['library'], ['bikes', 'park'], ['park']][i % 4]!;
}

export function ballot(token: Token, choice: readonly string[]): Ballot {
  return new Ballot({ poll_id: POLL_ID, token, choice: [...choice] });
}

/** A token with one bit of its signature flipped: well-formed, does not verify. */
export const forged = forgedToken;

/** What the sequencer appends: the entry's bytes and the token id it spends. */
export interface BoardEntry {
  readonly bytes: Uint8Array;
  readonly tokenId: Uint8Array;
  readonly entry: Poll | Ballot | Close | Tally;
}

/** Ballots spend their token id; the other entries a deterministic id of their type (as the sequencer asks). */
export function entry(e: Poll | Ballot | Close | Tally, tokenId?: Uint8Array): BoardEntry {
  const id = tokenId ?? (e instanceof Ballot ? e.tokenId() : sha256(utf8(`${e.type}/${e.poll_id}`)));
  return { bytes: e.serialize(), tokenId: id, entry: e };
}

export function close(ballots: number, issued = ballots + 2): Close {
  return new Close({ poll_id: POLL_ID, closed_at: '2026-03-01T18:00:00Z', ballots, issued });
}

/** The tally of a board whose entries (poll .. close) are `entries` (see `testTally`). */
export function tallyOf(entries: readonly BoardEntry[], overrides: Parameters<typeof testTally>[1] = {}): Tally {
  return testTally(entries.map((e) => e.bytes), overrides);
}

/** [poll, ballot × tokens.length, close, tally], every ballot valid, the tally right. */
export function goodEntries(e: Election, tokens: readonly Token[] = e.tokens): BoardEntry[] {
  const entries = [entry(e.poll), ...tokens.map((t, i) => entry(ballot(t, defaultChoice(i))))];
  entries.push(entry(close(tokens.length)));
  entries.push(entry(tallyOf(entries)));
  return entries;
}

export interface Board {
  /** The exported tlog-tiles directory. */
  readonly dir: string;
  readonly size: number;
  /** The signed checkpoint exported. */
  readonly checkpoint: string;
  /** Every entry of the log, in order. */
  readonly entries: readonly BoardEntry[];
  /** Inclusion proof of leaf `index` in the exported tree. */
  proof(index: number): Promise<Uint8Array[]>;
  /** Appends `more` to the same log and exports it again, to a new directory. */
  grow(more: readonly BoardEntry[]): Promise<Board>;
}

/**
 * Appends `entries` in order with the Sequencer (each with its token id) to a fresh SQLite log
 * whose checkpoints `signer` signs with `origin`, and exports it. The log stays open (for
 * `proof` and `grow`) until the test file ends.
 */
export async function buildBoard(entries: readonly BoardEntry[], signer: NoteSigner, origin = DIR_ORIGIN): Promise<Board> {
  if (bulletinBoard === null) throw new Error('fixture: call useBulletinBoard(await import(\'@blindvote/bulletin-board\')) first');
  const { SqliteLogStorage, Sequencer, LogReader, exportLog } = bulletinBoard;
  const root = mkdtempSync(join(tmpdir(), 'blindvote-verifier-'));
  const storage = new SqliteLogStorage(join(root, 'board.db'));
  after(async () => {
    await storage.close();
    rmSync(root, { recursive: true, force: true });
  });
  const sequencer = new Sequencer(storage, [signer]);
  const reader = new LogReader(storage);
  await sequencer.createLog(POLL_ID, origin);
  let exports = 0;
  const append = async (all: readonly BoardEntry[], more: readonly BoardEntry[]): Promise<Board> => {
    const base = all.length - more.length;
    const results = await Promise.all(more.map((e) => sequencer.append(POLL_ID, e.bytes, e.tokenId)));
    results.forEach((r, i) => {
      if (r.status !== 'appended' || r.index !== base + i) throw new Error(`fixture: entry ${base + i} was not appended there: ${JSON.stringify(r)}`);
    });
    const dir = join(root, `export-${exports++}`);
    const size = await exportLog(storage, POLL_ID, dir);
    return {
      dir,
      size,
      checkpoint: readFileSync(join(dir, 'checkpoint'), 'utf8'),
      entries: all,
      proof: (index) => reader.inclusionProof(POLL_ID, index, size),
      grow: (next) => append([...all, ...next], next),
    };
  };
  return append(entries, entries);
}

/** A receipt for the ballot at `index` of `board`, against its exported checkpoint. */
export async function receiptText(board: Board, index: number, boardUrl = DIR_BOARD_URL, edit: (r: ReceiptJSON) => void = () => {}): Promise<string> {
  const b = board.entries[index]!.entry;
  if (!(b instanceof Ballot)) throw new Error(`fixture: entry ${index} is not a ballot`);
  const receipt = new Receipt({
    poll_id: POLL_ID,
    board: boardUrl,
    ballot: b,
    leaf_index: index,
    leaf_hash: leafHash(b.serialize()),
    checkpoint: board.checkpoint,
    inclusion_proof: await board.proof(index),
  });
  const json = receipt.toJSON();
  edit(json);
  return JSON.stringify(json, null, 2);
}

export interface StaticServer {
  readonly port: number;
  /** The origin a board served here has: `127.0.0.1:<port>/poll/<POLL_ID>`. */
  readonly origin: string;
  /** The board's prefix URL. */
  readonly url: string;
  /** Serve `dir` (an exported board) under /poll/<POLL_ID>/ from now on. */
  serve(dir: string): void;
  /** Requests seen, for tests of the fetcher. */
  readonly requests: string[];
}

/** A static file server on 127.0.0.1 (random port), closed after the test file. */
export async function staticServer(): Promise<StaticServer> {
  let root: string | null = null;
  const requests: string[] = [];
  const prefix = `/poll/${POLL_ID}/`;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const rel = path.startsWith(prefix) ? normalize(path.slice(prefix.length)) : null;
    if (root === null || rel === null || rel.startsWith('..') || rel.includes(`${sep}..`)) {
      res.writeHead(404).end('not found');
      return;
    }
    const file = join(root, rel);
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  const port = (server.address() as AddressInfo).port;
  const origin = `127.0.0.1:${port}/poll/${POLL_ID}`;
  return {
    port,
    origin,
    url: `http://${origin}`,
    serve: (dir) => {
      root = dir;
    },
    requests,
  };
}
