/**
 * Secrets the all-in-one mode keeps in its data directory, created on first start with mode 0600:
 * the board's Ed25519 checkpoint signer key (C2SP signer key text). Losing it means new
 * checkpoints can no longer be made under the key every manifest names, so back it up with the data.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSignerKey, NoteSigner } from '@blindvote/crypto';

export function boardSigner(dataDir: string, publicUrl: string): NoteSigner {
  const file = join(dataDir, 'board-key');
  if (!existsSync(file)) {
    // The key name is the board's host: a human-readable label in every signature line.
    const { signerKey } = generateSignerKey(new URL(publicUrl).host);
    writeFileSync(file, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  return new NoteSigner(readFileSync(file, 'utf8').trim());
}

/** Writes the admin's one-time password where the operator can read it (mode 0600). */
export function writeAdminPassword(dataDir: string, username: string, password: string): string {
  const file = join(dataDir, 'admin-password');
  writeFileSync(file, `${username}\n${password}\n`, { mode: 0o600 });
  return file;
}

/** The admin's first password, if the data directory still holds it. */
export function readAdminPassword(dataDir: string): { username: string; password: string } | null {
  const file = join(dataDir, 'admin-password');
  if (!existsSync(file)) return null;
  const [username, password] = readFileSync(file, 'utf8').split('\n');
  return username && password ? { username, password } : null;
}
