/**
 * Test support: RFC 9474 tokens made fast. A finalized blind signature IS an RSASSA-PSS
 * signature (SHA-384, MGF1-SHA-384, salt 48) over prefix || token message, so signing that
 * directly with the poll's private key gives a token the ballot box cannot tell from an issued
 * one, without blindrsa-ts's slow client blinding (~30/s). Never for production: it skips the
 * blinding that keeps the issuer from seeing the token.
 */
import { constants, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Token, concatBytes, tokenMessage } from '@blindvote/crypto';

export function signToken(privateKey: KeyObject, pollId: string): Token {
  const nonce = new Uint8Array(randomBytes(32));
  const prefix = new Uint8Array(randomBytes(32));
  const input = concatBytes(prefix, tokenMessage(pollId, nonce));
  const sig = sign('sha384', input, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
  return new Token({ nonce, prefix, sig: new Uint8Array(sig) });
}
