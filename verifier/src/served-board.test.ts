/**
 * The verifier reads a board as the bulletin-board service serves it: a `Board` on SQLite behind
 * its fastify routes on a real port, holding an election with real RFC 9474 tokens (manifest,
 * ballots across tile boundaries, close, tally). `audit` over `httpFetcher(board.boardUrl(id))`
 * passes every check, receipts made from the Board's answers check out against the served
 * board, and a sealed poll cannot be audited until it closes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import { Poll, Receipt, parseEntry } from '@blindvote/crypto';
import type { Ballot, Token } from '@blindvote/crypto';
import { Board, boardRoutes, SqliteLogStorage } from '@blindvote/bulletin-board';
import { AUDIT_CHECKS, audit } from './audit.ts';
import { allPassed } from './checks.ts';
import type { Check } from './checks.ts';
import { httpFetcher } from './fetch.ts';
import { checkReceipt } from './receipt-check.ts';
import { POLL_ID, ballot, defaultChoice, directTokens, election, entry, tallyOf, tempDir } from './testing/election.ts';

const E = await election(2);
const failed = (checks: readonly Check[]) => checks.filter((c) => !c.ok);

/** A port free on 127.0.0.1 just now (the board's URL, hence its checkpoint origin, must be known before it serves). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A Board with `poll` published, served over HTTP on 127.0.0.1; closed after the file. */
async function servedBoard(poll: Poll): Promise<Board> {
  const port = await freePort();
  const storage = new SqliteLogStorage(join(tempDir(), 'board.db'));
  const board = new Board({ storage, signer: E.signer, baseUrl: `http://127.0.0.1:${port}` });
  const app = Fastify();
  await app.register(boardRoutes, { board });
  await app.listen({ port, host: '127.0.0.1' });
  after(async () => {
    await app.close();
    await board.shutdown();
    await storage.close();
  });
  await board.publish(poll);
  return board;
}

async function castAll(board: Board, tokens: readonly Token[]): Promise<{ ballots: Ballot[]; receipts: string[] }> {
  const ballots = tokens.map((t, i) => ballot(t, defaultChoice(i)));
  const receipts = await Promise.all(
    ballots.map(async (b) => {
      const r = await board.appendBallot(b);
      if (r.status !== 'appended') throw new Error(`ballot not appended: ${r.status}`);
      const receipt = new Receipt({
        poll_id: POLL_ID,
        board: board.boardUrl(POLL_ID),
        ballot: b,
        leaf_index: r.leafIndex,
        leaf_hash: r.leafHash,
        checkpoint: r.checkpoint,
        inclusion_proof: r.inclusionProof,
      });
      return JSON.stringify(receipt.toJSON());
    }),
  );
  return { ballots, receipts };
}

/** Closes the poll and appends the tally the recount gives. */
async function closeAndTally(board: Board, ballots: number): Promise<void> {
  await board.closePoll(POLL_ID, ballots + 2, new Date('2026-03-01T18:00:00Z'));
  const size = (await board.state(POLL_ID))!.size;
  const entries = (await board.entries(POLL_ID, 0, size)).map((bytes) => entry(parseEntry(bytes)));
  await board.appendTally(POLL_ID, tallyOf(entries).serialize());
}

test('audit over HTTP of a served board: manifest, 300 ballots with real tokens, close, tally — every check passes', async () => {
  const board = await servedBoard(E.poll);
  const tokens = [...E.tokens, ...directTokens(E, 298)];
  const { receipts } = await castAll(board, tokens);
  await closeAndTally(board, tokens.length);
  assert.equal((await board.state(POLL_ID))?.size, 1 + tokens.length + 2);

  const fetcher = httpFetcher(board.boardUrl(POLL_ID));
  for (const options of [{ boardKey: E.signer.verifierKey }, {}]) {
    const checks = await audit(fetcher, options);
    assert.deepEqual(checks.map((c) => c.check), [...AUDIT_CHECKS]);
    assert.deepEqual(failed(checks), [], JSON.stringify(failed(checks), null, 2));
  }
  const counts = (await audit(fetcher, { boardKey: E.signer.verifierKey })).find((c) => c.check === 'tally-counts');
  assert.match(counts!.detail, /\(300 counted, 0 rejected\)/);

  // Receipts from the Board's answers (batch checkpoints, now older than the board) check out against it.
  for (const receipt of [receipts[0]!, receipts[150]!, receipts[299]!]) {
    const checks = await checkReceipt(receipt, fetcher, { boardKey: E.signer.verifierKey });
    assert.ok(allPassed(checks), JSON.stringify(failed(checks), null, 2));
  }
});

test('a sealed poll served over HTTP fails the audit (its entries are withheld) until it closes, then passes', async () => {
  const sealed = Poll.fromJSON({ ...E.poll.toJSON(), results: 'sealed' });
  const board = await servedBoard(sealed);
  const tokens = directTokens(E, 20);
  const { receipts } = await castAll(board, tokens);
  const fetcher = httpFetcher(board.boardUrl(POLL_ID));

  const during = await audit(fetcher, { boardKey: E.signer.verifierKey });
  assert.ok(failed(during).some((c) => c.check === 'entries' && /403/.test(c.detail)), JSON.stringify(failed(during), null, 2));
  // Receipts stay fully verifiable while sealed: checkpoints and hash tiles are served, and so is
  // the manifest alone (tile/entries/000.p/1), which is what checkReceipt reads.
  const receiptChecks = await checkReceipt(receipts[3]!, fetcher, { boardKey: E.signer.verifierKey });
  assert.deepEqual(failed(receiptChecks), [], JSON.stringify(failed(receiptChecks), null, 2));
  assert.ok(receiptChecks.some((c) => c.check === 'inclusion-proof' && c.ok), JSON.stringify(receiptChecks.map((c) => c.check)));

  await closeAndTally(board, tokens.length);
  const checks = await audit(fetcher, { boardKey: E.signer.verifierKey });
  assert.deepEqual(failed(checks), [], JSON.stringify(failed(checks), null, 2));
});
