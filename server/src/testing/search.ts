/**
 * Test support for privacy checks: look for secrets in bytes (database dumps, files, log lines) in
 * every encoding they could be written in, and dump a SQLite database table by table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { toBase64, toHex, utf8 } from '@blindvote/crypto';

/** A value that must not appear, with a name for the failure message. */
export interface Secret {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * The forms a value may take where it is written: raw, hex (either case), standard base64 (with
 * and without padding), base64url; for values longer than 48 bytes also a fragment from the middle
 * of each, which survives truncation and page boundaries.
 */
export function encodings(bytes: Uint8Array): Buffer[] {
  const raw = Buffer.from(bytes);
  const hex = toHex(bytes);
  const b64 = toBase64(bytes);
  const forms = [raw, hex, hex.toUpperCase(), b64, b64.replace(/=+$/, ''), raw.toString('base64url')].map((f) => (typeof f === 'string' ? Buffer.from(f) : f));
  if (bytes.length > 48) forms.push(raw.subarray(16, 48), Buffer.from(b64.slice(24, 64)), Buffer.from(hex.slice(32, 96)));
  return forms;
}

/** Names of the secrets found in `haystack`, in any of their encodings. */
export function findSecrets(haystack: Buffer, secrets: readonly Secret[]): string[] {
  return secrets.filter((s) => encodings(s.bytes).some((form) => haystack.includes(form))).map((s) => s.name);
}

export const text = (name: string, value: string): Secret => ({ name, bytes: utf8(value) });

/** Every row of every table of the SQLite database at `file`, after a WAL checkpoint; blobs raw, the rest as text. */
export function dumpSqlite(file: string): { tables: string[]; dump: Buffer } {
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const parts: Buffer[] = [];
    for (const table of tables) {
      parts.push(Buffer.from(`\n== ${table}\n`));
      for (const row of db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
        for (const [column, value] of Object.entries(row)) {
          parts.push(Buffer.from(`${column}=`), value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(String(value)), Buffer.from('\t'));
        }
        parts.push(Buffer.from('\n'));
      }
    }
    return { tables, dump: Buffer.concat(parts) };
  } finally {
    db.close();
  }
}

/** The bytes of a SQLite database's files as they lie on disk: the database, its WAL and shared memory. */
export function sqliteFiles(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}
