#!/usr/bin/env node
/**
 * blindvote-verify: the public verifier's command line (DESIGN.md "Public surface": CLIs).
 *
 *   receipt <file>   a ballot receipt, offline (--board-key) or against its board (--board)
 *   audit <board>    the whole board: checkpoint, tree, manifest, every ballot and token, tally
 *   monitor <board>  the newest checkpoint extends the last one seen (--state file)
 *
 * Contracts: exit status 0 when every check passed, 1 when a check failed (or could not be
 * completed), 2 for a usage error, with a message saying what to fix. Nothing the user or a
 * board supplies ever produces a stack trace: malformed receipts, notes, tiles and state files
 * get a precise message. `--json` prints `{"ok", "checks"}` on stdout and nothing else; progress
 * goes to stderr, only on a terminal and never with --json.
 */
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_RECEIPT_SIZE, Receipt, VerifierKey } from '@blindvote/crypto';
import { audit } from './audit.ts';
import type { AuditProgress } from './audit.ts';
import type { Check } from './checks.ts';
import { allPassed, errorMessage } from './checks.ts';
import { openBoard } from './fetch.ts';
import type { BoardFetcher } from './fetch.ts';
import { MAX_STATE_SIZE, monitor, parseMonitorState, serializeMonitorState } from './monitor.ts';
import type { MonitorState } from './monitor.ts';
import { checkReceipt } from './receipt-check.ts';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const KEY_HELP = `  --board-key <vkey>  the board's C2SP verifier key (<name>+<hex8>+<base64>), obtained out of
                      band (the organisers, a witness, the press). Without it the key is taken
                      from the board's own manifest, which proves only that the board is
                      self-consistent, not that it is the board that was published.`;
const COMMON_HELP = `  --json              print {"ok": …, "checks": [{check, ok, detail, evidence?}]} on stdout
  -h, --help          this help`;
const EXIT_HELP = `Exit status: 0 every check passed; 1 a check failed or could not be completed; 2 usage error.`;

const HELP: Record<string, string> = {
  main: `blindvote-verify: prove that a blindvote poll counted every ballot, from the outside.

Usage:
  blindvote-verify receipt <file> [--board <url|dir>] [--board-key <vkey>] [--json]
  blindvote-verify audit <url|dir> [--board-key <vkey>] [--origin <origin>] [--json]
  blindvote-verify monitor <url|dir> --state <file> [--board-key <vkey>] [--origin <origin>] [--json]
  blindvote-verify <command> --help

Commands:
  receipt   check a ballot receipt: offline against --board-key, or against the board
  audit     replay a whole board: signatures, Merkle tree, every ballot and token, close, tally
  monitor   check that the board's newest checkpoint extends the last one seen

A board is its tlog-tiles prefix URL (https://host/poll/<poll_id>) or a directory exported
from it.

${EXIT_HELP}
`,
  receipt: `Usage: blindvote-verify receipt <file> [--board <url|dir>] [--board-key <vkey>] [--json]

Checks a ballot receipt (a JSON file; "-" reads stdin): the ballot's leaf hash, the checkpoint's
signature and origin, and the inclusion proof. With --board it also reads the board's manifest
(so the ballot's choice and token signature are checked) and its newest checkpoint, and proves
that checkpoint consistent with the receipt's: if it is not, the board shows different views to
different people, and both signed checkpoints are printed as evidence.
Without --board the check is offline and needs --board-key.

Options:
  --board <url|dir>   the board to check against (the receipt's "board" URL, or a mirror)
${KEY_HELP}
${COMMON_HELP}

${EXIT_HELP}
`,
  audit: `Usage: blindvote-verify audit <url|dir> [--board-key <vkey>] [--origin <origin>] [--json]

Replays the whole board: verifies the checkpoint, reads every entry bundle, recomputes every
leaf hash, every stored hash tile and the root; checks the poll manifest (entry 0), every ballot
(poll, choice, token signature), that no token is used twice, the close entry (ballots ≤ issued ≤
roll size) and the tally (its commitment to the board and its counts, recounted).

Options:
${KEY_HELP}
  --origin <origin>   the expected checkpoint origin (<host>/poll/<poll_id>); default: the board
                      URL without its scheme. Needed for a mirror at another URL.
${COMMON_HELP}

${EXIT_HELP}
`,
  monitor: `Usage: blindvote-verify monitor <url|dir> --state <file> [--board-key <vkey>] [--origin <origin>] [--json]

Fetches the board's newest checkpoint, verifies its signature, and proves it consistent with
the last checkpoint this monitor accepted (kept in the --state file, created on the first run).
A rollback (a smaller tree), a fork (same size, other root) or a failed consistency proof is
reported with both signed checkpoints as evidence, and the state file is left unchanged. The key
(given, or on the first run the manifest's) is kept in the state: later runs follow that key.
Run it periodically (cron) and alert on a non-zero exit status.

Options:
  --state <file>      the monitor's state (JSON); created when missing, updated when all passed
${KEY_HELP}
  --origin <origin>   the expected checkpoint origin; default: the state's, or the board URL's
${COMMON_HELP}

${EXIT_HELP}
`,
};

class UsageError extends Error {
  override name = 'UsageError';
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.command = command;
  }
}

interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly progress: boolean;
}

export async function main(argv: readonly string[], io: Output = defaultOutput()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) throw new UsageError('main', 'missing command');
    if (command === '-h' || command === '--help' || command === 'help') {
      io.out(HELP['main']!);
      return EXIT_OK;
    }
    if (command === 'receipt') return await receiptCommand(rest, io);
    if (command === 'audit') return await auditCommand(rest, io);
    if (command === 'monitor') return await monitorCommand(rest, io);
    throw new UsageError('main', `unknown command ${JSON.stringify(command)} (receipt, audit or monitor)`);
  } catch (err) {
    if (err instanceof UsageError) {
      const hint = err.command === 'main' ? 'blindvote-verify --help' : `blindvote-verify ${err.command} --help`;
      io.err(`blindvote-verify: ${err.message}\nSee ${hint}.\n`);
      return EXIT_USAGE;
    }
    io.err(`blindvote-verify: ${errorMessage(err)}\n`);
    return EXIT_FAILED;
  }
}

function defaultOutput(): Output {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    progress: process.stderr.isTTY === true,
  };
}

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function parse(command: string, args: readonly string[], options: Options, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(command, errorMessage(err).replace(/\. To specify a positional argument.*$/s, ''));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values['help'] !== true) {
    if (parsed.positionals.length < positionals) throw new UsageError(command, `missing ${command === 'receipt' ? '<file>' : '<url|dir>'}`);
    if (parsed.positionals.length > positionals) throw new UsageError(command, `unexpected argument ${JSON.stringify(parsed.positionals[positionals])}`);
  }
  return { values, positionals: parsed.positionals };
}

function optString(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function boardKeyOption(command: string, values: Record<string, string | boolean | undefined>): string | undefined {
  const text = optString(values, 'board-key');
  if (text === undefined) return undefined;
  try {
    return new VerifierKey(text).text;
  } catch (err) {
    throw new UsageError(command, `--board-key: not a C2SP verifier key (<name>+<hex8 key id>+<base64 key>): ${errorMessage(err)}`);
  }
}

function originOption(command: string, values: Record<string, string | boolean | undefined>): string | undefined {
  const origin = optString(values, 'origin');
  if (origin !== undefined && (origin.length === 0 || /[\x00-\x1f]/.test(origin) || /^[a-z]+:\/\//i.test(origin))) {
    throw new UsageError(command, `--origin: expected <host>/poll/<poll_id> without a scheme, got ${JSON.stringify(origin)}`);
  }
  return origin;
}

async function board(command: string, location: string): Promise<BoardFetcher> {
  try {
    return await openBoard(location);
  } catch (err) {
    throw new UsageError(command, errorMessage(err));
  }
}

// ---------------------------------------------------------------------------------------------

async function receiptCommand(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse('receipt', args, { board: { type: 'string' }, 'board-key': { type: 'string' } }, 1);
  if (values['help'] === true) return help('receipt', io);
  const file = positionals[0]!;
  const boardKey = boardKeyOption('receipt', values);
  const location = optString(values, 'board');
  const text = await readReceiptFile(file);
  if (location === undefined && boardKey === undefined) {
    let named = '';
    try {
      named = ` (this receipt names the board ${Receipt.parse(text).board})`;
    } catch {
      // A malformed receipt: the usage message stands on its own.
    }
    throw new UsageError('receipt', `give --board <url|dir> to check against the board${named}, or --board-key <vkey> for an offline check`);
  }
  const fetcher = location === undefined ? null : await board('receipt', location);
  const checks = await checkReceipt(text, fetcher, boardKey === undefined ? {} : { boardKey });
  return finish(`receipt ${file}`, checks, values['json'] === true, io);
}

async function readReceiptFile(file: string): Promise<Uint8Array> {
  // One byte past the limit, so that Receipt.parse reports the size precisely.
  const limit = MAX_RECEIPT_SIZE + 1;
  if (file === '-') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= limit) break;
    }
    return new Uint8Array(Buffer.concat(chunks).subarray(0, limit));
  }
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError('receipt', `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot open: ${errorMessage(err)}`}`);
  }
  try {
    const buffer = new Uint8Array(limit);
    let at = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, at, limit - at, null);
      if (bytesRead === 0) break;
      at += bytesRead;
      if (at === limit) break;
    }
    return buffer.subarray(0, at);
  } catch (err) {
    throw new UsageError('receipt', `${file}: cannot read: ${errorMessage(err)}`);
  } finally {
    await handle.close();
  }
}

async function auditCommand(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse('audit', args, { 'board-key': { type: 'string' }, origin: { type: 'string' } }, 1);
  if (values['help'] === true) return help('audit', io);
  const json = values['json'] === true;
  const boardKey = boardKeyOption('audit', values);
  const origin = originOption('audit', values);
  const fetcher = await board('audit', positionals[0]!);
  let last: AuditProgress | undefined;
  const showProgress = io.progress && !json;
  const checks = await audit(fetcher, {
    ...(boardKey === undefined ? {} : { boardKey }),
    ...(origin === undefined ? {} : { origin }),
    onProgress: (p) => {
      last = p;
      if (showProgress) io.err(`\rreading entries: ${p.entries}/${p.size} (bundle ${p.bundles}/${p.totalBundles})`);
    },
  });
  if (showProgress && last !== undefined) io.err('\n');
  if (!json && last !== undefined) io.err(`read ${last.entries} of ${last.size} entries in ${last.bundles} bundle(s)\n`);
  return finish(`audit of ${fetcher.location}`, checks, json, io);
}

async function monitorCommand(args: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parse('monitor', args, { state: { type: 'string' }, 'board-key': { type: 'string' }, origin: { type: 'string' } }, 1);
  if (values['help'] === true) return help('monitor', io);
  const stateFile = optString(values, 'state');
  if (stateFile === undefined) throw new UsageError('monitor', 'missing --state <file> (where the last checkpoint seen is kept; created on the first run)');
  const boardKey = boardKeyOption('monitor', values);
  const origin = originOption('monitor', values);
  const { state, text } = await readState(stateFile);
  const fetcher = await board('monitor', positionals[0]!);
  const result = await monitor(fetcher, state, { ...(boardKey === undefined ? {} : { boardKey }), ...(origin === undefined ? {} : { origin }) });
  if (result.advanced && result.state !== null) {
    const written = await writeState(stateFile, result.state, text);
    if (!written) {
      // Another run (an overlapping cron job) advanced the state meanwhile: writing this run's
      // checkpoint over it could take the monitor back to an older tree, so it is not written.
      io.err(`state ${stateFile} changed by another run meanwhile: left as that run wrote it\n`);
      finish(`monitor of ${fetcher.location}`, result.checks, values['json'] === true, io);
      return EXIT_FAILED;
    }
  } else if (values['json'] !== true && state !== null) io.err(`state ${stateFile} left unchanged\n`);
  return finish(`monitor of ${fetcher.location}`, result.checks, values['json'] === true, io);
}

/** The state file's text (null when there is none), refusing anything far too large. */
async function readStateText(file: string): Promise<string | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError('monitor', `--state ${file}: cannot open: ${errorMessage(err)}`);
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_STATE_SIZE) throw new UsageError('monitor', `--state ${file}: ${size} bytes, not a state file (at most ${MAX_STATE_SIZE})`);
    return await handle.readFile({ encoding: 'utf8' });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('monitor', `--state ${file}: cannot read: ${errorMessage(err)}`);
  } finally {
    await handle.close();
  }
}

async function readState(file: string): Promise<{ state: MonitorState | null; text: string | null }> {
  const text = await readStateText(file);
  if (text === null) return { state: null, text };
  try {
    return { state: parseMonitorState(text), text };
  } catch (err) {
    throw new UsageError('monitor', `--state ${file}: not a valid state file: ${errorMessage(err)} (move it away to start over)`);
  }
}

/**
 * Written to a temporary file and renamed, so a crash never leaves half a state; and only if the
 * file still holds what this run read (`expected`, null: no file), so that an overlapping run's
 * newer state is never replaced by an older one. Returns false when it was not written.
 */
async function writeState(file: string, state: MonitorState, expected: string | null): Promise<boolean> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, serializeMonitorState(state));
  let unchanged: boolean;
  try {
    unchanged = (await readStateText(file)) === expected;
  } catch {
    unchanged = false;
  }
  if (!unchanged) {
    await rm(tmp, { force: true });
    return false;
  }
  await rename(tmp, file);
  return true;
}

// ---------------------------------------------------------------------------------------------

function help(command: string, io: Output): number {
  io.out(HELP[command]!);
  return EXIT_OK;
}

/** Longest evidence printed in the readable report; --json prints it all. */
const EVIDENCE_PREVIEW = 600;

function finish(title: string, checks: readonly Check[], json: boolean, io: Output): number {
  const ok = allPassed(checks);
  if (json) {
    io.out(`${JSON.stringify({ ok, checks }, null, 2)}\n`);
    return ok ? EXIT_OK : EXIT_FAILED;
  }
  const failed = checks.filter((c) => !c.ok);
  const lines = [`${title}: ${checks.length} checks, ${failed.length === 0 ? 'all passed' : `${failed.length} failed`}`];
  for (const c of [...failed, ...checks.filter((c) => c.ok)]) {
    lines.push(`${c.ok ? '✓' : '✗'} ${c.check}: ${c.detail}`);
    if (!c.ok && c.evidence !== undefined) {
      const text = JSON.stringify(c.evidence);
      lines.push(`    evidence: ${text.length > EVIDENCE_PREVIEW ? `${text.slice(0, EVIDENCE_PREVIEW)}… (all of it with --json)` : text}`);
    }
  }
  lines.push(ok ? 'OK' : 'FAILED');
  io.out(`${lines.join('\n')}\n`);
  return ok ? EXIT_OK : EXIT_FAILED;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
