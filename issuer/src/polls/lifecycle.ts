/**
 * Publishing and closing, the two steps that involve the board. Each is crash-safe by storing
 * what it will send before sending it, and finishing on a retry:
 *
 *   publish: validate → generate the token key → store key + manifest bytes (state stays
 *            draft) → board.publish(those bytes) → state published.
 *            A retry after a crash sends the same bytes (the board's publish is idempotent).
 *   close:   freeze (one transaction: no more issuance, count the issued tokens, record the
 *            time) → board.close(count, time) → state closed.
 *            A retry sends the recorded count and time (the board's close is idempotent).
 */
import { Poll, formatTime, timeMs } from '@blindvote/crypto';
import { exportTokenPrivateKey, generateTokenKey } from '@blindvote/crypto/issuer';
import type { FastifyBaseLogger } from 'fastify';
import { BoardFailed, PollNotFound, PollNotOpenYet, PollNotPublishable, PollNotPublished } from '../errors.ts';
import type { TokenKeys } from './token-keys.ts';
import type { BoardPublisher } from '../ports.ts';
import type { Frozen, IssuerStore, PollRecord } from '../store.ts';
import { manifestFor } from './draft.ts';

export interface LifecycleDeps {
  readonly store: IssuerStore;
  readonly board: BoardPublisher;
  readonly keys: TokenKeys;
  /** RSA modulus size of new poll token keys. */
  readonly tokenKeyBits: number;
  readonly now: () => Date;
  readonly log: FastifyBaseLogger;
}

export class PollLifecycle {
  readonly #d: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.#d = deps;
  }

  async #poll(pollId: string): Promise<PollRecord> {
    const poll = await this.#d.store.poll(pollId);
    if (poll === null) throw new PollNotFound(pollId);
    return poll;
  }

  /** Publishes (or finishes publishing) a draft; returns the manifest bytes. Idempotent. */
  async publish(pollId: string): Promise<Uint8Array> {
    const { store, board } = this.#d;
    let poll = await this.#poll(pollId);
    while (poll.state === 'draft' && poll.manifest === null) {
      const { roll, draft } = poll;
      if (roll === null || roll.size === 0) throw new PollNotPublishable(pollId, 'its roll is empty: PUT /v1/polls/{id}/roll first');
      if (timeMs(draft.closes_at) <= this.#d.now().getTime()) {
        throw new PollNotPublishable(pollId, `closes_at ${draft.closes_at} has passed: PATCH a later one`);
      }
      const key = await generateTokenKey(this.#d.tokenKeyBits);
      const manifest = manifestFor(pollId, draft, key.spki, board.verifierKey, roll).serialize();
      await store.beginPublish(pollId, poll.revision, { pkcs8: exportTokenPrivateKey(key.privateKey), spki: key.spki }, manifest);
      // Ours, or whatever a concurrent edit or publish left (then: check again, or finish theirs).
      poll = await this.#poll(pollId);
    }
    const manifest = poll.manifest!;
    if (poll.state === 'draft') {
      try {
        await board.publish(Poll.deserialize(manifest));
      } catch (error) {
        this.#d.log.error({ err: error, pollId }, 'issuer: the board refused or failed to publish a manifest');
        throw new BoardFailed('accept the manifest');
      }
      await store.markPublished(pollId);
    }
    return manifest;
  }

  /**
   * Closes (or finishes closing) a published poll; returns what the close entry says.
   * Idempotent. A poll that has not opened yet cannot close (the close entry's closed_at MUST
   * NOT precede opens_at: `Poll.checkClose`).
   */
  async close(pollId: string): Promise<Frozen> {
    const { store, board } = this.#d;
    const poll = await this.#poll(pollId);
    if (poll.state === 'draft') throw new PollNotPublished(pollId, poll.manifest === null ? 'a draft' : 'being published');
    if (poll.state === 'closed') return poll.frozen!;
    const now = this.#d.now();
    if (poll.frozen === null && now.getTime() < timeMs(poll.draft.opens_at)) throw new PollNotOpenYet(pollId, poll.draft.opens_at);
    const frozen = poll.frozen ?? (await store.freeze(pollId, formatTime(now))) ?? (await this.#poll(pollId)).frozen!;
    try {
      await board.close(pollId, frozen.issued, new Date(frozen.closedAt));
    } catch (error) {
      this.#d.log.error({ err: error, pollId }, 'issuer: the board refused or failed to close a poll');
      throw new BoardFailed('append the close entry');
    }
    await store.markClosed(pollId);
    this.#d.keys.forget(pollId);
    return frozen;
  }
}
