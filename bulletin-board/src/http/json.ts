/**
 * JSON conveniences beside the tlog-tiles resources (DESIGN.md "Public surface"): a poll
 * board's status, and RFC 9162 inclusion and consistency proofs computed from the stored tiles
 * (clients can compute the same from the tiles themselves). Read-only; never cached long, as
 * "latest" moves.
 */
import { FormatError, fromBase64, toBase64 } from '@blindvote/crypto';
import type { Board } from '../board.ts';
import { ProofNotFound, ProofQueryInvalid } from './errors.ts';
import type { BoardApp } from './routes.ts';
import { consistencySchema, inclusionSchema, statusSchema } from './schemas.ts';
import { stateOf } from './tlog.ts';

/** A decimal query value (already matched by the schema's pattern) as a safe integer. */
function count(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ProofQueryInvalid(`${name}: ${value} is above 2^53 - 1`);
  return n;
}

const b64 = (hashes: readonly Uint8Array[]) => hashes.map(toBase64);

export function jsonRoutes(app: BoardApp, board: Board): void {
  app.get('/v1/board/:pollId', { schema: statusSchema }, async (request, reply) => {
    const { pollId } = request.params;
    const s = await stateOf(board, pollId);
    reply.header('cache-control', 'no-store');
    return { poll_id: pollId, board: board.boardUrl(pollId), size: s.size, closed: s.closed, tallied: s.tallied, checkpoint: s.checkpoint };
  });

  app.get('/v1/board/:pollId/proof/inclusion', { schema: inclusionSchema }, async (request, reply) => {
    const { pollId } = request.params;
    const q = request.query;
    if ((q.index === undefined) === (q.leaf_hash === undefined)) {
      throw new ProofQueryInvalid('index, leaf_hash: give exactly one of them (the leaf to prove)');
    }
    const state = await stateOf(board, pollId);
    const size = q.size === undefined ? state.size : count(q.size, 'size');
    if (size > state.size) throw new ProofNotFound(`size: ${size} is beyond the board's latest checkpoint (size ${state.size})`);
    const checkpoint = size === state.size ? state.checkpoint : await board.reader.checkpointAt(pollId, size);
    if (checkpoint === null) throw new ProofNotFound(`size: the board published no checkpoint of size ${size}; use the size of one it did`);
    let index: number;
    if (q.index !== undefined) {
      index = count(q.index, 'index');
      if (index >= size) throw new ProofQueryInvalid(`index: ${index} is not below the tree size ${size}`);
    } else {
      let hash: Uint8Array;
      try {
        // An unencoded "+" arrives as a space (form encoding); base64 has no spaces, so it is one.
        hash = fromBase64(q.leaf_hash!.replaceAll(' ', '+'), 'leaf_hash', 32);
      } catch (error) {
        if (error instanceof FormatError) throw new ProofQueryInvalid(error.message);
        throw error;
      }
      const found = await board.reader.leafIndex(pollId, hash);
      if (found === null) throw new ProofNotFound('leaf_hash: no entry on this board has this leaf hash');
      if (found >= size) throw new ProofNotFound(`leaf_hash: the entry is at index ${found}, not in the tree of size ${size}; ask a later size`);
      index = found;
    }
    reply.header('cache-control', 'no-store');
    return { leaf_index: index, tree_size: size, inclusion_proof: b64(await board.reader.inclusionProof(pollId, index, size)), checkpoint };
  });

  app.get('/v1/board/:pollId/proof/consistency', { schema: consistencySchema }, async (request, reply) => {
    const { pollId } = request.params;
    const state = await stateOf(board, pollId);
    const from = count(request.query.from, 'from');
    const to = request.query.to === undefined ? state.size : count(request.query.to, 'to');
    if (from < 1) throw new ProofQueryInvalid('from: must be at least 1 (the empty tree commits to nothing)');
    if (from > to) throw new ProofQueryInvalid(`from: ${from} is larger than to (${to})`);
    if (to > state.size) throw new ProofNotFound(`to: ${to} is beyond the board's latest checkpoint (size ${state.size})`);
    reply.header('cache-control', 'no-store');
    return { from, to, consistency_proof: b64(await board.reader.consistencyProof(pollId, from, to)) };
  });
}
