/**
 * Integration (pure): folds a batch of new entries into a log's compact range and says which
 * entry chunks and hash-tile cells to write. Storage drivers do not see Merkle trees; the
 * sequencer runs this inside the batch's transaction.
 *
 * Tiles follow C2SP tlog-tiles: the tile at level L, index N holds the hashes of the nodes at
 * tree height 8·L with indexes [256·N, 256·N + 256). A node is written once, when it becomes
 * complete, so tile content only ever grows (a partial tile is a prefix of its full tile).
 */
import { CompactRange, encodeBundle, nodeTile, TILE_WIDTH } from '@blindvote/crypto';
import type { ChunkWrite, TileWrite } from './storage.ts';

interface TileCells {
  readonly level: number;
  readonly index: number;
  readonly start: number;
  readonly hashes: Uint8Array[];
}

export interface Integration {
  readonly range: CompactRange;
  readonly chunks: ChunkWrite[];
  readonly tiles: TileWrite[];
}

/** `leafHashes[i]` MUST be leafHash(entries[i]) (the sequencer hashes at append time). */
export function integrate(
  size: number,
  compact: readonly Uint8Array[],
  entries: readonly Uint8Array[],
  leafHashes: readonly Uint8Array[],
): Integration {
  const range = CompactRange.fromHashes(size, [...compact]);
  const tiles: TileCells[] = [];
  let last: TileCells | undefined;
  const onNode = (level: number, index: number, hash: Uint8Array): void => {
    const at = nodeTile(level, index);
    if (at === null) return;
    // Nodes arrive in index order per level, so a tile's cells are contiguous per level.
    let cells = last?.level === at.level && last.index === at.index ? last : tiles.find((c) => c.level === at.level && c.index === at.index);
    if (cells === undefined) {
      cells = { level: at.level, index: at.index, start: at.offset, hashes: [] };
      tiles.push(cells);
    }
    cells.hashes.push(hash);
    last = cells;
  };
  for (const h of leafHashes) range.append(h, onNode);
  const writes = tiles.map(({ level, index, start, hashes }) => {
    const joined = new Uint8Array(hashes.length * 32);
    hashes.forEach((h, k) => joined.set(h, k * 32));
    return { level, index, start, hashes: joined };
  });
  return { range, chunks: chunk(size, entries), tiles: writes };
}

/** Splits entries starting at `first` at every 256-entry bundle boundary. */
function chunk(first: number, entries: readonly Uint8Array[]): ChunkWrite[] {
  const chunks: ChunkWrite[] = [];
  let i = 0;
  while (i < entries.length) {
    const firstIndex = first + i;
    const room = TILE_WIDTH - (firstIndex % TILE_WIDTH);
    const part = entries.slice(i, i + room);
    chunks.push({ firstIndex, count: part.length, data: encodeBundle(part) });
    i += part.length;
  }
  return chunks;
}
