/**
 * Proof of work for registration (hashcash-style), an option against bot herds: a client fetches
 * a challenge (GET /v1/accounts/challenge) and finds a `solution` such that
 * SHA-256(UTF-8(challenge ":" solution)) starts with at least `difficulty` zero bits; POST
 * /v1/accounts then carries `pow: {challenge, solution}`.
 *
 * Challenges are stateless: `v1.<difficulty>.<expires unix seconds>.<16 random bytes b64url>.<mac>`,
 * the mac being HMAC-SHA256 over everything before it under a 32-byte key kept in the store's meta
 * table (every issuer process on one store shares it). A challenge MUST be accepted for one
 * registration only within its lifetime: the spent ones are remembered in this process until they
 * expire (a deployment with several issuer processes needs a shared store for that set).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IssuerStore } from '../store.ts';

const KEY_NAME = 'registration-pow-hmac-sha256';
const CHALLENGE = /^v1\.(\d{1,2})\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

export interface PowOptions {
  /** Leading zero bits required of SHA-256(challenge ":" solution): 1..32. */
  readonly difficulty: number;
  /** How long a challenge stays valid (default 300 s). */
  readonly ttlSeconds?: number;
}

export interface Challenge {
  readonly challenge: string;
  readonly difficulty: number;
  readonly expiresAt: Date;
}

/** Leading zero bits of `bytes`. */
export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** SHA-256(UTF-8(challenge ":" solution)): what must start with `difficulty` zero bits. */
export function powDigest(challenge: string, solution: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`${challenge}:${solution}`, 'utf8').digest());
}

/** Finds a solution by counting (clients and tests); expected 2^difficulty hashes. */
export function solvePow(challenge: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    const solution = n.toString(36);
    if (leadingZeroBits(powDigest(challenge, solution)) >= difficulty) return solution;
  }
}

export class RegistrationPow {
  readonly difficulty: number;
  readonly #ttlSeconds: number;
  readonly #key: Uint8Array;
  readonly #now: () => Date;
  /** Spent challenges → expiry (ms). */
  readonly #spent = new Map<string, number>();

  private constructor(key: Uint8Array, options: PowOptions, now: () => Date) {
    this.#key = key;
    this.difficulty = options.difficulty;
    this.#ttlSeconds = options.ttlSeconds ?? 300;
    this.#now = now;
  }

  static async open(store: IssuerStore, options: PowOptions, now: () => Date): Promise<RegistrationPow> {
    const { difficulty, ttlSeconds = 300 } = options;
    if (!Number.isInteger(difficulty) || difficulty < 1 || difficulty > 32) throw new RangeError(`registrationPow.difficulty: expected an integer 1..32, got ${difficulty}`);
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`registrationPow.ttlSeconds: expected a positive integer, got ${ttlSeconds}`);
    return new RegistrationPow(await store.metaIfAbsent(KEY_NAME, randomBytes(32)), options, now);
  }

  challenge(): Challenge {
    const expires = Math.floor(this.#now().getTime() / 1000) + this.#ttlSeconds;
    const body = `v1.${this.difficulty}.${expires}.${randomBytes(16).toString('base64url')}`;
    return { challenge: `${body}.${this.#mac(body).toString('base64url')}`, difficulty: this.difficulty, expiresAt: new Date(expires * 1000) };
  }

  /**
   * Checks a solution and marks its challenge spent; returns what is wrong, or null. The caller
   * MUST call `release` if the registration then fails, so the challenge can serve a retry.
   */
  spend(challenge: string, solution: string): string | null {
    const match = CHALLENGE.exec(challenge);
    if (match === null) return 'challenge: not a challenge of this server (fetch one from GET /v1/accounts/challenge)';
    const mac = Buffer.from(match[4]!, 'base64url');
    const expected = this.#mac(challenge.slice(0, challenge.lastIndexOf('.')));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return 'challenge: not issued by this server (fetch one from GET /v1/accounts/challenge)';
    if (Number(match[1]) !== this.difficulty) return 'challenge: made for another difficulty: fetch a new one';
    const expires = Number(match[2]) * 1000;
    const now = this.#now().getTime();
    if (expires <= now) return 'challenge: expired: fetch a new one';
    this.#forgetExpired(now);
    if (this.#spent.has(challenge)) return 'challenge: already used: fetch a new one';
    if (leadingZeroBits(powDigest(challenge, solution)) < this.difficulty) return `solution: SHA-256(challenge ":" solution) has fewer than ${this.difficulty} leading zero bits`;
    this.#spent.set(challenge, expires);
    return null;
  }

  release(challenge: string): void {
    this.#spent.delete(challenge);
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#key).update(body, 'utf8').digest();
  }

  #forgetExpired(now: number): void {
    // Insertion order is expiry order (one lifetime for all): stop at the first live one.
    for (const [challenge, expires] of this.#spent) {
      if (expires > now) return;
      this.#spent.delete(challenge);
    }
  }
}
