/**
 * cli.ts as a user runs it: `node verifier/src/cli.ts …` in a child process. Exit status 0 when
 * every check passed, 1 when one failed, 2 for usage errors with a message saying what to fix;
 * --json on stdout only; --help everywhere; no stack trace for anything a user or board supplies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256, utf8 } from '@blindvote/crypto';
import * as bulletinBoard from '@blindvote/bulletin-board';
import { AUDIT_CHECKS } from './audit.ts';
import { ballot, buildBoard, election, entry, goodEntries, receiptText, staticServer, tempDir, useBulletinBoard } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const E = await election(5);
const KEY = E.signer.verifierKey;
const BOARD = await buildBoard(goodEntries(E), E.signer);
const RECEIPT = join(tempDir(), 'receipt.json');
writeFileSync(RECEIPT, await receiptText(BOARD, 2));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI asynchronously (the test's HTTP server must keep answering meanwhile). */
function run(...args: string[]): Promise<Run> {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const noStack = (r: Run) => assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*:\d+:\d+/, 'a stack trace was printed');

test('--help for the tool and for each command, exit 0', async () => {
  const results = await Promise.all([run('--help'), run('-h'), run('receipt', '--help'), run('audit', '--help'), run('monitor', '-h')]);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage:/);
    assert.match(r.stdout, /Exit status: 0 every check passed; 1 a check failed or could not be completed; 2 usage error/);
  }
  assert.match(results[0]!.stdout, /blindvote-verify receipt <file>.*\n.*blindvote-verify audit <url\|dir>.*\n.*blindvote-verify monitor <url\|dir> --state <file>/);
  assert.match(results[3]!.stdout, /--board-key <vkey>.*obtained out of\n\s+band/);
});

test('usage errors exit 2 with a message saying what to fix', async () => {
  const cases: [string[], RegExp][] = [
    [[], /missing command\nSee blindvote-verify --help\./],
    [['vote'], /unknown command "vote" \(receipt, audit or monitor\)/],
    [['audit'], /missing <url\|dir>\nSee blindvote-verify audit --help\./],
    [['audit', BOARD.dir, 'extra'], /unexpected argument "extra"/],
    [['audit', BOARD.dir, '--colour'], /Unknown option '--colour'/],
    [['audit', BOARD.dir, '--board-key'], /--board-key <value>' argument missing/],
    [['audit', BOARD.dir, '--board-key', 'nope'], /--board-key: not a C2SP verifier key/],
    [['audit', BOARD.dir, '--origin', 'https://vote.example/poll/x'], /--origin: expected <host>\/poll\/<poll_id> without a scheme/],
    [['audit', join(BOARD.dir, 'nope')], /neither an http\(s\) URL nor an existing directory/],
    [['audit', 'ftp://vote.example/poll/x'], /neither an http\(s\) URL/],
    [['receipt', join(BOARD.dir, 'nope.json'), '--board-key', KEY], /nope\.json: no such file/],
    [['receipt', RECEIPT], /give --board <url\|dir> to check against the board \(this receipt names the board https:\/\/vote\.example\/poll\/city-2026\), or --board-key <vkey>/],
    [['monitor', BOARD.dir], /missing --state <file>/],
  ];
  const results = await Promise.all(cases.map(([args]) => run(...args)));
  results.forEach((r, i) => {
    const [args, message] = cases[i]!;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^blindvote-verify: /);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
    noStack(r);
  });
});

test('audit: a correct board exits 0 with a readable list; --json prints every check', async () => {
  const r = await run('audit', BOARD.dir, '--board-key', KEY);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^audit of .*: 16 checks, all passed\n/);
  assert.match(r.stdout, /\n✓ root: the 8 entries hash to the checkpoint's root [0-9a-f]{64}\n/);
  assert.match(r.stdout, /\nOK\n$/);
  // Not a terminal: no progress, but a final count.
  assert.equal(r.stderr, 'read 8 of 8 entries in 1 bundle(s)\n');

  const j = await run('audit', BOARD.dir, '--json');
  assert.equal(j.code, 0);
  assert.equal(j.stderr, '');
  const parsed = JSON.parse(j.stdout) as { ok: boolean; checks: { check: string; ok: boolean; detail: string }[] };
  assert.equal(parsed.ok, true);
  assert.deepEqual(parsed.checks.map((c) => c.check), [...AUDIT_CHECKS]);
});

test('audit: a failing board exits 1, failures first with their evidence; --json carries it all', async () => {
  const entries = goodEntries(E).slice(0, -1);
  // A late ballot reusing token 0; the sequencer was given another id for it.
  const bad = await buildBoard([...entries, entry(ballot(E.tokens[0]!, ['library']), sha256(utf8('another id')))], E.signer);
  const r = await run('audit', bad.dir, '--board-key', KEY);
  assert.equal(r.code, 1);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /: 16 checks, 2 failed$/);
  assert.match(lines[1]!, /^✗ entry-order: out of order at entry 7; first: a ballot after the close entry \(entry 6\)$/);
  assert.match(lines[2]!, /^ {4}evidence: \{"count":1,"items":\[\{"index":7,/);
  assert.match(lines[3]!, /^✗ token-reuse: 1 token id\(s\) used more than once; first: [0-9a-f]{64} by entries 1, 7/);
  assert.match(r.stdout, /\nFAILED\n$/);
  noStack(r);

  const j = await run('audit', bad.dir, '--board-key', KEY, '--json');
  assert.equal(j.code, 1);
  const parsed = JSON.parse(j.stdout) as { ok: boolean; checks: { check: string; ok: boolean; evidence?: unknown }[] };
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.checks.filter((c) => !c.ok).map((c) => c.check), ['entry-order', 'token-reuse']);
  assert.deepEqual((parsed.checks.find((c) => c.check === 'token-reuse')!.evidence as { items: { indexes: number[] }[] }).items[0]!.indexes, [1, 7]);
});

test('audit over HTTP', async () => {
  const server = await staticServer();
  const board = await buildBoard(goodEntries(E), E.signer, server.origin);
  server.serve(board.dir);
  const r = await run('audit', server.url, '--board-key', KEY);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  server.serve(tempDir());
  const gone = await run('audit', server.url, '--json');
  assert.equal(gone.code, 1);
  const parsed = JSON.parse(gone.stdout) as { checks: { check: string; detail: string }[] };
  assert.match(parsed.checks[0]!.detail, /^cannot read the checkpoint: http:\/\/127\.0\.0\.1:\d+\/poll\/city-2026\/checkpoint: HTTP 404/);
});

test('receipt: offline with the key, against the board, and malformed (exit 1, precise, no stack)', async () => {
  const offline = await run('receipt', RECEIPT, '--board-key', KEY);
  assert.equal(offline.code, 0, offline.stdout);
  assert.match(offline.stdout, /✓ inclusion-proof: leaf 2 is in the tree of size 8/);
  const online = await run('receipt', RECEIPT, '--board', BOARD.dir, '--json');
  assert.equal(online.code, 0, online.stdout);
  assert.ok((JSON.parse(online.stdout) as { checks: { check: string }[] }).checks.some((c) => c.check === 'consistency'));

  const dir = tempDir();
  const cases: [string, RegExp][] = [
    ['{"v":1,', /✗ receipt: not a valid v1 receipt: receipt: /],
    [readFileSync(RECEIPT, 'utf8').replace(/"leaf_hash": "[^"]+"/, '"leaf_hash": "AAAA"'), /✗ receipt: not a valid v1 receipt: receipt\.leaf_hash: expected 32 bytes, got 3/],
    [readFileSync(RECEIPT, 'utf8').replace(/BEGIN|— board\.test [A-Za-z0-9+/=]+/, '— board.test AAAA'), /✗ receipt: not a valid v1 receipt: receipt\.checkpoint: note: signature line 1/],
  ];
  for (const [i, [text, message]] of cases.entries()) {
    const file = join(dir, `bad-${i}.json`);
    writeFileSync(file, text);
    const r = await run('receipt', file, '--board-key', KEY);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, message);
    noStack(r);
  }
});

test('monitor: the state file is created, advanced when consistent, and kept on a rollback', async () => {
  const state = join(tempDir(), 'state.json');
  const board = await buildBoard(goodEntries(E).slice(0, 4), E.signer);
  const grown = await board.grow(goodEntries(E).slice(4, 6));

  const first = await run('monitor', grown.dir, '--state', state, '--board-key', KEY);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.ok(existsSync(state));
  const saved = readFileSync(state, 'utf8');
  assert.equal((JSON.parse(saved) as { checkpoint: string }).checkpoint, grown.checkpoint);

  const back = await run('monitor', board.dir, '--state', state, '--json');
  assert.equal(back.code, 1);
  const parsed = JSON.parse(back.stdout) as { checks: { check: string; ok: boolean; evidence?: { reason: string; earlier: string; newer: string } }[] };
  const consistency = parsed.checks.find((c) => c.check === 'consistency')!;
  assert.equal(consistency.ok, false);
  assert.deepEqual(consistency.evidence, { reason: 'rollback', earlier: grown.checkpoint, newer: board.checkpoint });
  assert.equal(readFileSync(state, 'utf8'), saved);

  writeFileSync(state, '{"v":1}');
  const corrupt = await run('monitor', grown.dir, '--state', state);
  assert.equal(corrupt.code, 2);
  assert.match(corrupt.stderr, /--state .*state\.json: not a valid state file: board: expected a string \(move it away to start over\)/);
  noStack(corrupt);
});

test('monitor: a state advanced by an overlapping run meanwhile is never rolled back by this one', async () => {
  const board = await buildBoard(goodEntries(E).slice(0, 4), E.signer);
  const grown = await board.grow(goodEntries(E).slice(4, 6));
  const dir = tempDir();
  const state = join(dir, 'state.json');
  const newer = join(dir, 'newer.json');
  assert.equal((await run('monitor', board.dir, '--state', state, '--board-key', KEY)).code, 0);
  assert.equal((await run('monitor', grown.dir, '--state', newer, '--board-key', KEY)).code, 0);
  const advanced = readFileSync(newer, 'utf8');

  // The board (still the smaller tree) is served over HTTP; while this run fetches its checkpoint,
  // another run advances the state file to the grown tree.
  const server = createServer((req, res) => {
    const rel = (req.url ?? '').replace(/^\/poll\/city-2026\//, '');
    if (rel === 'checkpoint') writeFileSync(state, advanced);
    try {
      res.writeHead(200).end(readFileSync(join(board.dir, rel)));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/poll/city-2026`;
    const r = await run('monitor', url, '--state', state, '--origin', 'vote.example/poll/city-2026');
    noStack(r);
    assert.equal(readFileSync(state, 'utf8'), advanced, 'the state went back to the smaller tree');
    assert.match(r.stderr, /changed by another run/);
  } finally {
    server.close();
  }
});
