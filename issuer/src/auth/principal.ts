/**
 * Who is calling: `Authorization: Bearer <jwt>` → a Principal, from a session of a built-in
 * account or from the identity provider. No header: anonymous (null). A header that does not
 * authenticate: 401, on every route (a client with an expired token learns it at once).
 */
import { decodeJwt, errors } from 'jose';
import { Unauthenticated } from '../errors.ts';
import type { IssuerStore } from '../store.ts';
import { IdpClaimError } from './idp.ts';
import type { IdpVerifier } from './idp.ts';
import { SESSION_ISSUER } from './sessions.ts';
import type { Sessions } from './sessions.ts';

export interface Principal {
  /** Account id: a username, or `idp:<id>`. */
  readonly account: string;
  readonly admin: boolean;
  readonly via: 'password' | 'idp';
}

export interface AuthenticatorDeps {
  readonly store: IssuerStore;
  readonly sessions: Sessions;
  readonly idp: IdpVerifier | null;
  /** Account ids that are admins whatever their account or token says. */
  readonly admins: ReadonlySet<string>;
}

const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+) *$/i;

export class Authenticator {
  readonly #deps: AuthenticatorDeps;

  constructor(deps: AuthenticatorDeps) {
    this.#deps = deps;
  }

  async authenticate(authorization: string | undefined): Promise<Principal | null> {
    if (authorization === undefined) return null;
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined) throw new Unauthenticated('expected "Bearer <JWT>"');
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new Unauthenticated('the bearer token is not a JWT');
    }
    try {
      if (issuer === SESSION_ISSUER) return await this.#session(token);
      if (this.#deps.idp !== null) return await this.#fromIdp(this.#deps.idp, token);
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new Unauthenticated('the bearer token has expired: sign in again');
      if (error instanceof errors.JOSEError || error instanceof IdpClaimError) throw new Unauthenticated(`bearer token rejected: ${error.message}`);
      throw error;
    }
    throw new Unauthenticated('the bearer token comes from an issuer this server does not trust');
  }

  async #session(token: string): Promise<Principal> {
    const claims = await this.#deps.sessions.verify(token);
    const account = await this.#deps.store.account(claims.username);
    if (account === null) throw new Unauthenticated('the account of this session does not exist');
    if (account.sessionVersion !== claims.sessionVersion) throw new Unauthenticated('this session ended when the password changed: sign in again');
    return { account: account.username, admin: account.admin || this.#deps.admins.has(account.username), via: 'password' };
  }

  async #fromIdp(idp: IdpVerifier, token: string): Promise<Principal> {
    const identity = await idp(token);
    return { account: identity.account, admin: identity.admin || this.#deps.admins.has(identity.account), via: 'idp' };
  }
}
