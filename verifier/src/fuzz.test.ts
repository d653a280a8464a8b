/**
 * The CLI on hostile files (issue 7): fast-check mutations of a receipt, of the signed checkpoint,
 * of hash tiles and of entry bundles in an exported board directory. `main` (captured output) and
 * a few real processes MUST exit 1 or 2 with a message, never print a stack trace, never hang;
 * exit 0 only for a mutation that leaves the receipt's JSON value unchanged.
 * 1,000 cases per kind; 5,000 with BLINDVOTE_LONG=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as bulletinBoard from '@blindvote/bulletin-board';
import { main } from './cli.ts';
import { buildBoard, election, goodEntries, receiptText, tempDir, useBulletinBoard } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const RUNS = process.env['BLINDVOTE_LONG'] === '1' ? 5_000 : 1_000;
const E = await election(5);
const KEY = E.signer.verifierKey;
const BOARD = await buildBoard(goodEntries(E), E.signer);
const RECEIPT = await receiptText(BOARD, 2);
const FILES = ['checkpoint', 'tile/0/000.p/8', 'tile/entries/000.p/8'];
const WORK = tempDir();
const STACK = /\n\s+at .*[:(]\d+/;

interface Outcome {
  readonly code: number;
  readonly output: string;
}

/** `main` with captured output, failing instead of hanging. */
async function cli(args: readonly string[]): Promise<Outcome> {
  let output = '';
  const io = { out: (t: string) => (output += t), err: (t: string) => (output += t), progress: false };
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`blindvote-verify ${args.join(' ')}: no answer within 20 s`)), 20_000);
  });
  try {
    return { code: await Promise.race([main(args, io), hang]), output };
  } finally {
    clearTimeout(timer);
  }
}

function refused(o: Outcome, where: string): void {
  assert.ok(o.code === 1 || o.code === 2, `${where}: exit ${o.code}\n${o.output}`);
  assert.doesNotMatch(o.output, STACK, `${where}: a stack trace\n${o.output}`);
  if (o.output.startsWith('{')) {
    const { ok, checks } = JSON.parse(o.output) as { ok: boolean; checks: { ok: boolean; detail: string }[] };
    assert.ok(!ok && checks.some((c) => !c.ok && c.detail.length > 0), `${where}: a failed check with its detail\n${o.output}`);
    return;
  }
  assert.match(o.output, /✗ [a-z-]+: \S|^blindvote-verify: \S/m, `${where}: a message naming the failed check\n${o.output}`);
}

/** Byte-level mutations of a file's content. */
const bytesMutation = (original: Buffer): fc.Arbitrary<Buffer> =>
  fc.oneof(
    fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = Buffer.from(original);
      b[i]! ^= x;
      return b;
    }),
    fc.nat(original.length - 1).map((n) => original.subarray(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Buffer.concat([original, extra])),
    fc.tuple(fc.nat(original.length - 1), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([i, junk]) => Buffer.concat([original.subarray(0, i), junk, original.subarray(i)])),
    fc.constant(Buffer.alloc(0)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('\u0000'.repeat(100)), Buffer.alloc(70_000, 0x41)),
  );

/** Mutations of the signed note's lines: size, root, origin, signatures, line structure. */
const noteMutation = (note: string): fc.Arbitrary<string> => {
  const [origin, size, root, , signature] = note.split('\n');
  return fc.oneof(
    fc.constantFrom('0', '7', '9', '-1', '08', '18446744073709551616', '9007199254740993', ' 8', '8 ', '').map((s) => note.replace(`\n${size}\n`, `\n${s}\n`)),
    fc.constantFrom('AAAA', '', `${root}=`, root!.replace(/=$/, ''), root!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), `${root} `).map((r) => note.replace(`\n${root}\n`, `\n${r}\n`)),
    fc.constantFrom('', 'vote.example/poll/other', `${origin}/`, `${origin}\u0000`, 'x'.repeat(5000)).map((o) => note.replace(`${origin}\n`, `${o}\n`)),
    fc.constantFrom('— board.test AAAA', '— other.test ' + signature!.split(' ')[2], '', '— board.test', '- board.test ' + signature!.split(' ')[2]).map((s) => note.replace(signature!, s)),
    fc.constant(note.replace(/\n\n/, '\n')),
    fc.constant(note.replace(/\n/g, '\r\n')),
    fc.constant(`${note}extra line\n`),
    fc.constant(note.trimEnd()),
  );
};

test(`fuzz: ${RUNS} mutated receipts: exit 1 with a precise message, no stack trace (offline and against the board)`, { timeout: 30 * 60_000 }, async () => {
  const original = JSON.parse(RECEIPT) as Record<string, unknown>;
  const fieldMutations = fc.oneof(
    fc.constantFrom(...Object.keys(original)).chain((k) =>
      fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }), fc.constant('A'.repeat(100_000)), fc.constant([])).map((v) => {
        const copy: Record<string, unknown> = { ...original };
        if (v === undefined) delete copy[k];
        else copy[k] = v;
        return JSON.stringify(copy);
      })),
    noteMutation(original['checkpoint'] as string).map((checkpoint) => JSON.stringify({ ...original, checkpoint })),
    fc.tuple(fc.nat((original['inclusion_proof'] as string[]).length), fc.constantFrom('', 'AAAA', 'A'.repeat(43) + '=', '!!!!')).map(([i, h]) => {
      const proof = [...(original['inclusion_proof'] as string[])];
      proof.splice(i, 1, ...(h === '' ? [] : [h]));
      return JSON.stringify({ ...original, inclusion_proof: proof });
    }),
    fc.constantFrom(-1, 0, 1, 3, 7, 8, 2 ** 53, 1.5).map((leaf_index) => JSON.stringify({ ...original, leaf_index })),
  );
  const mutation = fc.oneof(bytesMutation(Buffer.from(RECEIPT)).map((b) => b.toString('latin1')), fieldMutations);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(mutation, fc.boolean(), async (text, online) => {
      const file = join(WORK, `receipt-${n++ % 8}.json`);
      writeFileSync(file, text, 'latin1');
      const args = online ? ['receipt', file, '--board', BOARD.dir] : ['receipt', file, '--board-key', KEY];
      const o = await cli(args);
      let same = false;
      try {
        // `text` holds the file's bytes as latin1; the CLI reads them as UTF-8, and so must this.
        same = JSON.stringify(JSON.parse(Buffer.from(text, 'latin1').toString('utf8'))) === JSON.stringify(original);
      } catch {
        // not JSON: must be refused
      }
      if (same && o.code === 0) return;
      refused(o, `${args.join(' ')} on ${JSON.stringify(text.slice(0, 300))}`);
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
});

test(`fuzz: ${RUNS} mutated board directories (checkpoint, hash tile, entry bundle): audit and monitor exit 1, no stack trace`, { timeout: 30 * 60_000 }, async () => {
  const originals = new Map(FILES.map((f) => [f, readFileSync(join(BOARD.dir, f))]));
  const plant = fc.oneof(
    fc.constantFrom(...FILES).chain((f) => (f === 'checkpoint' ? noteMutation(originals.get(f)!.toString('utf8')).map((t) => Buffer.from(t)) : bytesMutation(originals.get(f)!)).map((content) => ({ file: f, content: content as Buffer | null }))),
    fc.constantFrom(...FILES).map((file) => ({ file, content: null as Buffer | null })),
  );
  let n = 0;
  await fc.assert(
    fc.asyncProperty(plant, fc.constantFrom('audit', 'monitor'), async ({ file, content }, command) => {
      const dir = join(WORK, `board-${n++}`);
      cpSync(BOARD.dir, dir, { recursive: true });
      const target = join(dir, file);
      rmSync(target);
      if (content !== null) writeFileSync(target, content);
      else if (n % 2 === 0) mkdirSync(target);
      const args = command === 'audit' ? ['audit', dir, '--board-key', KEY] : ['monitor', dir, '--board-key', KEY, '--state', join(dir, 'state.json')];
      const o = await cli(args);
      rmSync(dir, { recursive: true, force: true });
      // A monitor's first sight needs only the checkpoint: tiles it never reads may be anything.
      if (command === 'monitor' && file !== 'checkpoint' && o.code === 0) return;
      refused(o, `${command}: ${file} ${content === null ? 'missing' : JSON.stringify(content.subarray(0, 200).toString('latin1'))}`);
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
});

test('real processes on hostile files: exit 1 or 2, messages, no stack trace', async () => {
  const cliPath = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const run = (...args: string[]) => new Promise<Outcome>((resolve, reject) => {
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
  const receipt = join(WORK, 'hostile-receipt.json');
  writeFileSync(receipt, Buffer.from([0x7b, 0xff, 0xfe, 0x22]));
  refused(await run('receipt', receipt, '--board-key', KEY), 'invalid UTF-8 receipt');
  writeFileSync(receipt, '['.repeat(100_000));
  refused(await run('receipt', receipt, '--board-key', KEY), 'deeply nested receipt');
  const dir = join(WORK, 'hostile-board');
  cpSync(BOARD.dir, dir, { recursive: true });
  writeFileSync(join(dir, 'tile/entries/000.p/8'), Buffer.alloc(3, 0xff));
  refused(await run('audit', dir, '--board-key', KEY), 'truncated bundle');
  writeFileSync(join(dir, 'checkpoint'), 'vote.example/poll/city-2026\n8\n');
  refused(await run('audit', dir, '--board-key', KEY, '--json'), 'unsigned checkpoint');
  refused(await run('receipt', join(WORK, 'no such file.json'), '--board-key', KEY), 'missing receipt file');
});
