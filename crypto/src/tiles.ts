/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the static layout of a board's Merkle tree
 * and entries, and a proof reader over it.
 *
 *     <prefix>/tile/<L>/<N>[.p/<W>]        hash tile: the nodes at tree level 8·L with
 *                                          indexes [256·N, 256·N + W), 32 bytes each
 *     <prefix>/tile/entries/<N>[.p/<W>]    entry bundle: entries [256·N, 256·N + W),
 *                                          each a big-endian uint16 length then its bytes
 *
 *     L: decimal 0..63, no leading zeros; W: decimal 1..255, no leading zeros, only on partial
 *     tiles (a full tile has 256 hashes); N: zero-padded 3-digit groups, all but the last
 *     prefixed with "x" (1234067 -> x001/x234/067).
 *
 * Flow: the sequencer writes every complete node of level 8·L into tile L (`nodeTile` says
 * where) and entries into bundles (`encodeBundle`); the server maps paths to storage
 * (`parseTilePath`); anyone proves through `tileNodeReader(treeSize, fetchTile)`, which turns
 * merkle.ts node reads into tile fetches. The same reader runs over storage on the server and
 * over HTTP in clients.
 *
 * Threats and the rules that answer them:
 * - Path tricks (traversal, aliases, cache poisoning): `parseTilePath` accepts only the one
 *   canonical spelling of each resource; anything else is a FormatError.
 * - Fetching partial tiles that no checkpoint requires (spec: clients MUST NOT): the reader
 *   only fetches the widths implied by the tree size it was given, which MUST come from a
 *   verified checkpoint.
 * - Malformed tiles or bundles from an untrusted server: lengths are checked (a hash tile is a
 *   whole number of hashes, at least the width needed; bundles exact); what is read is still
 *   only trusted after a proof verifies against a signed root.
 */
import { FormatError, abytes } from './bytes.ts';
import { HASH_SIZE, nodeHash } from './merkle.ts';
import type { NodeId, NodeReader } from './merkle.ts';
import { argCount, isCount } from './validate.ts';

/** Tree levels per tile: tile level L holds the nodes of tree level 8·L. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile, entries in a full bundle. */
export const TILE_WIDTH = 256;
/** Highest tile level a path may name (spec: 0..63). */
export const MAX_TILE_LEVEL = 63;
/** Largest entry a bundle can carry (uint16 length prefix). */
export const MAX_ENTRY_SIZE = 0xffff;

export type TilePath =
  | { readonly kind: 'hash'; readonly level: number; readonly index: number; readonly width?: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width?: number };

/**
 * Returns at least the first `width` hashes of tile (level, index): the partial tile `.p/<width>`,
 * or a wider one, e.g. the full tile when the log has deleted the partial one (tlog-tiles allows
 * that once the tile is full; clients then fetch the full tile). Only the first `width` are read.
 */
export type TileFetcher = (level: number, index: number, width: number) => Promise<Uint8Array>;

function tileLevel(level: unknown): number {
  if (argCount(level, 'tile level') > MAX_TILE_LEVEL) throw new RangeError(`tile level ${String(level)} is above ${MAX_TILE_LEVEL}`);
  return level as number;
}

/** `<N>`: 3-digit groups, all but the last prefixed with "x" (tlog-tiles §Merkle Tree). */
export function formatTileIndex(index: number): string {
  const digits = String(argCount(index, 'tile index'));
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, '0');
  const groups = padded.match(/\d{3}/g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

function widthSuffix(width: number | undefined): string {
  if (width === undefined || width === TILE_WIDTH) return '';
  argCount(width, 'tile width');
  if (width < 1 || width > TILE_WIDTH) {
    throw new RangeError(`tile width ${width} is not in 1..${TILE_WIDTH} (empty tiles MUST NOT be served)`);
  }
  return `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`; `width` 256 or absent means a full tile. */
export function tilePath(level: number, index: number, width?: number): string {
  return `tile/${tileLevel(level)}/${formatTileIndex(index)}${widthSuffix(width)}`;
}

/** `tile/entries/<N>[.p/<W>]`; `width` 256 or absent means a full bundle. */
export function entriesPath(index: number, width?: number): string {
  return `tile/entries/${formatTileIndex(index)}${widthSuffix(width)}`;
}

const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/**
 * Parses a path relative to the log prefix. Only the canonical spelling is accepted: no
 * leading zeros in L or W (nor an all-zero leading group of N), W only in 1..255, L <= 63,
 * N a safe integer. Anything else (other separators, "..", a leading "/") is a FormatError.
 */
export function parseTilePath(path: string): TilePath {
  if (typeof path !== 'string') throw new FormatError('tile path: expected a string');
  if (path.length > 64) throw new FormatError('tile path: too long');
  const m = TILE_PATH.exec(path);
  if (m === null) throw new FormatError(`tile path: not a canonical tlog-tiles path: ${JSON.stringify(path)}`);
  const [, levelText, indexText, widthText] = m as unknown as [string, string, string, string | undefined];
  if (indexText.startsWith('x000')) throw new FormatError(`tile path: index has a leading zero group: ${JSON.stringify(path)}`);
  const index = Number(indexText.replaceAll('x', '').replaceAll('/', ''));
  if (!Number.isSafeInteger(index)) throw new FormatError(`tile path: index is beyond 2^53: ${JSON.stringify(path)}`);
  let width: number | undefined;
  if (widthText !== undefined) {
    width = Number(widthText);
    if (width >= TILE_WIDTH) throw new FormatError(`tile path: partial width ${width} is not in 1..255`);
  }
  const w = width === undefined ? {} : { width };
  if (levelText === 'entries') return { kind: 'entries', index, ...w };
  const level = Number(levelText);
  if (level > MAX_TILE_LEVEL) throw new FormatError(`tile path: level ${level} is above ${MAX_TILE_LEVEL}`);
  return { kind: 'hash', level, index, ...w };
}

/**
 * The width of tile (level, index) in a tree of `treeSize`: 256 when full, 1..255 when
 * partial, 0 when absent. Tile level L has floor(treeSize / 256^L) hashes in all.
 */
export function tileWidthAt(level: number, index: number, treeSize: number): number {
  tileLevel(level);
  argCount(index, 'tile index');
  argCount(treeSize, 'tree size');
  const hashes = Math.floor(treeSize / 2 ** (TILE_HEIGHT * level));
  const width = hashes - index * TILE_WIDTH;
  return width <= 0 ? 0 : Math.min(width, TILE_WIDTH);
}

/**
 * Where a node is stored: nodes of tree level 8·L go to tile L, at `offset` in tile `index`.
 * Null for the levels in between, which are recomputed from the tile below.
 */
export function nodeTile(level: number, index: number): { level: number; index: number; offset: number } | null {
  argCount(level, 'node level');
  argCount(index, 'node index');
  if (level % TILE_HEIGHT !== 0) return null;
  return { level: level / TILE_HEIGHT, index: Math.floor(index / TILE_WIDTH), offset: index % TILE_WIDTH };
}

/** An entry bundle: each entry a big-endian uint16 length then its bytes (1..256 entries). */
export function encodeBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(entries)) throw new FormatError('entry bundle: expected an array of entries');
  if (entries.length < 1 || entries.length > TILE_WIDTH) {
    throw new FormatError(`entry bundle: ${entries.length} entries, expected 1..${TILE_WIDTH}`);
  }
  let size = 0;
  entries.forEach((entry, i) => {
    if (!(entry instanceof Uint8Array)) throw new FormatError(`entry bundle: entry ${i}: expected bytes`);
    if (entry.length > MAX_ENTRY_SIZE) throw new FormatError(`entry bundle: entry ${i} is ${entry.length} bytes, above ${MAX_ENTRY_SIZE}`);
    size += 2 + entry.length;
  });
  // One allocation: this runs for every entry the sequencer appends.
  const out = new Uint8Array(size);
  let at = 0;
  for (const entry of entries) {
    out[at] = entry.length >> 8;
    out[at + 1] = entry.length & 0xff;
    out.set(entry, at + 2);
    at += 2 + entry.length;
  }
  return out;
}

/**
 * Decodes an entry bundle; when `width` is given (from the path or the tree size) the bundle
 * MUST hold exactly that many entries. Truncated, trailing or empty input is a FormatError.
 */
export function decodeBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  abytes(bytes, undefined, 'entry bundle');
  if (width !== undefined && (!isCount(width) || width < 1 || width > TILE_WIDTH)) {
    throw new RangeError(`entry bundle: width ${String(width)} is not in 1..${TILE_WIDTH}`);
  }
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (entries.length === TILE_WIDTH) throw new FormatError(`entry bundle: more than ${TILE_WIDTH} entries`);
    if (at + 2 > bytes.length) throw new FormatError(`entry bundle: truncated length prefix of entry ${entries.length} at byte ${at}`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    at += 2;
    if (at + length > bytes.length) {
      throw new FormatError(`entry bundle: entry ${entries.length} needs ${length} bytes at byte ${at}, only ${bytes.length - at} left`);
    }
    entries.push(bytes.slice(at, at + length));
    at += length;
  }
  if (entries.length === 0) throw new FormatError('entry bundle: empty (empty tiles MUST NOT be served)');
  if (width !== undefined && entries.length !== width) {
    throw new FormatError(`entry bundle: ${entries.length} entries, expected ${width}`);
  }
  return entries;
}

/** The first `width` hashes of a fetched tile of 32-byte hashes, `width`..256 of them. */
function firstHashes(bytes: unknown, width: number, what: string): Uint8Array {
  const tile = abytes(bytes, undefined, what);
  if (tile.length % HASH_SIZE !== 0 || tile.length < width * HASH_SIZE || tile.length > TILE_WIDTH * HASH_SIZE) {
    throw new FormatError(`${what}: ${tile.length} bytes, expected ${width}..${TILE_WIDTH} hashes of ${HASH_SIZE} bytes`);
  }
  return tile.subarray(0, width * HASH_SIZE);
}

/**
 * A merkle.ts `NodeReader` over the tiles of a tree of `treeSize` (which MUST come from a
 * verified checkpoint). A node of tree level h is read from tile level floor(h/8): directly
 * when h % 8 == 0, else by hashing the 2^(h%8) hashes under it, which lie in one tile. Each
 * call fetches every tile it needs once, in parallel, at the width `tileWidthAt` gives.
 */
export function tileNodeReader(treeSize: number, fetchTile: TileFetcher): NodeReader {
  argCount(treeSize, 'tree size');
  if (typeof fetchTile !== 'function') throw new TypeError('tileNodeReader: fetchTile must be a function');
  return async (ids: readonly NodeId[]): Promise<Uint8Array[]> => {
    const reads = ids.map((id, k) => {
      const h = argCount(id?.level, `node ${k} level`);
      const i = argCount(id?.index, `node ${k} index`);
      if ((i + 1) * 2 ** h > treeSize) throw new RangeError(`node ${h}/${i} is not complete in a tree of size ${treeSize}`);
      const span = 2 ** (h % TILE_HEIGHT); // hashes of tile level floor(h/8) under the node
      const first = i * span;
      return { level: Math.floor(h / TILE_HEIGHT), index: Math.floor(first / TILE_WIDTH), offset: first % TILE_WIDTH, span };
    });
    const tiles = new Map<string, Promise<Uint8Array>>();
    for (const { level, index } of reads) {
      const key = `${level}/${index}`;
      if (tiles.has(key)) continue;
      const width = tileWidthAt(level, index, treeSize);
      const what = `tile ${level}/${index} (width ${width})`;
      const tile = Promise.resolve(fetchTile(level, index, width)).then((bytes) => firstHashes(bytes, width, what));
      tile.catch(() => {}); // surfaced by Promise.all below; MUST NOT become an unhandled rejection
      tiles.set(key, tile);
    }
    return Promise.all(
      reads.map(async ({ level, index, offset, span }) => {
        const bytes = await tiles.get(`${level}/${index}`)!;
        let layer: Uint8Array[] = [];
        for (let j = 0; j < span; j++) layer.push(bytes.subarray((offset + j) * HASH_SIZE, (offset + j + 1) * HASH_SIZE));
        while (layer.length > 1) {
          const up: Uint8Array[] = [];
          for (let j = 0; j < layer.length; j += 2) up.push(nodeHash(layer[j]!, layer[j + 1]!));
          layer = up;
        }
        return layer[0]!.slice();
      }),
    );
  };
}
