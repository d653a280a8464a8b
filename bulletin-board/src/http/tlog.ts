/**
 * A poll's board as a C2SP tlog-tiles log (https://c2sp.org/tlog-tiles), under the prefix
 * `/poll/<poll_id>`: `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]`, entry bundles
 * `tile/entries/<N>[.p/<W>]`. Paths are parsed by crypto's `parseTilePath` (one spelling per
 * resource; no path is built here).
 *
 * Contracts:
 * - The checkpoint is mutable: `Cache-Control: no-store`. Tiles and bundles are immutable:
 *   served only when the latest checkpoint's tree holds them in full at the width asked
 *   (a full tile not yet full, or a partial one wider than stored: 404), then cached for a year.
 * - Sealed polls (DESIGN.md promise 7): entry bundles are 403 until the close entry is on the
 *   board, but for `tile/entries/000.p/1`, the manifest alone (public: it is how clients learn
 *   the poll's keys); checkpoints and hash tiles (leaf hashes: receipts stay verifiable) are
 *   always served.
 */
import { encodeBundle, FormatError, parseTilePath, TILE_WIDTH, tileWidthAt } from '@blindvote/crypto';
import type { TilePath } from '@blindvote/crypto';
import type { FastifyRequest } from 'fastify';
import type { Board, PollState } from '../board.ts';
import { EntriesSealed, PathMalformed, PollNotFound, TileNotFound } from './errors.ts';
import type { BoardApp } from './routes.ts';
import { checkpointSchema, tileSchema } from './schemas.ts';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export async function stateOf(board: Board, pollId: string): Promise<PollState> {
  const state = await board.state(pollId);
  if (state === null) throw new PollNotFound(pollId);
  return state;
}

/** The tile path as sent (the raw URL, so no percent-encoded alias of a canonical path is served), parsed. */
function tilePathOf(request: FastifyRequest, pollId: string): { text: string; path: TilePath } {
  const raw = request.url.split('?', 1)[0]!;
  const prefix = `/poll/${pollId}/`;
  const at = raw.lastIndexOf(`${prefix}tile/`);
  if (at < 0) throw new PathMalformed('path: not a canonical tlog-tiles path (no percent-encoding)');
  const text = raw.slice(at + prefix.length);
  try {
    return { text, path: parseTilePath(text) };
  } catch (error) {
    if (error instanceof FormatError) throw new PathMalformed(error.message);
    throw error;
  }
}

export function tlogRoutes(app: BoardApp, board: Board): void {
  app.get('/poll/:pollId/checkpoint', { schema: checkpointSchema }, async (request, reply) => {
    const { checkpoint } = await stateOf(board, request.params.pollId);
    return reply.header('cache-control', 'no-store').type('text/plain; charset=utf-8').send(checkpoint);
  });

  app.get('/poll/:pollId/tile/*', { schema: tileSchema }, async (request, reply) => {
    const { pollId } = request.params;
    const { text, path } = tilePathOf(request, pollId);
    const state = await stateOf(board, pollId);
    const width = path.width ?? TILE_WIDTH;
    let bytes: Uint8Array | null;
    if (path.kind === 'hash') {
      const held = tileWidthAt(path.level, path.index, state.size);
      if (width > held) throw new TileNotFound(text, `the tree of size ${state.size} holds ${held} hashes of this tile`);
      bytes = await board.reader.tile(pollId, path.level, path.index, width);
    } else {
      const manifestOnly = path.index === 0 && width === 1;
      if (state.poll.results === 'sealed' && !state.closed && !manifestOnly) throw new EntriesSealed(pollId);
      const held = Math.max(0, Math.min(TILE_WIDTH, state.size - path.index * TILE_WIDTH));
      if (width > held) throw new TileNotFound(text, `the tree of size ${state.size} holds ${held} entries of this bundle`);
      const entries = await board.reader.bundle(pollId, path.index, width);
      bytes = entries.length === width ? encodeBundle(entries) : null;
    }
    if (bytes === null) throw new Error(`storage: ${text} of poll "${pollId}" is shorter than its checkpoint says`);
    return reply.header('cache-control', IMMUTABLE).type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
