/**
 * Bearer JWTs from an external identity provider (OIDC ID or access tokens), verified with jose
 * against the provider's JWKS or one configured public key, with the configured issuer and
 * audience. The account id is `idp:<idClaim value>` (`account-id.ts`).
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWK, JWTPayload } from 'jose';
import { idpAccountId } from './account-id.ts';

export interface IdpOptions {
  /** The provider's JWKS URL (keys fetched and cached by jose). Exactly one of this and `publicKey`. */
  readonly jwksUrl?: string;
  /** One public key: a JWK, or a PEM SPKI string. */
  readonly publicKey?: JWK | string;
  /** Required `iss`. */
  readonly issuer: string;
  /** Required `aud`. */
  readonly audience: string;
  /** The claim naming the user (default `sub`). */
  readonly idClaim?: string;
  /** A claim that, when `true`, makes the user an admin. */
  readonly adminClaim?: string;
}

export interface IdpIdentity {
  readonly account: string;
  readonly admin: boolean;
}

/** Thrown when a verified token carries no usable id claim. */
export class IdpClaimError extends Error {
  override name = 'IdpClaimError';
}

export type IdpVerifier = (token: string) => Promise<IdpIdentity>;

export function idpVerifier(options: IdpOptions, now: () => Date): IdpVerifier {
  if ((options.jwksUrl === undefined) === (options.publicKey === undefined)) {
    throw new TypeError('idp: give exactly one of jwksUrl and publicKey');
  }
  const idClaim = options.idClaim ?? 'sub';
  const claims = () => ({ issuer: options.issuer, audience: options.audience, currentDate: now(), requiredClaims: [idClaim] });
  let verify: (token: string) => Promise<JWTPayload>;
  if (options.jwksUrl !== undefined) {
    const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
    verify = async (token) => (await jwtVerify(token, jwks, claims())).payload;
  } else {
    const key: KeyObject = typeof options.publicKey === 'string'
      ? createPublicKey(options.publicKey)
      : createPublicKey({ key: options.publicKey as JWK & { kty: string }, format: 'jwk' });
    if (key.type !== 'public') throw new TypeError('idp.publicKey: expected a public key');
    verify = async (token) => (await jwtVerify(token, key, claims())).payload;
  }
  return async (token) => {
    const payload = await verify(token);
    const account = idpAccountId(payload[idClaim]);
    if (account === null) throw new IdpClaimError(`claim "${idClaim}" is not a usable id (1..255 printable ASCII characters, no space, '"' or ',')`);
    return { account, admin: options.adminClaim !== undefined && payload[options.adminClaim] === true };
  };
}
