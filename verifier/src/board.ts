/**
 * Small proofs over a board that `receipt-check.ts` and `monitor.ts` share: the manifest (entry
 * 0, proven included in a verified checkpoint through the hash tiles) and the consistency of an
 * earlier checkpoint with a newer one (RFC 9162 §2.1.4, over C2SP tlog-tiles with crypto's
 * `tileNodeReader`).
 *
 * Evidence (DESIGN.md promise 4): two checkpoints signed by the board key that are not
 * consistent prove misbehaviour to anyone: a newer one that is smaller (rollback), or one of the
 * same size with another root (fork). A consistency proof that fails over the board's own tiles
 * shows that the board serves a view that does not extend the earlier one, or corrupt tiles;
 * either way both notes are returned, with the proof, for a person to take elsewhere.
 * Callers MUST have verified both checkpoints' signatures before calling the evidence a split view.
 */
import {
  Checkpoint,
  Poll,
  ProofError,
  TILE_WIDTH,
  consistencyProof,
  decodeBundle,
  inclusionProof,
  leafHash,
  parseEntry,
  tileNodeReader,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '@blindvote/crypto';
import { errorMessage } from './checks.ts';
import type { BoardFetcher } from './fetch.ts';

/**
 * Entry 0 of a board of `size` entries (a checkpoint's size, verified or claimed) as a poll
 * manifest, with its bytes. Throws an Error with a message fit for a person.
 */
export async function readManifest(fetcher: BoardFetcher, size: number): Promise<{ poll: Poll; bytes: Uint8Array }> {
  if (size === 0) throw new Error('the board is empty: no manifest (entry 0)');
  let bytes: Uint8Array;
  try {
    // The manifest alone first (000.p/1): a sealed poll serves it during voting, its other entries
    // it does not. A board that keeps no such partial bundle has entry 0 in the first bundle.
    const first = await fetcher.bundle(0, 1).catch(() => fetcher.bundle(0, Math.min(TILE_WIDTH, size)));
    bytes = decodeBundle(first)[0]!;
  } catch (err) {
    throw new Error(`cannot read entry 0: ${errorMessage(err)}`);
  }
  const entry = parseEntry(bytes, 'entry 0');
  if (!(entry instanceof Poll)) throw new Error(`entry 0 is a ${entry.type} entry, not the poll manifest`);
  return { poll: entry, bytes };
}

/**
 * Proves that `bytes` are leaf 0 of the tree of `checkpoint` (which MUST be verified), with an
 * inclusion proof read from the board's hash tiles. Throws an Error naming what failed.
 */
export async function proveEntry0(fetcher: BoardFetcher, checkpoint: Checkpoint, bytes: Uint8Array): Promise<void> {
  try {
    const proof = await inclusionProof(0, checkpoint.size, tileNodeReader(checkpoint.size, fetcher.tile));
    verifyInclusion(leafHash(bytes), 0, checkpoint.size, proof, checkpoint.root);
  } catch (err) {
    throw new Error(`entry 0 is not proven to be in the board's checkpoint: ${errorMessage(err)}`);
  }
}

export interface SignedCheckpoint {
  /** The signed note, as served. */
  readonly note: string;
  /** Its body, verified by the caller. */
  readonly checkpoint: Checkpoint;
}

export type Consistency =
  | { readonly ok: true; readonly detail: string }
  | {
      readonly ok: false;
      readonly detail: string;
      /** True when the result is evidence against the board (not merely a failed fetch). */
      readonly misbehaviour: boolean;
      readonly evidence: { readonly reason: string; readonly earlier: string; readonly newer: string; readonly proof?: string[] };
    };

/**
 * Is `newer` (the board's current checkpoint) an extension of `earlier`? Proven with a
 * consistency proof read from the board's hash tiles at `newer.checkpoint.size`.
 */
export async function checkConsistency(fetcher: BoardFetcher, earlier: SignedCheckpoint, newer: SignedCheckpoint): Promise<Consistency> {
  const a = earlier.checkpoint;
  const b = newer.checkpoint;
  const evidence = (reason: string, proof?: Uint8Array[]) => ({
    reason,
    earlier: earlier.note,
    newer: newer.note,
    ...(proof === undefined ? {} : { proof: proof.map(toHex) }),
  });
  if (a.size > b.size) {
    return {
      ok: false,
      misbehaviour: true,
      detail: `rollback: the board's checkpoint has size ${b.size}, smaller than the earlier checkpoint's ${a.size}; two signed checkpoints that cannot both be true are evidence of a split view`,
      evidence: evidence('rollback'),
    };
  }
  if (a.size === b.size) {
    if (toHex(a.root) === toHex(b.root)) return { ok: true, detail: `the same tree (size ${b.size}, root ${toHex(b.root)})` };
    return {
      ok: false,
      misbehaviour: true,
      detail: `fork: two signed checkpoints of size ${a.size} with different roots (${toHex(a.root)} and ${toHex(b.root)}): evidence of a split view`,
      evidence: evidence('fork'),
    };
  }
  if (a.size === 0) return { ok: true, detail: `the earlier checkpoint is of the empty tree; size ${b.size} now` };
  let proof: Uint8Array[];
  try {
    proof = await consistencyProof(a.size, b.size, tileNodeReader(b.size, fetcher.tile));
  } catch (err) {
    return {
      ok: false,
      misbehaviour: false,
      detail: `cannot read a consistency proof from ${a.size} to ${b.size} from the board's tiles: ${errorMessage(err)}`,
      evidence: evidence('unreadable-proof'),
    };
  }
  try {
    verifyConsistency(a.size, b.size, proof, a.root, b.root);
  } catch (err) {
    const why = err instanceof ProofError ? err.message : errorMessage(err);
    return {
      ok: false,
      misbehaviour: true,
      detail: `the tree of size ${b.size} is not proven to extend the earlier one of size ${a.size} (${why}): a split view, or the board serves corrupt tiles; both signed checkpoints are kept as evidence`,
      evidence: evidence('inconsistent', proof),
    };
  }
  return { ok: true, detail: `size ${a.size} → ${b.size}: consistency proof of ${proof.length} hash(es) verified (RFC 9162 §2.1.4)` };
}
