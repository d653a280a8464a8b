/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles): paths, entry bundles, tile widths, and proofs
 * read through tiles. Examples are the spec's own (index 1234067 -> x001/x234/067; a tree of
 * 70,000 entries); proofs through `tileNodeReader` must equal proofs from a direct node reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError, concatBytes, fromHex, toHex, utf8 } from './bytes.ts';
import { CompactRange, consistencyProof, inclusionProof, leafHash } from './merkle.ts';
import type { NodeReader } from './merkle.ts';
import {
  MAX_ENTRY_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  decodeBundle,
  encodeBundle,
  entriesPath,
  formatTileIndex,
  nodeTile,
  parseTilePath,
  tileNodeReader,
  tilePath,
  tileWidthAt,
} from './tiles.ts';
import type { TileFetcher } from './tiles.ts';

test('tile paths: the spec examples', () => {
  assert.equal(TILE_HEIGHT, 8);
  assert.equal(TILE_WIDTH, 256);
  const indexes: [number, string][] = [
    [0, '000'],
    [5, '005'],
    [999, '999'],
    [1000, 'x001/000'],
    [1234067, 'x001/x234/067'],
    [Number.MAX_SAFE_INTEGER, 'x009/x007/x199/x254/x740/991'],
  ];
  for (const [index, text] of indexes) assert.equal(formatTileIndex(index), text);
  assert.equal(tilePath(0, 1234067), 'tile/0/x001/x234/067');
  assert.equal(tilePath(1, 0, 17), 'tile/1/000.p/17');
  assert.equal(tilePath(2, 0, 256), 'tile/2/000');
  assert.equal(tilePath(63, 1000, 255), 'tile/63/x001/000.p/255');
  assert.equal(entriesPath(0, 5), 'tile/entries/000.p/5');
  assert.equal(entriesPath(1234067), 'tile/entries/x001/x234/067');

  assert.deepEqual(parseTilePath('tile/0/x001/x234/067'), { kind: 'hash', level: 0, index: 1234067 });
  assert.deepEqual(parseTilePath('tile/entries/000.p/5'), { kind: 'entries', index: 0, width: 5 });
  assert.deepEqual(parseTilePath('tile/63/999.p/255'), { kind: 'hash', level: 63, index: 999, width: 255 });
  assert.deepEqual(parseTilePath('tile/10/x009/x007/x199/x254/x740/991'), { kind: 'hash', level: 10, index: Number.MAX_SAFE_INTEGER });
  assert.ok(!('width' in parseTilePath('tile/1/000')), 'a full tile has no width property');
});

test('tile paths: builders refuse what cannot exist', () => {
  const bad: [() => string, RegExp][] = [
    [() => tilePath(64, 0), /above 63/],
    [() => tilePath(-1, 0), /non-negative safe integer/],
    [() => tilePath(0, 1.5), /non-negative safe integer/],
    [() => tilePath(0, 2 ** 53), /non-negative safe integer/],
    [() => tilePath(0, 0, 0), /not in 1\.\.256/],
    [() => tilePath(0, 0, 257), /not in 1\.\.256/],
    [() => entriesPath(0, 0), /not in 1\.\.256/],
    [() => entriesPath(-3), /non-negative safe integer/],
  ];
  for (const [fn, message] of bad) assert.throws(fn, (e: unknown) => e instanceof RangeError && message.test(e.message), fn.toString());
});

test('tile paths: the parser accepts only canonical spellings', () => {
  const rejected = [
    '',
    'tile',
    'tile/0',
    'tile/0/',
    '/tile/0/000',
    'tile/0/000/',
    './tile/0/000',
    'TILE/0/000',
    'tile//000',
    'tile/00/000',
    'tile/01/000',
    'tile/64/000',
    'tile/99/000',
    'tile/100/000',
    'tile/-1/000',
    'tile/+1/000',
    'tile/data/000',
    'tile/entry/000',
    'tile/0/0',
    'tile/0/00',
    'tile/0/0000',
    'tile/0/1234',
    'tile/0/001/234',
    'tile/0/x001',
    'tile/0/x001/',
    'tile/0/X001/000',
    'tile/0/x1/000',
    'tile/0/x000/001',
    'tile/0/x000/x001/000',
    'tile/0/001/x234/067',
    'tile/0/x001/x234/x067',
    'tile/0/x010/x020/x030/x040/x050/x060/070',
    'tile/0/x009/x007/x199/x254/x740/992',
    'tile/0/000.p',
    'tile/0/000.p/',
    'tile/0/000.p/0',
    'tile/0/000.p/05',
    'tile/0/000.p/256',
    'tile/0/000.p/1000',
    'tile/0/000.p/5/',
    'tile/0/000.q/5',
    'tile/0/000.P/5',
    'tile/entries/000.p/256',
    'tile/entries/x000/000',
    'tile/0/../000',
    'tile/../0/000',
    'tile/entries/../0/000',
    'tile/0/./000',
    'tile/0/x001\\000',
    'tile/0/000?x=1',
    'tile/0/000#',
    'tile/0/000%2F',
    'tile%2F0%2F000',
    'tile/0/000\n',
    ' tile/0/000',
    'tile/0/ 000',
    'tile/0/\u0660\u0660\u0660',
    'tile/0/000\u0000',
    'tile/0/' + 'x001/'.repeat(20) + '000',
  ];
  for (const path of rejected) assert.throws(() => parseTilePath(path), FormatError, JSON.stringify(path));
  assert.throws(() => parseTilePath(7 as never), FormatError);
});

test('property: tile paths round-trip through the parser', () => {
  const width = fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 63 }), fc.maxSafeNat(), width, fc.boolean(), (level, index, w, entries) => {
      const path = entries ? entriesPath(index, w) : tilePath(level, index, w);
      const want = { kind: entries ? 'entries' : 'hash', ...(entries ? {} : { level }), index, ...(w === undefined ? {} : { width: w }) };
      assert.deepEqual(parseTilePath(path), want);
      assert.equal(entries ? entriesPath(index, w) : tilePath(level, index, w), path);
    }),
  );
});

test('entry bundles: known answer, round trip, rejections', () => {
  assert.equal(toHex(encodeBundle([utf8('hi'), new Uint8Array()])), '000268690000');
  assert.deepEqual(decodeBundle(fromHex('000268690000')), [utf8('hi'), new Uint8Array()]);
  const big = new Uint8Array(MAX_ENTRY_SIZE).fill(7);
  assert.deepEqual(decodeBundle(encodeBundle([big]), 1), [big]);

  assert.throws(() => encodeBundle([]), FormatError);
  assert.throws(() => encodeBundle(Array.from({ length: 257 }, () => new Uint8Array(1))), /257 entries/);
  assert.throws(() => encodeBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)]), /65536 bytes, above 65535/);
  assert.throws(() => encodeBundle(['x' as never]), FormatError);

  const rejected: [string, RegExp][] = [
    ['', /empty/],
    ['00', /truncated length prefix of entry 0/],
    ['0003616263' + '00', /truncated length prefix of entry 1/],
    ['00056162', /entry 0 needs 5 bytes at byte 2, only 2 left/],
    ['ffff', /needs 65535 bytes/],
    ['0000'.repeat(257), /more than 256 entries/],
  ];
  for (const [hex, message] of rejected) {
    assert.throws(() => decodeBundle(fromHex(hex)), (e: unknown) => e instanceof FormatError && message.test(e.message), hex);
  }
  assert.throws(() => decodeBundle(fromHex('0000'.repeat(3)), 4), /3 entries, expected 4/);
  assert.throws(() => decodeBundle(fromHex('0000'), 0), RangeError);
  assert.deepEqual(decodeBundle(fromHex('0000'.repeat(256)), 256).length, 256);
});

test('property: entry bundles round-trip', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 256 }), (entries) => {
      const bytes = encodeBundle(entries);
      assert.deepEqual(decodeBundle(bytes, entries.length), entries);
      if (bytes.length > 0) assert.throws(() => decodeBundle(bytes.subarray(0, bytes.length - 1)), FormatError);
    }),
    { numRuns: 200 },
  );
});

test('tile widths: the spec examples (70,000 and 256 entries)', () => {
  // "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1 tile,
  //  one partial level 1 tile of width 17, and one partial level 2 tile of width 1."
  for (let n = 0; n < 273; n++) assert.equal(tileWidthAt(0, n, 70000), 256);
  assert.equal(tileWidthAt(0, 273, 70000), 112);
  assert.equal(tileWidthAt(0, 274, 70000), 0);
  assert.equal(tileWidthAt(1, 0, 70000), 256);
  assert.equal(tileWidthAt(1, 1, 70000), 17);
  assert.equal(tileWidthAt(1, 2, 70000), 0);
  assert.equal(tileWidthAt(2, 0, 70000), 1);
  assert.equal(tileWidthAt(3, 0, 70000), 0);
  // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
  assert.equal(tileWidthAt(0, 0, 256), 256);
  assert.equal(tileWidthAt(0, 1, 256), 0);
  assert.equal(tileWidthAt(1, 0, 256), 1);
  assert.equal(tileWidthAt(0, 0, 0), 0);
  assert.equal(tileWidthAt(63, 0, Number.MAX_SAFE_INTEGER), 0);
  assert.equal(tileWidthAt(6, 0, Number.MAX_SAFE_INTEGER), 31); // floor((2^53 - 1) / 2^48)
  assert.equal(tileWidthAt(6, 0, 2 ** 52), 16);
  assert.throws(() => tileWidthAt(64, 0, 1), RangeError);
  assert.throws(() => tileWidthAt(0, 0, -1), RangeError);

  assert.deepEqual(nodeTile(0, 1234), { level: 0, index: 4, offset: 210 });
  assert.deepEqual(nodeTile(16, 3), { level: 2, index: 0, offset: 3 });
  assert.equal(nodeTile(9, 0), null);
});

// ---- proofs through tiles ----

/** A tree of `size` random-ish leaves with every complete node kept, and its tiles. */
interface TestLog {
  /** Reads the kept nodes directly. */
  direct: NodeReader;
  /** Serves the tiles of the tree of `treeSize`, failing on a second fetch of a tile in `seen`. */
  fetchTile: (treeSize: number, seen: Set<string>) => TileFetcher;
  /** The first `width` hashes of tile (level, index). */
  tile: (level: number, index: number, width: number) => Uint8Array;
}

function buildLog(size: number): TestLog {
  const nodes = new Map<string, Uint8Array>();
  const range = new CompactRange();
  for (let i = 0; i < size; i++) range.append(leafHash(utf8(`entry ${i}`)), (level, index, hash) => nodes.set(`${level}/${index}`, hash));
  const node = (level: number, index: number): Uint8Array => nodes.get(`${level}/${index}`) ?? assert.fail(`no node ${level}/${index}`);
  const direct: NodeReader = async (ids) => ids.map(({ level, index }) => node(level, index));
  const fetchTile = (treeSize: number, seen: Set<string>): TileFetcher => async (level, index, width) => {
    const key = `${level}/${index}`;
    assert.ok(!seen.has(key), `tile ${key} fetched twice in one read`);
    seen.add(key);
    assert.equal(width, tileWidthAt(level, index, treeSize), `tile ${key} width for tree size ${treeSize}`);
    assert.ok(width > 0, 'no empty tile is ever fetched');
    return tile(level, index, width);
  };
  const tile = (level: number, index: number, width: number): Uint8Array => {
    const hashes: Uint8Array[] = [];
    for (let j = 0; j < width; j++) hashes.push(node(level * TILE_HEIGHT, index * TILE_WIDTH + j));
    return concatBytes(...hashes);
  };
  return { direct, fetchTile, tile };
}

const LOG_SIZE = 70000; // three tile levels, partial tiles on each (the spec's example)
const log = buildLog(LOG_SIZE);

test('property: proofs through tileNodeReader equal proofs from a direct reader', async () => {
  const sizes = fc.oneof(
    fc.integer({ min: 1, max: 1100 }),
    fc.integer({ min: 1, max: LOG_SIZE }),
    fc.constantFrom(255, 256, 257, 65535, 65536, 65537, LOG_SIZE),
  );
  await fc.assert(
    fc.asyncProperty(sizes, fc.nat(), fc.nat(), async (n, a, b) => {
      const m = a % n;
      const seen = new Set<string>();
      const tiles = tileNodeReader(n, log.fetchTile(n, seen));
      const want = (await inclusionProof(m, n, log.direct)).map(toHex);
      assert.deepEqual((await inclusionProof(m, n, tiles)).map(toHex), want, `inclusion ${m} in ${n}`);
      seen.clear();
      const m1 = 1 + (b % n);
      const wantC = (await consistencyProof(m1, n, log.direct)).map(toHex);
      assert.deepEqual((await consistencyProof(m1, n, tiles)).map(toHex), wantC, `consistency ${m1} -> ${n}`);
    }),
    { numRuns: 300 },
  );
});

test('tileNodeReader: every complete node of a small tree, in one call, each tile fetched once', async () => {
  for (const n of [1, 7, 255, 256, 257, 600, 1024, 4097]) {
    const ids = [];
    for (let level = 0; 2 ** level <= n; level++) for (let index = 0; (index + 1) * 2 ** level <= n; index++) ids.push({ level, index });
    const seen = new Set<string>();
    const got = await tileNodeReader(n, log.fetchTile(n, seen))(ids);
    assert.deepEqual(got.map(toHex), (await log.direct(ids)).map(toHex), `size ${n}`);
  }
});

test('tileNodeReader: a full tile served for a deleted partial one is read by its first `width` hashes', async () => {
  // tlog-tiles lets a log delete partial tiles once the full tile exists; a client asking for
  // `.p/<W>` then gets (or falls back to) the full tile, which starts with the same W hashes.
  for (const n of [5, 300, 1000, 65537, LOG_SIZE]) {
    const sizes = [1, Math.max(1, n >> 1), n - 1].filter((m) => m < n);
    // The server has moved on to LOG_SIZE: it serves each tile as wide as it now is (often full).
    let wider = 0;
    const tiles = tileNodeReader(n, async (level, index, width) => {
      const now = tileWidthAt(level, index, LOG_SIZE);
      if (now > width) wider++;
      return log.tile(level, index, now);
    });
    for (const m of sizes) {
      assert.deepEqual((await inclusionProof(m, n, tiles)).map(toHex), (await inclusionProof(m, n, log.direct)).map(toHex), `inclusion ${m} in ${n}`);
      assert.deepEqual((await consistencyProof(m, n, tiles)).map(toHex), (await consistencyProof(m, n, log.direct)).map(toHex), `consistency ${m} -> ${n}`);
    }
    if (n < LOG_SIZE) assert.ok(wider > 0, `size ${n}: no wider tile was served, nothing tested`);
  }
});

test('tileNodeReader: refuses incomplete nodes and malformed tiles', async () => {
  const reader = (n: number, tile: Uint8Array | Error): NodeReader =>
    tileNodeReader(n, async () => {
      if (tile instanceof Error) throw tile;
      return tile;
    });
  await assert.rejects(reader(5, new Uint8Array(160))([{ level: 0, index: 5 }]), /not complete in a tree of size 5/);
  await assert.rejects(reader(5, new Uint8Array(160))([{ level: 2, index: 1 }]), /not complete/);
  await assert.rejects(reader(5, new Uint8Array(160))([{ level: -1, index: 0 }]), RangeError);
  await assert.rejects(reader(5, new Uint8Array(159))([{ level: 0, index: 0 }]), /tile 0\/0 \(width 5\): 159 bytes, expected 5\.\.256 hashes of 32 bytes/);
  await assert.rejects(reader(5, new Uint8Array(161))([{ level: 0, index: 0 }]), /161 bytes, expected 5\.\.256 hashes/);
  await assert.rejects(reader(5, new Uint8Array(8192 + 32))([{ level: 0, index: 0 }]), /8224 bytes, expected 5\.\.256 hashes/);
  await assert.rejects(reader(5, 'x'.repeat(160) as unknown as Uint8Array)([{ level: 0, index: 0 }]), FormatError);
  await assert.rejects(reader(5, new Error('404'))([{ level: 0, index: 0 }, { level: 1, index: 0 }]), /404/);
  assert.throws(() => tileNodeReader(-1, async () => new Uint8Array()), RangeError);
  assert.deepEqual(await reader(5, new Error('never'))([]), []);
});
