/**
 * audit.ts against real boards (Sequencer over SQLite, exported with exportLog), read from the
 * exported directory and over HTTP. A correct board passes every check; each kind of tampering
 * is reported by the check that names it, with its evidence, and by no unrelated check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Checkpoint, Poll, TILE_WIDTH, encodeBundle, entriesPath, parseNote, sha256, signCheckpoint, tilePath, toHex, utf8 } from '@blindvote/crypto';
import * as bulletinBoard from '@blindvote/bulletin-board';
import { AUDIT_CHECKS, MAX_UNREADABLE_RUN, audit } from './audit.ts';
import type { AuditProgress } from './audit.ts';
import type { Check } from './checks.ts';
import { allPassed } from './checks.ts';
import { dirFetcher, httpFetcher } from './fetch.ts';
import type { BoardFetcher } from './fetch.ts';
import {
  DIR_ORIGIN,
  ballot,
  buildBoard,
  close,
  defaultChoice,
  directTokens,
  election,
  entry,
  forged,
  goodEntries,
  staticServer,
  tallyOf,
  tempDir,
  useBulletinBoard,
} from './testing/election.ts';
import type { Board, BoardEntry } from './testing/election.ts';

useBulletinBoard(bulletinBoard);
const E = await election(8);
const KEY = E.signer.verifierKey;
const GOOD = await buildBoard(goodEntries(E), E.signer);
const SERVER = await staticServer();

const failed = (checks: readonly Check[]) => checks.filter((c) => !c.ok).map((c) => c.check);
const named = (checks: readonly Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `no check named ${name}`);
  return c;
};
/** A copy of `board`'s exported directory to tamper with. */
function copyOf(board: Board): string {
  const dir = join(tempDir(), 'board');
  cpSync(board.dir, dir, { recursive: true });
  return dir;
}
const bundleFile = (dir: string, size: number, bundle = 0) => join(dir, entriesPath(bundle, Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH) === TILE_WIDTH ? undefined : size - bundle * TILE_WIDTH));
/** Byte offset of entry `index`'s first byte in bundle 0 (after its length prefix). */
function entryOffset(board: Board, index: number): number {
  let at = 0;
  for (let i = 0; i < index; i++) at += 2 + board.entries[i]!.bytes.length;
  return at + 2;
}

test('a correct board passes every check, read from its directory, with and without the key given', async () => {
  for (const options of [{}, { boardKey: KEY }, { boardKey: KEY, origin: DIR_ORIGIN }]) {
    const checks = await audit(dirFetcher(GOOD.dir), options);
    assert.deepEqual(failed(checks), [], JSON.stringify(checks.filter((c) => !c.ok), null, 2));
    assert.deepEqual(checks.map((c) => c.check), [...AUDIT_CHECKS]);
    assert.ok(allPassed(checks));
  }
  const self = named(await audit(dirFetcher(GOOD.dir)), 'board-key');
  assert.match(self.detail, /board's own manifest.*self-consistent/);
  assert.match(named(await audit(dirFetcher(GOOD.dir), { boardKey: KEY }), 'board-key').detail, /given out of band/);
  const counts = named(await audit(dirFetcher(GOOD.dir)), 'tally-counts');
  assert.match(counts.detail, /bikes 4, library 2, park 4 \(8 counted, 0 rejected\)/);
});

test('a correct board passes every check over HTTP, its origin being the board URL without scheme', async () => {
  const board = await buildBoard(goodEntries(E), E.signer, SERVER.origin);
  SERVER.serve(board.dir);
  const checks = await audit(httpFetcher(SERVER.url), { boardKey: KEY });
  assert.deepEqual(failed(checks), []);
  assert.equal(named(checks, 'checkpoint-origin').detail, SERVER.origin);

  // The same board served at a URL that is not its origin: a mirror must say which origin it mirrors.
  SERVER.serve(GOOD.dir);
  const mirror = await audit(httpFetcher(SERVER.url), { boardKey: KEY });
  assert.deepEqual(failed(mirror), ['checkpoint-origin']);
  assert.match(named(mirror, 'checkpoint-origin').detail, /mirror/);
  assert.deepEqual(failed(await audit(httpFetcher(SERVER.url), { boardKey: KEY, origin: DIR_ORIGIN })), []);
});

test('a board of several bundles and tile levels passes, over HTTP too; progress is reported per bundle', async () => {
  const tokens = directTokens(E, 600);
  const board = await buildBoard(goodEntries(E, tokens), E.signer, SERVER.origin);
  assert.equal(board.size, 603);
  const progress: AuditProgress[] = [];
  const checks = await audit(dirFetcher(board.dir), { boardKey: KEY, onProgress: (p) => progress.push(p) });
  assert.deepEqual(failed(checks), []);
  assert.deepEqual(progress.map((p) => [p.entries, p.bundles, p.totalBundles]), [[256, 1, 3], [512, 2, 3], [603, 3, 3]]);
  // Level 0: two full tiles and one of 91; level 1: one tile of 2 hashes.
  assert.match(named(checks, 'hash-tiles').detail, /^4 hash tile/);
  SERVER.serve(board.dir);
  assert.deepEqual(failed(await audit(httpFetcher(SERVER.url), { boardKey: KEY, prefetch: 2 })), []);

  // A stored level-1 hash that the entries do not produce.
  const dir = copyOf(board);
  const tile = join(dir, tilePath(1, 0, 2));
  const bytes = new Uint8Array(readFileSync(tile));
  bytes[40]! ^= 0xff;
  writeFileSync(tile, bytes);
  const checks2 = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.deepEqual(failed(checks2), ['hash-tiles']);
  const ev = named(checks2, 'hash-tiles').evidence as { mismatches: { items: { tile: string; level: number; index: number }[] } };
  assert.deepEqual(ev.mismatches.items.map((m) => [m.tile, m.level, m.index]), [['tile/1/000.p/2', 8, 1]]);
});

test('a board that deleted its partial tiles once they were full is read through the full tiles', async () => {
  // A log of 100 entries whose checkpoint we keep, grown to 300: its partial tiles at 100 are gone.
  const tokens = directTokens(E, 99);
  const early = await buildBoard([entry(E.poll), ...tokens.map((t, i) => entry(ballot(t, defaultChoice(i))))], E.signer);
  const grown = await early.grow(directTokens(E, 200).map((t) => entry(ballot(t, ['park']))));
  const dir = copyOf(grown);
  writeFileSync(join(dir, 'checkpoint'), early.checkpoint);
  const checks = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), []);
  assert.match(named(checks, 'entries').detail, /read all 100 entries/);
});

test('an altered entry: its leaf hash differs from the stored hash tile, and the root from the checkpoint', async () => {
  const dir = copyOf(GOOD);
  const file = bundleFile(dir, GOOD.size);
  const bytes = new Uint8Array(readFileSync(file));
  const index = 3;
  // A byte inside the ballot's token signature (base64 stays base64).
  const at = entryOffset(GOOD, index) + new TextDecoder().decode(GOOD.entries[index]!.bytes).indexOf('"sig":"') + 20;
  bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41;
  writeFileSync(file, bytes);
  const checks = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.ok(failed(checks).includes('hash-tiles') && failed(checks).includes('root'), failed(checks).join());
  const tiles = named(checks, 'hash-tiles');
  assert.match(tiles.detail, /entry 3: the entry or its stored leaf hash was altered/);
  const mismatch = (tiles.evidence as { mismatches: { items: { entry?: number; tile: string }[] } }).mismatches.items;
  assert.deepEqual(mismatch.map((m) => [m.entry, m.tile]), [[3, `tile/0/000.p/${GOOD.size}`]]);
  const root = named(checks, 'root').evidence as { checkpoint_root: string; recomputed_root: string };
  assert.notEqual(root.checkpoint_root, root.recomputed_root);
  // The altered signature no longer verifies (or no longer decodes): the ballot is named too.
  assert.ok(failed(checks).some((n) => n === 'token-signatures' || n === 'entry-format'));
  // Its tally commitment and recount are now off as well; nothing about the checkpoint is.
  for (const name of ['checkpoint', 'checkpoint-signature', 'checkpoint-origin', 'entries', 'manifest']) assert.ok(named(checks, name).ok, name);
});

test('a missing entry (a truncated bundle) is reported by the entries check, and nothing is trusted past it', async () => {
  const dir = copyOf(GOOD);
  const file = bundleFile(dir, GOOD.size);
  const bytes = new Uint8Array(readFileSync(file));
  const last = GOOD.entries.at(-1)!.bytes.length + 2;
  writeFileSync(file, bytes.subarray(0, bytes.length - last)); // drop the tally entry
  const checks = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['entries', 'hash-tiles', 'root']);
  const entries = named(checks, 'entries');
  assert.match(entries.detail, /1 of 11 entries missing/);
  assert.deepEqual((entries.evidence as { bundles: { items: { bundle: number; error: string }[] } }).bundles.items.map((b) => b.bundle), [0]);
  assert.match(named(checks, 'root').detail, /entries from 10 on could not be read/);

  // Cut inside an entry: the bundle does not decode at all.
  writeFileSync(file, bytes.subarray(0, bytes.length - 5));
  const cut = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.ok(failed(cut).includes('entries'));
  assert.match(named(cut, 'entries').detail, /entry bundle: entry 10 needs/);
  // Without entry 0 there is no manifest to check ballots against: said, not passed.
  assert.ok(failed(cut).includes('manifest') && failed(cut).includes('ballots'));
  assert.doesNotThrow(() => JSON.stringify(cut));

  // The bundle gone: the same, with the file named.
  rmSync(file);
  const gone = await audit(dirFetcher(dir), { boardKey: KEY });
  assert.match(named(gone, 'entries').detail, /no such file/);
});

test('a ballot with a forged token is reported by token-signatures with its index, and is not counted', async () => {
  const entries: BoardEntry[] = [entry(E.poll), ...E.tokens.slice(0, 4).map((t, i) => entry(ballot(i === 2 ? forged(t) : t, defaultChoice(i))))];
  entries.push(entry(close(4)));
  // The right tally: ballot 3 (token 2) is rejected.
  const valid = entries.filter((_, i) => i !== 3);
  const right = tallyOf(entries, { counts: countsOf(valid), ballots_counted: 3 });
  const board = await buildBoard([...entries, entry(right)], E.signer);
  const checks = await audit(dirFetcher(board.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['token-signatures']);
  const c = named(checks, 'token-signatures');
  assert.match(c.detail, /token signature invalid at entry 3/);
  assert.deepEqual((c.evidence as { items: { index: number }[] }).items.map((x) => x.index), [3]);
  assert.match(named(checks, 'tally-counts').detail, /3 counted, 1 rejected/);
});

test('a token used twice (the sequencer was given distinct ids) is reported by token-reuse with both indexes', async () => {
  const [t0, t1, t2] = E.tokens;
  const entries: BoardEntry[] = [
    entry(E.poll),
    entry(ballot(t0!, ['bikes'])),
    entry(ballot(t1!, ['park'])),
    entry(ballot(t0!, ['library']), sha256(utf8('a different id for the same token'))),
    entry(ballot(t2!, ['park'])),
  ];
  entries.push(entry(close(4)));
  const tally = tallyOf(entries, { counts: { bikes: 1, library: 0, park: 2 }, ballots_counted: 3 });
  const board = await buildBoard([...entries, entry(tally)], E.signer);
  const checks = await audit(dirFetcher(board.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['token-reuse']);
  const c = named(checks, 'token-reuse');
  const ev = c.evidence as { count: number; items: { token_id: string; indexes: number[] }[] };
  assert.equal(ev.count, 1);
  assert.deepEqual(ev.items[0]!.indexes, [1, 3]);
  assert.equal(ev.items[0]!.token_id, toHex(ballot(t0!, ['bikes']).tokenId()));
  // The first use counts, the second is rejected.
  assert.match(named(checks, 'tally-counts').detail, /bikes 1, library 0, park 2 \(3 counted, 1 rejected\)/);
});

test('a tally that does not match the recount: each option\'s difference is evidence', async () => {
  const entries = goodEntries(E).slice(0, -1);
  const right = tallyOf(entries);
  const wrong = tallyOf(entries, { counts: { ...right.counts, bikes: right.counts['bikes']! + 1, park: right.counts['park']! - 1 } });
  const board = await buildBoard([...entries, entry(wrong)], E.signer);
  const checks = await audit(dirFetcher(board.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['tally-counts']);
  const c = named(checks, 'tally-counts');
  assert.match(c.detail, /"bikes": tally 5, recount 4; "park": tally 3, recount 4/);
  const ev = c.evidence as { counts: Record<string, { tally: number; recount: number; difference: number }> };
  assert.deepEqual(ev.counts['bikes'], { tally: 5, recount: 4, difference: 1 });
  assert.deepEqual(ev.counts['park'], { tally: 3, recount: 4, difference: -1 });
  assert.deepEqual(ev.counts['library'], { tally: 2, recount: 2, difference: 0 });
});

test('a tally committing to another tree, a wrong close count and a ballot after the close', async () => {
  const entries = goodEntries(E).slice(0, -1);
  const other = tallyOf([...entries.slice(0, -1), entry(close(8, 9))]);
  const board = await buildBoard([...entries, entry(other)], E.signer);
  const checks = await audit(dirFetcher(board.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['tally-commitment']);
  const ev = named(checks, 'tally-commitment').evidence as { tally_root: string; board_root: string };
  assert.notEqual(ev.tally_root, ev.board_root);

  const late: BoardEntry[] = [entry(E.poll), ...E.tokens.slice(0, 3).map((t, i) => entry(ballot(t, defaultChoice(i))))];
  late.push(entry(close(2, 2000))); // 3 ballots before it, and more issued than the roll
  late.push(entry(ballot(E.tokens[3]!, ['bikes'])));
  const board2 = await buildBoard(late, E.signer);
  const checks2 = await audit(dirFetcher(board2.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks2), ['entry-order', 'close']);
  assert.match(named(checks2, 'entry-order').detail, /entry 5; first: a ballot after the close entry \(entry 4\)/);
  assert.match(named(checks2, 'close').detail, /2000 tokens issued, the roll has 1000 voters; the close entry says 2 ballot\(s\), the board has 3/);
});

test('a checkpoint signed by another key fails checkpoint-signature, with the note as evidence', async () => {
  const dir = copyOf(GOOD);
  const body = Checkpoint.parse(parseNote(GOOD.checkpoint).text);
  const note = signCheckpoint(body, [E.otherSigner]);
  writeFileSync(join(dir, 'checkpoint'), note);
  for (const options of [{ boardKey: KEY }, {}]) {
    const checks = await audit(dirFetcher(dir), options);
    assert.deepEqual(failed(checks), ['checkpoint-signature']);
    const c = named(checks, 'checkpoint-signature');
    assert.match(c.detail, /no verifiable signatures.*not signed by board\.test\+/);
    assert.deepEqual(c.evidence, { checkpoint: note, board_key: KEY });
  }

  // A whole board made up under another key is self-consistent: only a key given out of band tells.
  const fakePoll = new Poll({ ...E.poll, token_key: E.poll.token_key, board_key: E.otherSigner.verifierKey });
  const fake = await buildBoard([entry(fakePoll), entry(ballot(E.tokens[0]!, ['bikes']))], E.otherSigner);
  assert.deepEqual(failed(await audit(dirFetcher(fake.dir))), []);
  const checks = await audit(dirFetcher(fake.dir), { boardKey: KEY });
  assert.deepEqual(failed(checks), ['checkpoint-signature', 'manifest']);
  assert.match(named(checks, 'manifest').detail, /is not the key given/);
});

test('a board key that is not a key, a missing checkpoint and an empty board are failed checks, not exceptions', async () => {
  const bad = await audit(dirFetcher(GOOD.dir), { boardKey: 'not a key' });
  assert.deepEqual(failed(bad), ['board-key', 'checkpoint-signature']);

  const dir = copyOf(GOOD);
  rmSync(join(dir, 'checkpoint'));
  const none = await audit(dirFetcher(dir));
  assert.deepEqual(none.map((c) => [c.check, c.ok]), [['checkpoint', false]]);
  assert.match(none[0]!.detail, /cannot read the checkpoint: .*checkpoint: no such file/);

  writeFileSync(join(dir, 'checkpoint'), 'garbage\n');
  const garbage = await audit(dirFetcher(dir));
  assert.deepEqual(garbage.map((c) => [c.check, c.ok]), [['checkpoint', false]]);
  assert.match(garbage[0]!.detail, /malformed checkpoint/);

  const empty = await buildBoard([], E.signer);
  const checks = await audit(dirFetcher(empty.dir), { boardKey: KEY });
  assert.ok(failed(checks).includes('manifest'));
  assert.match(named(checks, 'manifest').detail, /empty/);
});

test('a signed checkpoint claiming a huge tree: the audit stops after a run of unreadable bundles', async () => {
  const dir = copyOf(GOOD);
  const body = Checkpoint.parse(parseNote(GOOD.checkpoint).text);
  writeFileSync(join(dir, 'checkpoint'), signCheckpoint(new Checkpoint({ origin: body.origin, size: 2 ** 40, root: body.root }), [E.signer]));
  const progress: AuditProgress[] = [];
  const checks = await audit(dirFetcher(dir), { boardKey: KEY, onProgress: (p) => progress.push(p) });
  assert.equal(progress.length, MAX_UNREADABLE_RUN);
  const entries = named(checks, 'entries');
  assert.equal(entries.ok, false);
  const items = (entries.evidence as { bundles: { items: { bundle: number; error: string }[] } }).bundles.items;
  assert.match(items.at(-1)!.error, /stopped reading: 16 bundles in a row could not be read/);
  assert.ok(named(checks, 'checkpoint-signature').ok);
});

test('a huge tree served as short bundles (one entry each) also stops after a run of them', async () => {
  const dir = copyOf(GOOD);
  const body = Checkpoint.parse(parseNote(GOOD.checkpoint).text);
  writeFileSync(join(dir, 'checkpoint'), signCheckpoint(new Checkpoint({ origin: body.origin, size: 2 ** 40, root: body.root }), [E.signer]));
  const inner = dirFetcher(dir);
  const short = encodeBundle([utf8('x')]);
  const fetcher: BoardFetcher = { ...inner, bundle: async (index, width) => (index === 0 ? inner.bundle(index, width) : short) };
  const progress: AuditProgress[] = [];
  const checks = await audit(fetcher, { boardKey: KEY, onProgress: (p) => progress.push(p) });
  assert.ok(progress.length <= MAX_UNREADABLE_RUN + 1, `${progress.length} bundles read`);
  const items = (named(checks, 'entries').evidence as { bundles: { items: { bundle: number; error: string }[] } }).bundles.items;
  assert.match(items.at(-1)!.error, /stopped reading: 16 bundles in a row could not be read/);
});

test('property: any byte changed in the bundle never passes the audit and never throws', async () => {
  const original = new Uint8Array(readFileSync(bundleFile(GOOD.dir, GOOD.size)));
  const dir = copyOf(GOOD);
  const file = bundleFile(dir, GOOD.size);
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: original.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
      const bytes = original.slice();
      bytes[at]! ^= flip;
      writeFileSync(file, bytes);
      const checks = await audit(dirFetcher(dir), { boardKey: KEY });
      assert.ok(!allPassed(checks), `byte ${at} ^ ${flip} passed`);
      assert.doesNotThrow(() => JSON.stringify(checks));
    }),
    { numRuns: 25 },
  );
});

function countsOf(entries: readonly BoardEntry[]): Record<string, number> {
  const counts: Record<string, number> = { bikes: 0, library: 0, park: 0 };
  for (const e of entries) if (e.entry.type === 'ballot') for (const id of e.entry.choice) counts[id]!++;
  return counts;
}
