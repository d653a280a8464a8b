/**
 * receipt-check.ts: receipts issued by real boards, checked offline against the board key, and
 * against the board (directory and HTTP): the manifest, the token, and the consistency of the
 * receipt's checkpoint with the board's newest, whose failure is evidence of a split view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toBase64 } from '@blindvote/crypto';
import * as bulletinBoard from '@blindvote/bulletin-board';
import type { Check } from './checks.ts';
import { dirFetcher, httpFetcher } from './fetch.ts';
import { checkReceipt } from './receipt-check.ts';
import { DIR_ORIGIN, ballot, buildBoard, defaultChoice, election, entry, forged, receiptText, staticServer, useBulletinBoard } from './testing/election.ts';
import type { BoardEntry } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const E = await election(6);
const KEY = E.signer.verifierKey;
const failed = (checks: readonly Check[]) => checks.filter((c) => !c.ok).map((c) => c.check);
const named = (checks: readonly Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `no check named ${name}`);
  return c;
};

/** [poll, ballots of tokens 0..3]: voting still open, so boards grow. */
const OPEN: BoardEntry[] = [entry(E.poll), ...E.tokens.slice(0, 4).map((t, i) => entry(ballot(t, defaultChoice(i))))];
const BOARD = await buildBoard(OPEN, E.signer);
const RECEIPT = await receiptText(BOARD, 2);

test('a receipt checked offline against the board key passes, and says what it did not check', async () => {
  const checks = await checkReceipt(RECEIPT, null, { boardKey: KEY });
  assert.deepEqual(failed(checks), []);
  assert.deepEqual(
    checks.map((c) => c.check),
    ['receipt', 'board-key', 'board-url', 'leaf-hash', 'checkpoint-signature', 'checkpoint-origin', 'leaf-index', 'inclusion-proof', 'scope'],
  );
  assert.match(named(checks, 'scope').detail, /token signature.*not checked/);
  assert.deepEqual(failed(await checkReceipt(RECEIPT, null)), ['board-key']);
  assert.deepEqual(failed(await checkReceipt(RECEIPT, null, { boardKey: E.otherSigner.verifierKey })), ['checkpoint-signature']);
});

test('a receipt checked against its board: manifest, token and consistency too; the key\'s origin is stated', async () => {
  const grown = await BOARD.grow([entry(ballot(E.tokens[4]!, ['library']))]);
  for (const [board, consistency] of [[BOARD, /the same tree \(size 5/], [grown, /size 5 → 6: consistency proof of \d hash\(es\) verified/]] as const) {
    const checks = await checkReceipt(RECEIPT, dirFetcher(board.dir), { boardKey: KEY });
    assert.deepEqual(failed(checks), [], JSON.stringify(checks, null, 2));
    assert.deepEqual(checks.map((c) => c.check), [
      'receipt', 'board-key', 'manifest', 'ballot', 'token-signature', 'board-url', 'leaf-hash', 'checkpoint-signature',
      'checkpoint-origin', 'leaf-index', 'inclusion-proof', 'board-checkpoint', 'consistency',
    ]);
    assert.match(named(checks, 'consistency').detail, consistency);
    assert.match(named(checks, 'manifest').detail, /proven included/);
  }
  const self = await checkReceipt(RECEIPT, dirFetcher(BOARD.dir));
  assert.deepEqual(failed(self), []);
  assert.match(named(self, 'board-key').detail, /board's own manifest.*self-consistent/);
});

test('over HTTP, against the board the receipt names', async () => {
  const server = await staticServer();
  const board = await buildBoard(OPEN, E.signer, server.origin);
  server.serve(board.dir);
  const receipt = await receiptText(board, 1, server.url);
  assert.deepEqual(failed(await checkReceipt(receipt, httpFetcher(server.url), { boardKey: KEY })), []);
});

test('a receipt whose inclusion proof is wrong fails inclusion-proof, offline and against the board', async () => {
  const bad = await receiptText(BOARD, 2, undefined, (r) => {
    const first = Uint8Array.from(atob(r.inclusion_proof[0]!), (ch) => ch.charCodeAt(0));
    first[0]! ^= 1;
    r.inclusion_proof[0] = toBase64(first);
  });
  assert.deepEqual(failed(await checkReceipt(bad, null, { boardKey: KEY })), ['inclusion-proof']);
  const online = await checkReceipt(bad, dirFetcher(BOARD.dir), { boardKey: KEY });
  assert.deepEqual(failed(online), ['inclusion-proof']);
  assert.match(named(online, 'inclusion-proof').detail, /does not lead to the given root/);

  const short = await receiptText(BOARD, 2, undefined, (r) => void r.inclusion_proof.pop());
  assert.match(named(await checkReceipt(short, null, { boardKey: KEY }), 'inclusion-proof').detail, /has 2 hashes, want exactly 3/);
});

test('a receipt against a board whose newest checkpoint does not extend it: split-view evidence with both notes', async () => {
  // Another history under the same key and origin: ballot 2 replaced, then more.
  const other = [...OPEN.slice(0, 2), entry(ballot(E.tokens[5]!, ['park'])), ...OPEN.slice(3)];
  const fork = await buildBoard(other, E.signer);
  const checks = await checkReceipt(RECEIPT, dirFetcher(fork.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['consistency']);
  const c = named(checks, 'consistency');
  assert.match(c.detail, /fork: two signed checkpoints of size 5 with different roots/);
  assert.deepEqual(c.evidence, { reason: 'fork', earlier: BOARD.checkpoint, newer: fork.checkpoint });

  const longer = await fork.grow([entry(ballot(E.tokens[4]!, ['bikes']))]);
  const checks2 = await checkReceipt(RECEIPT, dirFetcher(longer.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks2), ['consistency']);
  const c2 = named(checks2, 'consistency');
  assert.match(c2.detail, /not proven to extend the earlier one of size 5.*split view/);
  const ev = c2.evidence as { reason: string; earlier: string; newer: string; proof: string[] };
  assert.equal(ev.reason, 'inconsistent');
  assert.equal(ev.earlier, BOARD.checkpoint);
  assert.equal(ev.newer, longer.checkpoint);
  assert.ok(ev.proof.length > 0);

  // The board went back to before the receipt: a rollback.
  const before = await buildBoard(OPEN.slice(0, 3), E.signer);
  const checks3 = await checkReceipt(RECEIPT, dirFetcher(before.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks3), ['consistency']);
  assert.equal((named(checks3, 'consistency').evidence as { reason: string }).reason, 'rollback');
});

test('a ballot with a forged token: only the board\'s manifest can tell, and it does', async () => {
  const board = await buildBoard([...OPEN.slice(0, 3), entry(ballot(forged(E.tokens[5]!), ['bikes']))], E.signer);
  const receipt = await receiptText(board, 3);
  assert.deepEqual(failed(await checkReceipt(receipt, null, { boardKey: KEY })), []);
  const checks = await checkReceipt(receipt, dirFetcher(board.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['token-signature']);
});

test('a board whose manifest names another key than the one given, and a board key that is not a key', async () => {
  const dirChecks = await checkReceipt(RECEIPT, dirFetcher(BOARD.dir), { boardKey: E.otherSigner.verifierKey });
  assert.deepEqual(failed(dirChecks), ['manifest', 'checkpoint-signature', 'board-checkpoint', 'consistency']);
  assert.match(named(dirChecks, 'manifest').detail, /is not the key given/);

  const bad = await checkReceipt(RECEIPT, dirFetcher(BOARD.dir), { boardKey: 'nope' });
  assert.match(named(bad, 'board-key').detail, /not a C2SP verifier key/);
  assert.ok(failed(bad).includes('checkpoint-signature'));
});

test('malformed receipts are one failed check with a precise message', async () => {
  for (const [text, message] of [
    ['', /receipt: /],
    ['{', /receipt: /],
    ['[]', /receipt: /],
    [RECEIPT.replace('"v": 1', '"v": 2'), /unsupported version 2/],
    [RECEIPT.replace(`"leaf_index": 2`, `"leaf_index": -1`), /leaf_index/],
    [RECEIPT.replace(DIR_ORIGIN, 'other.example/poll/city-2026/'), /board: must not end with "\/"/],
    ['x'.repeat(70_000), /at most 65536/],
  ] as const) {
    const checks = await checkReceipt(text, null, { boardKey: KEY });
    assert.equal(checks.length, 1);
    assert.equal(checks[0]!.check, 'receipt');
    assert.equal(checks[0]!.ok, false);
    assert.match(checks[0]!.detail, /^not a valid v1 receipt: /);
    assert.match(checks[0]!.detail, message);
  }
});
