/**
 * Exports a poll's log as a static C2SP tlog-tiles directory: `checkpoint`, every hash tile and
 * every entry bundle its tree size needs (partial ones as `.p/<width>`). Any tlog-tiles client,
 * and `blindvote-verify audit <dir>`, reads it as it would read the board over HTTP; it can be
 * published on any static host or archived as the election's record.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { encodeBundle, entriesPath, tilePath, tileWidthAt, TILE_WIDTH } from '@blindvote/crypto';
import { UnknownLogError } from './storage.ts';
import type { LogStorage } from './storage.ts';

/** Writes the log of `pollId` at its latest checkpoint into `dir`; returns that tree size. */
export async function exportLog(storage: LogStorage, pollId: string, dir: string): Promise<number> {
  const head = await storage.head(pollId);
  if (head === null) throw new UnknownLogError(pollId);
  const size = head.size;
  const put = async (path: string, bytes: Uint8Array | string) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  };
  for (let level = 0; tileWidthAt(level, 0, size) > 0; level++) {
    for (let index = 0; ; index++) {
      const width = tileWidthAt(level, index, size);
      if (width === 0) break;
      const tile = await storage.readTile(pollId, level, index);
      if (tile === null || tile.length < width * 32) throw new Error(`storage: tile ${level}/${index} is missing hashes`);
      await put(tilePath(level, index, width === TILE_WIDTH ? undefined : width), tile.subarray(0, width * 32));
    }
  }
  for (let index = 0; index * TILE_WIDTH < size; index++) {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    const entries = await storage.readEntries(pollId, index * TILE_WIDTH, index * TILE_WIDTH + width);
    if (entries.length !== width) throw new Error(`storage: bundle ${index} holds ${entries.length} of ${width} entries`);
    await put(entriesPath(index, width === TILE_WIDTH ? undefined : width), encodeBundle(entries));
  }
  // The checkpoint last: a reader that sees it finds everything it commits to.
  await put('checkpoint', head.checkpoint);
  return size;
}
