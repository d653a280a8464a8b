/**
 * RFC 9162 §2.1 Merkle tree (SHA-256): hashing, a compact range for O(log n) appends, and
 * inclusion / consistency proofs, generated from stored subtree hashes and verified.
 *
 *     leaf hash  = SHA-256(0x00 || entry)                    §2.1.1
 *     node hash  = SHA-256(0x01 || left || right)            §2.1.1
 *     empty root = SHA-256("")                               §2.1.1
 *
 * Node ids: `{ level, index }` names the perfect subtree of 2^level leaves that starts at leaf
 * index·2^level. A node is *complete* in a tree of size n when it ends at or before n; only
 * complete nodes are ever stored (C2SP tlog-tiles, see tiles.ts). Sizes and indexes are
 * non-negative safe integers (< 2^53), checked at every door.
 *
 * Flow:
 * - Sequencer: `CompactRange.append(leafHash, onNode)` per entry. `onNode` receives every node
 *   that becomes complete (the leaf itself, then each completed parent): that is all storage
 *   needs to write tiles. `root()` is the checkpoint's root hash.
 * - Proofs (§2.1.3.1 PATH, §2.1.4.1 PROOF): `inclusionPlan` / `consistencyPlan` list, for each
 *   proof hash, the complete subtrees whose RFC 9162 MTH fold gives it (one subtree, or several
 *   when the proof hash is the right-edge node of a tree whose size is not a power of two).
 *   `inclusionProof` / `consistencyProof` read all of them in ONE batched `NodeReader` call
 *   (storage on the server, tiles over HTTP in clients) and fold: O(log n) node reads.
 * - Verification (§2.1.3.2, §2.1.4.2): `verifyInclusion`, `verifyConsistency` and
 *   `rootFromInclusionProof` either return a full answer or throw `ProofError`.
 *
 * Threats and the rules that answer them:
 * - Leaf/node confusion (second preimages): the 0x00 / 0x01 prefixes of §2.1.1.
 * - Malformed proofs: every hash MUST be exactly 32 bytes; a proof MUST have exactly the
 *   number of hashes its (index, size) or (size1, size2) demands; no partial answers.
 * - Number tricks: sizes and indexes that are not non-negative safe integers (e.g. a uint64
 *   index that a JSON parser rounded) are rejected, never coerced.
 * - A proof binds the tree *shape* given by the sizes, not the sizes themselves (leaf 0 of a
 *   3-leaf tree has the same proof shape as in a 4-leaf tree): callers MUST take sizes and
 *   roots only from a verified checkpoint, which signs both together.
 * - A dishonest reader (storage or HTTP): read results are checked for count and length; the
 *   result is still only trusted after verification against a signed root.
 *
 * Policy for the edges RFC 9162 leaves open (as transparency-dev/merkle at HEAD; recorded in
 * docs/merkle-policy.md):
 * - Inclusion needs 0 <= index < size, so an empty tree has no inclusion proofs.
 * - Consistency with size1 == size2: the proof MUST be empty and root1 MUST equal root2.
 * - Every hash (leaf hash, roots, proof nodes) MUST be 32 bytes, on every path, including
 *   size1 == size2 (stricter than transparency-dev/merkle, which there compares roots of any
 *   length and accepts its probe "sizes-are-equal-one-and-proof-is-empty" with 12-byte roots).
 * - Consistency with size1 == 0 is rejected, even 0 -> 0: an empty tree commits to nothing,
 *   so there is nothing to prove; a verifier with no earlier checkpoint simply accepts the
 *   first one it verifies. Accepting "proofs" from size 0 would only let a bogus proof pass.
 * - size1 > size2 is rejected; for size1 < size2 the proof MUST NOT be empty.
 */
import { sha256 } from '#platform';
import { FormatError, abytes, equalBytes } from './bytes.ts';
import { argCount, isCount } from './validate.ts';

/** SHA-256 output size: every tree hash is exactly this long. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** MTH({}) = SHA-256("") (§2.1.1). Treat as read-only; `CompactRange.root()` returns copies. */
export const EMPTY_ROOT: Uint8Array = sha256();

/** MTH({d}) = SHA-256(0x00 || d) (§2.1.1). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, abytes(entry, undefined, 'leaf entry'));
}

/**
 * SHA-256(0x01 || left || right) (§2.1.1). Defined on byte strings, so any lengths are hashed
 * as given; the tree and the verifiers only ever pass 32-byte hashes (checked at their doors).
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, abytes(left, undefined, 'left node'), abytes(right, undefined, 'right node'));
}

/** The perfect subtree of 2^level leaves starting at leaf index·2^level. */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/**
 * Reads the hashes of COMPLETE subtrees, in the order asked. Proof generation calls it once
 * per proof. It MUST return exactly one 32-byte hash per id, and MUST NOT be asked for (nor
 * invent) a node that is not complete in the tree being proved.
 */
export type NodeReader = (ids: readonly NodeId[]) => Promise<Uint8Array[]>;

/** Called for every node that becomes complete; MUST NOT mutate `hash` (the range keeps it). */
export type OnNode = (level: number, index: number, hash: Uint8Array) => void;

/**
 * One hash of a proof: the complete subtrees, left to right, whose MTH fold
 * (right to left, `nodeHash(left, acc)`) is that hash. Usually a single subtree; several for
 * the right-edge node of a tree whose size is not a power of two.
 */
export type ProofNodePlan = readonly NodeId[];

// ---- numbers (bitwise operators are 32-bit in JS, so these use exact float arithmetic) ----

const half = (n: number): number => Math.floor(n / 2);
const isOdd = (n: number): boolean => n % 2 === 1;

function popcount(n: number): number {
  let c = 0;
  for (; n > 0; n = half(n)) c += n % 2;
  return c;
}

function trailingZeros(n: number): number {
  let z = 0;
  for (; n > 0 && !isOdd(n); n = half(n)) z++;
  return z;
}

/** The perfect subtrees covering [begin, end), left to right, each as large as alignment allows. */
function rangeIds(begin: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  while (begin < end) {
    let level = 0;
    while (begin % 2 ** (level + 1) === 0 && begin + 2 ** (level + 1) <= end) level++;
    out.push({ level, index: begin / 2 ** level });
    begin += 2 ** level;
  }
  return out;
}

/** The compact range of [0, size): the perfect subtrees of a tree of `size`, left to right. */
export function compactRangeIds(size: number): NodeId[] {
  return rangeIds(0, argCount(size, 'tree size'));
}

function fold(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i]!, acc);
  return acc;
}

// ---- compact range ----

/**
 * The compact range [0, size) of an append-only tree: the roots of its perfect subtrees, left
 * to right (one per set bit of `size`, largest first). Appends are O(1) amortised, O(log n)
 * worst case; never a rebuild.
 */
export class CompactRange {
  #size = 0;
  #hashes: Uint8Array[] = [];

  /** Rebuilds a range from stored hashes (`compactRangeIds(size)`, in that order). */
  static fromHashes(size: number, hashes: readonly Uint8Array[]): CompactRange {
    argCount(size, 'compact range size');
    if (!Array.isArray(hashes)) throw new FormatError('compact range: expected an array of hashes');
    const want = popcount(size);
    if (hashes.length !== want) {
      throw new FormatError(`compact range of size ${size} has ${want} hashes, got ${hashes.length}`);
    }
    const range = new CompactRange();
    range.#size = size;
    // Copies (new Uint8Array): slice() of a Node Buffer, as storage hands them, is a view.
    range.#hashes = hashes.map((h, i) => new Uint8Array(abytes(h, HASH_SIZE, `compact range hash ${i}`)));
    return range;
  }

  get size(): number {
    return this.#size;
  }

  /** Copies of the subtree roots, left to right (`compactRangeIds(size)` names them). */
  get hashes(): Uint8Array[] {
    return this.#hashes.map((h) => h.slice());
  }

  clone(): CompactRange {
    return CompactRange.fromHashes(this.#size, this.#hashes);
  }

  /**
   * Appends one leaf hash. `onNode` is called for the leaf (level 0, index = old size) and then
   * for each parent it completes, bottom-up. If `onNode` throws, the range is left unchanged.
   */
  append(leafHash: Uint8Array, onNode?: OnNode): void {
    abytes(leafHash, HASH_SIZE, 'leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('compact range: tree size would exceed 2^53 - 1');
    let hash: Uint8Array = new Uint8Array(leafHash);
    let index = this.#size;
    let level = 0;
    let keep = this.#hashes.length;
    onNode?.(level, index, hash);
    // Each trailing 1 bit of the old size is a left sibling that the new leaf completes.
    for (let n = this.#size; isOdd(n); n = half(n)) {
      hash = nodeHash(this.#hashes[--keep]!, hash);
      index = half(index);
      level++;
      onNode?.(level, index, hash);
    }
    this.#hashes.length = keep;
    this.#hashes.push(hash);
    this.#size++;
  }

  /** MTH(D[0:size]) (§2.1.1); EMPTY_ROOT for size 0. Always a fresh array. */
  root(): Uint8Array {
    return this.#size === 0 ? EMPTY_ROOT.slice() : fold(this.#hashes).slice();
  }
}

// ---- proof planning and generation ----

/** Proof hashes for the path from node (level, index) up to the root of a tree of `size`. */
function pathPlan(level: number, index: number, size: number): ProofNodePlan[] {
  const out: ProofNodePlan[] = [];
  let fn = index;
  let sn = Math.floor((size - 1) / 2 ** level); // last node at this level, maybe incomplete
  for (let l = level; sn > 0; l++, fn = half(fn), sn = half(sn)) {
    if (isOdd(fn)) {
      out.push([{ level: l, index: fn - 1 }]); // left siblings are always complete
    } else if (fn < sn) {
      const begin = (fn + 1) * 2 ** l;
      const complete = begin + 2 ** l <= size;
      out.push(complete ? [{ level: l, index: fn + 1 }] : rangeIds(begin, size));
    } // fn == sn: no sibling at this level; the node moves up unchanged
  }
  return out;
}

/** What `inclusionProof` reads: PATH(index, D[0:size]) (§2.1.3.1), bottom-up. */
export function inclusionPlan(index: number, size: number): ProofNodePlan[] {
  argCount(index, 'leaf index');
  argCount(size, 'tree size');
  if (index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`);
  return pathPlan(0, index, size);
}

/**
 * What `consistencyProof` reads: PROOF(size1, D[0:size2]) (§2.1.4.1). This is the last perfect
 * subtree of [0, size1) (omitted when size1 is a power of two: it is root1 itself) followed by
 * that node's inclusion path in the tree of size2. Empty when size1 == size2.
 */
export function consistencyPlan(size1: number, size2: number): ProofNodePlan[] {
  argCount(size1, 'size1');
  argCount(size2, 'size2');
  if (size1 > size2) throw new RangeError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0) throw new RangeError('no consistency proof from an empty tree (size1 = 0): it commits to nothing');
  if (size1 === size2) return [];
  const level = trailingZeros(size1);
  const index = size1 / 2 ** level - 1;
  const path = pathPlan(level, index, size2);
  return index === 0 ? path : [[{ level, index }], ...path];
}

async function readPlan(plan: readonly ProofNodePlan[], read: NodeReader): Promise<Uint8Array[]> {
  const ids = plan.flat();
  if (ids.length === 0) return [];
  const hashes = await read(ids);
  if (!Array.isArray(hashes) || hashes.length !== ids.length) {
    throw new FormatError(`node reader: asked for ${ids.length} hashes, got ${Array.isArray(hashes) ? hashes.length : typeof hashes}`);
  }
  let k = 0;
  return plan.map((group) => {
    const parts = group.map((id) => abytes(hashes[k++], HASH_SIZE, `node reader: hash of node ${id.level}/${id.index}`));
    return fold(parts).slice();
  });
}

/** PATH(index, D[0:size]) (§2.1.3.1) from stored hashes, in one `read` call. */
export async function inclusionProof(index: number, size: number, read: NodeReader): Promise<Uint8Array[]> {
  return readPlan(inclusionPlan(index, size), read);
}

/** PROOF(size1, D[0:size2]) (§2.1.4.1) from stored hashes (of the tree of size2), in one `read` call. */
export async function consistencyProof(size1: number, size2: number, read: NodeReader): Promise<Uint8Array[]> {
  return readPlan(consistencyPlan(size1, size2), read);
}

// ---- verification ----

/**
 * Why verification failed:
 * - `malformed`: a hash that is not 32 bytes, a size or index that is not a non-negative safe
 *   integer, a proof that is not an array;
 * - `index-out-of-range`: leaf index >= tree size;
 * - `size-order`: size1 > size2;
 * - `empty-tree`: consistency from size1 = 0 (see the policy in the module docs);
 * - `proof-length`: too many or too few hashes for the sizes (including non-empty for
 *   size1 == size2, empty for size1 < size2);
 * - `root-mismatch`: the proof does not lead to the expected root(s).
 */
export type ProofErrorReason = 'malformed' | 'index-out-of-range' | 'size-order' | 'empty-tree' | 'proof-length' | 'root-mismatch';

export class ProofError extends Error {
  override name = 'ProofError';
  readonly reason: ProofErrorReason;
  constructor(reason: ProofErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function proofCount(value: unknown, what: string): number {
  if (!isCount(value)) {
    throw new ProofError('malformed', `${what}: expected a non-negative safe integer, got ${String(value)}`);
  }
  return value;
}

function proofHash(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new ProofError('malformed', `${what}: expected a ${HASH_SIZE}-byte hash, got ${got}`);
  }
  return value;
}

function proofHashes(proof: unknown): Uint8Array[] {
  if (!Array.isArray(proof)) throw new ProofError('malformed', 'proof: expected an array of hashes');
  return proof.map((h, i) => proofHash(h, `proof[${i}]`));
}

function checkLength(proof: readonly Uint8Array[], want: number, what: string): void {
  if (proof.length !== want) {
    throw new ProofError('proof-length', `${what} has ${proof.length} hashes, want exactly ${want}`);
  }
}

/**
 * The walk both verifications share (§2.1.3.2 step 4, §2.1.4.2 step 6, and their final sn = 0):
 * from node fn, sn being the last node at its level, with hash `seed`, up through `path`. `sr` is
 * the root it leads to (r in §2.1.3.2); `fr` folds in only the left siblings (for consistency, the
 * root of the smaller tree). Throws unless `path` has exactly the length the walk needs.
 */
function walk(fn: number, sn: number, seed: Uint8Array, path: readonly Uint8Array[], what: string): { fr: Uint8Array; sr: Uint8Array } {
  let fr = seed;
  let sr = seed;
  for (const c of path) {
    if (sn === 0) throw new ProofError('proof-length', `${what} is too long`);
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError('proof-length', `${what} is too short`);
  return { fr, sr };
}

/**
 * The root that an inclusion proof leads to (§2.1.3.2 steps 1-5, without the final root
 * comparison). Throws `ProofError` unless the proof has exactly the right shape.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array {
  proofHash(leafHash, 'leaf hash');
  proofCount(index, 'leaf index');
  proofCount(size, 'tree size');
  const path = proofHashes(proof);
  if (index >= size) throw new ProofError('index-out-of-range', `leaf index ${index} is not below tree size ${size}`);
  const what = `inclusion proof for leaf ${index} of ${size}`;
  checkLength(path, pathPlan(0, index, size).length, what);
  return walk(index, size - 1, leafHash, path, what).sr;
}

/** §2.1.3.2: succeeds only if `proof` shows `leafHash` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  proofHash(root, 'root');
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  if (!equalBytes(computed, root)) {
    throw new ProofError('root-mismatch', `inclusion proof for leaf ${index} of ${size} does not lead to the given root`);
  }
}

/**
 * §2.1.4.2: succeeds only if `proof` shows the tree of size1 with root1 is a prefix of the tree
 * of size2 with root2. Edge policy (size1 == 0, size1 == size2) in the module docs.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  proofCount(size1, 'size1');
  proofCount(size2, 'size2');
  proofHash(root1, 'root1');
  proofHash(root2, 'root2');
  const path = proofHashes(proof);
  if (size1 > size2) throw new ProofError('size-order', `size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0) {
    // An empty tree commits to nothing: accept the first checkpoint instead of asking for a proof.
    throw new ProofError('empty-tree', 'consistency from an empty tree (size1 = 0) proves nothing and is refused');
  }
  if (size1 === size2) {
    checkLength(path, 0, `consistency proof between equal sizes ${size1}`);
    if (!equalBytes(root1, root2)) throw new ProofError('root-mismatch', `trees of equal size ${size1} have different roots`);
    return;
  }
  const what = `consistency proof from ${size1} to ${size2}`;
  checkLength(path, consistencyPlan(size1, size2).length, what);
  // Step 2: when size1 is a power of two, root1 is the seed node and is not sent.
  const nodes = size1 === 2 ** trailingZeros(size1) ? [root1, ...path] : path;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const { fr, sr } = walk(fn, sn, nodes[0]!, nodes.slice(1), what);
  if (!equalBytes(fr, root1)) throw new ProofError('root-mismatch', `${what} does not lead to root1`);
  if (!equalBytes(sr, root2)) throw new ProofError('root-mismatch', `${what} does not lead to root2`);
}
