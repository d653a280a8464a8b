/**
 * The poll token keys, imported once per poll and kept as KeyObjects, so issuance costs one
 * BlindSign and no key parsing; `sign` runs it on the SigningPool's threads. Private keys come
 * only from the store and never leave the process (the pool's threads are inside it).
 */
import type { KeyObject } from 'node:crypto';
import { importTokenPrivateKey } from '@blindvote/crypto/issuer';
import type { SigningPool } from '../signing/pool.ts';
import type { IssuerStore } from '../store.ts';

export class TokenKeys {
  readonly #store: IssuerStore;
  readonly #pool: SigningPool;
  readonly #keys = new Map<string, Promise<KeyObject>>();
  /** Polls closed in this process: their keys are never kept again. */
  readonly #forgotten = new Set<string>();

  constructor(store: IssuerStore, pool: SigningPool) {
    this.#store = store;
    this.#pool = pool;
  }

  /**
   * RFC 9474 BlindSign with the poll's key. Rejects with FormatError when `blindedMsg` is not
   * modulus-length bytes below n (nothing was signed), SigningFailureError on an RSAVP1 fault.
   */
  async sign(pollId: string, blindedMsg: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.#pool.sign(pollId, await this.get(pollId), blindedMsg);
    } finally {
      // Closed while this call signed (its issuance is refused): drop what it cached again.
      if (this.#forgotten.has(pollId)) this.forget(pollId);
    }
  }

  /** The poll's private token key; rejects when the poll has none (publishing never began). */
  get(pollId: string): Promise<KeyObject> {
    let key = this.#keys.get(pollId);
    if (key === undefined) {
      key = this.#import(pollId);
      this.#keys.set(pollId, key);
      key.catch(() => this.#keys.delete(pollId));
    }
    return key;
  }

  /** Drops a closed poll's key from memory, here and on the signing threads. */
  forget(pollId: string): void {
    this.#forgotten.add(pollId);
    this.#keys.delete(pollId);
    this.#pool.forget(pollId);
  }

  async #import(pollId: string): Promise<KeyObject> {
    const pkcs8 = await this.#store.tokenKey(pollId);
    if (pkcs8 === null) throw new Error(`poll "${pollId}" has no token key`);
    return importTokenPrivateKey(pkcs8);
  }
}
