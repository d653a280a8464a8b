/**
 * Registration proof of work (issuer/src/auth/pow.ts), when the server asks for it: find a
 * solution such that SHA-256(UTF-8(challenge ":" solution)) starts with `difficulty` zero bits.
 */
import { sha256, utf8 } from '@blindvote/crypto';
import { ApiError, call } from './api.ts';

function zeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const b of bytes) {
    if (b !== 0) return bits + Math.clz32(b) - 24;
    bits += 8;
  }
  return bits;
}

export function solvePow(challenge: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    const solution = n.toString(36);
    if (zeroBits(sha256(utf8(`${challenge}:${solution}`))) >= difficulty) return solution;
  }
}

/** POST /v1/accounts, solving the proof of work first if the server requires one. */
export async function register(username: string, password: string): Promise<void> {
  try {
    await call('POST', '/v1/accounts', { body: { username, password }, auth: false });
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'BV_POW_REQUIRED') throw err;
    const { challenge, difficulty } = await call<{ challenge: string; difficulty: number }>('GET', '/v1/accounts/challenge', { auth: false });
    await call('POST', '/v1/accounts', { body: { username, password, pow: { challenge, solution: solvePow(challenge, difficulty) } }, auth: false });
  }
}
