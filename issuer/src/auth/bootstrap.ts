/** The first admin: created once, with a random password that the caller shows once. */
import { randomBytes } from 'node:crypto';
import type { IssuerStore } from '../store.ts';
import { isUsername } from './account-id.ts';
import { hashPassword } from './passwords.ts';

/**
 * Creates admin account `username` with a random password and returns the password (the
 * caller MUST show or save it: only its hash is stored). Returns null when the admin exists.
 * Throws when `username` exists but is not an admin: granting admin to an account someone
 * registered would be a privilege escalation.
 */
export async function ensureAdmin(store: IssuerStore, username: string): Promise<string | null> {
  if (!isUsername(username)) throw new RangeError(`admin username "${username}": expected [a-z0-9][a-z0-9._-]{2,63}`);
  const existing = await store.account(username);
  if (existing !== null) {
    if (existing.admin) return null;
    throw new Error(`account "${username}" exists and is not an admin: choose another admin username, or list it in the admins option`);
  }
  const password = randomBytes(18).toString('base64url');
  const created = await store.createAccount({ username, passwordHash: await hashPassword(password), admin: true, createdAt: new Date() });
  if (!created) return ensureAdmin(store, username);
  return password;
}
