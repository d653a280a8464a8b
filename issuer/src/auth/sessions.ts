/**
 * Sessions of built-in accounts: short-lived JWTs (RFC 7519), HS256 under a 32-byte key kept in
 * the store's meta table (every issuer process on one store shares it). Claims: iss and aud
 * SESSION_ISSUER, sub the username, sv the account's session version (a password change bumps
 * it, which ends every older session), iat, exp.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { AccountRecord, IssuerStore } from '../store.ts';

export const SESSION_ISSUER = 'urn:blindvote:issuer';
const KEY_NAME = 'session-key-hs256';

export interface SessionClaims {
  readonly username: string;
  readonly sessionVersion: number;
}

export class Sessions {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #now: () => Date;

  private constructor(key: Uint8Array, ttlSeconds: number, now: () => Date) {
    this.#key = key;
    this.#ttlSeconds = ttlSeconds;
    this.#now = now;
  }

  static async open(store: IssuerStore, ttlSeconds: number, now: () => Date): Promise<Sessions> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`sessionTtlSeconds: expected a positive integer, got ${ttlSeconds}`);
    return new Sessions(await store.metaIfAbsent(KEY_NAME, randomBytes(32)), ttlSeconds, now);
  }

  async issue(account: AccountRecord): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(this.#now().getTime() / 1000);
    const expiresAt = new Date((iat + this.#ttlSeconds) * 1000);
    const token = await new SignJWT({ sv: account.sessionVersion })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(SESSION_ISSUER)
      .setAudience(SESSION_ISSUER)
      .setSubject(account.username)
      .setIssuedAt(iat)
      .setExpirationTime(expiresAt)
      .sign(this.#key);
    return { token, expiresAt };
  }

  /** Throws jose's errors (expired, bad signature, wrong claims). */
  async verify(token: string): Promise<SessionClaims> {
    const { payload } = await jwtVerify(token, this.#key, {
      algorithms: ['HS256'],
      issuer: SESSION_ISSUER,
      audience: SESSION_ISSUER,
      currentDate: this.#now(),
      requiredClaims: ['sub', 'exp', 'sv'],
    });
    if (typeof payload.sv !== 'number') throw new TypeError('session token: sv is not a number');
    return { username: payload.sub!, sessionVersion: payload.sv };
  }
}
