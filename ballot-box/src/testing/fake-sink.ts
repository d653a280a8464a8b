/**
 * Test support: an in-memory `BallotSink` that behaves like the sequencer where the ballot box
 * can tell: one log per poll whose entry 0 is the manifest, token ids spent under a unique key
 * (a byte-identical resubmission is `duplicate` with the original index, any other ballot with
 * that token `spent`), a real RFC 9162 tree (crypto's CompactRange, every node kept for
 * inclusion proofs) and a real signed C2SP checkpoint, so the receipts built from its outcomes
 * verify with crypto's `verifyReceipt`. Appends are serialized: each `submit` yields to the
 * event loop once, then checks and appends without awaiting, as one transaction would.
 */
import { Checkpoint, CompactRange, boardOrigin, equalBytes, inclusionProof, leafHash, parseEntry, signCheckpoint, toHex } from '@blindvote/crypto';
import type { Ballot, NodeId, NoteSigner } from '@blindvote/crypto';
import type { BallotSink, OpenPoll, Recorded, SubmitOutcome } from '../ports.ts';

class MemoryLog {
  readonly entries: Uint8Array[] = [];
  readonly #origin: string;
  readonly #range = new CompactRange();
  readonly #nodes = new Map<string, Uint8Array>();
  readonly #spent = new Map<string, number>();

  constructor(open: OpenPoll) {
    this.#origin = boardOrigin(open.board);
    this.#append(open.poll.serialize());
  }

  #append(entry: Uint8Array): number {
    this.#range.append(leafHash(entry), (level, index, hash) => this.#nodes.set(`${level}/${index}`, hash));
    return this.entries.push(entry) - 1;
  }

  /** Receipt material of leaf `index` against a checkpoint of the log as it is now. */
  async receiptMaterial(index: number, signer: NoteSigner) {
    const size = this.entries.length;
    const read = async (ids: readonly NodeId[]) => ids.map((id) => this.#nodes.get(`${id.level}/${id.index}`)!);
    return {
      leafIndex: index,
      leafHash: leafHash(this.entries[index]!),
      checkpoint: signCheckpoint(new Checkpoint({ origin: this.#origin, size, root: this.#range.root() }), [signer]),
      inclusionProof: await inclusionProof(index, size, read),
    };
  }

  /** Synchronous from the spend check to the append: nothing can interleave. */
  /** Where exactly this ballot is in the log, or null. */
  indexOf(ballot: Ballot): number | null {
    const spentAt = this.#spent.get(toHex(ballot.tokenId()));
    return spentAt !== undefined && equalBytes(this.entries[spentAt]!, ballot.serialize()) ? spentAt : null;
  }

  spendAndAppend(ballot: Ballot): { status: 'appended' | 'duplicate' | 'spent'; index: number } {
    const key = toHex(ballot.tokenId());
    const bytes = ballot.serialize();
    const spentAt = this.#spent.get(key);
    if (spentAt !== undefined) return { status: equalBytes(this.entries[spentAt]!, bytes) ? 'duplicate' : 'spent', index: spentAt };
    const index = this.#append(bytes);
    this.#spent.set(key, index);
    return { status: 'appended', index };
  }
}

export class FakeSink implements BallotSink {
  readonly #signer: NoteSigner;
  readonly #logs = new Map<string, MemoryLog>();
  /** Every ballot handed over, accepted or not. */
  submitted = 0;
  /** When set, ballots are appended but answered `pending`, as a distributed sink past its wait. */
  pending = false;

  /** `signer` MUST be the key of the polls' `board_key`. */
  constructor(signer: NoteSigner, polls: readonly OpenPoll[]) {
    this.#signer = signer;
    for (const p of polls) this.#logs.set(p.poll.poll_id, new MemoryLog(p));
  }

  /** The entries of a poll's log, manifest first. */
  entries(pollId: string): readonly Uint8Array[] {
    return this.#log(pollId).entries;
  }

  async submit(ballot: Ballot): Promise<SubmitOutcome> {
    this.submitted++;
    const log = this.#log(ballot.poll_id);
    await new Promise((resolve) => setImmediate(resolve));
    const result = log.spendAndAppend(ballot);
    if (result.status === 'spent') return { status: 'spent', index: result.index };
    if (this.pending) return { status: 'pending', leafHash: leafHash(ballot.serialize()) };
    return { status: result.status, ...(await log.receiptMaterial(result.index, this.#signer)) };
  }

  async recorded(ballot: Ballot): Promise<Recorded | null> {
    const log = this.#log(ballot.poll_id);
    const index = log.indexOf(ballot);
    return index === null ? null : { status: 'duplicate' as const, ...(await log.receiptMaterial(index, this.#signer)) };
  }

  async byLeafHash(pollId: string, hash: Uint8Array): Promise<{ ballot: Ballot; recorded: Recorded } | null> {
    const log = this.#log(pollId);
    const index = log.entries.findIndex((entry) => equalBytes(leafHash(entry), hash));
    if (index < 1) return null;
    const entry = parseEntry(log.entries[index]!);
    if (entry.type !== 'ballot') return null;
    return { ballot: entry, recorded: { status: 'duplicate' as const, ...(await log.receiptMaterial(index, this.#signer)) } };
  }

  #log(pollId: string): MemoryLog {
    const log = this.#logs.get(pollId);
    if (log === undefined) throw new Error(`fake sink: no log for poll "${pollId}"`);
    return log;
  }
}
