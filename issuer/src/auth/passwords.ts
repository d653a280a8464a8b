/**
 * Password hashing: argon2id, m = 19456 KiB, t = 2, p = 1 (OWASP Password Storage Cheat Sheet,
 * the first of its equivalent argon2id settings), PHC strings, in libuv's thread pool.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

const ARGON2ID = 2 as Algorithm.Argon2id;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

let dummyHash: Promise<string> | null = null;

/**
 * True iff `password` matches `stored`. With `stored` null (no such account) it verifies against
 * a dummy hash and returns false: the same work either way, so response time does not tell
 * whether a username exists.
 */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  const target = stored ?? (await (dummyHash ??= hashPassword(randomBytes(16).toString('base64'))));
  const ok = await verify(target, password);
  return stored !== null && ok;
}
