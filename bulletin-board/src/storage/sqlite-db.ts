/**
 * What the embedded storage's two sides share: loading `node:sqlite`, the schema and its
 * migrations, opening a connection (WAL, `synchronous=FULL`: a commit is on disk before any
 * caller is told, DESIGN.md promise 3) and row decoding.
 */
import { DatabaseSync } from 'node:sqlite';
import { leafHash } from '@blindvote/crypto';
import { chunkEntries } from '../storage.ts';
import type { LogHead } from '../storage.ts';


export type { DatabaseSync };

/** SQL, or a step that needs code; each runs in its own transaction. */
type Migration = string | ((db: DatabaseSync) => void);

const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE logs (
     poll_id TEXT PRIMARY KEY,
     origin TEXT NOT NULL,
     size INTEGER NOT NULL,
     compact BLOB NOT NULL,
     checkpoint TEXT NOT NULL
   ) STRICT;
   CREATE TABLE spent (
     poll_id TEXT NOT NULL,
     token_id BLOB NOT NULL,
     leaf_index INTEGER NOT NULL,
     PRIMARY KEY (poll_id, token_id)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE entry_chunks (
     poll_id TEXT NOT NULL,
     first_index INTEGER NOT NULL,
     count INTEGER NOT NULL,
     data BLOB NOT NULL,
     PRIMARY KEY (poll_id, first_index)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE tiles (
     poll_id TEXT NOT NULL,
     level INTEGER NOT NULL,
     idx INTEGER NOT NULL,
     hashes BLOB NOT NULL,
     PRIMARY KEY (poll_id, level, idx)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE checkpoints (
     poll_id TEXT NOT NULL,
     size INTEGER NOT NULL,
     note TEXT NOT NULL,
     PRIMARY KEY (poll_id, size)
   ) STRICT, WITHOUT ROWID;`,
  // 2: the leaf hash of each spent row, indexed (inclusion proofs by leaf hash). Rows written
  // before it get the hash of the entry at their index.
  (db) => {
    db.exec('ALTER TABLE spent ADD COLUMN leaf_hash BLOB; CREATE INDEX spent_backfill ON spent (poll_id, leaf_index);');
    const setHash = db.prepare('UPDATE spent SET leaf_hash = ? WHERE poll_id = ? AND leaf_index = ?');
    const chunks = db.prepare('SELECT poll_id, first_index, data FROM entry_chunks').iterate() as Iterable<Row>;
    for (const { poll_id: pollId, first_index: first, data } of chunks) {
      for (const [index, entry] of chunkEntries([[Number(first), data as Uint8Array]], () => true)) {
        setHash.run(leafHash(entry), pollId as string, index);
      }
    }
    db.exec('DROP INDEX spent_backfill; CREATE INDEX spent_leaf_hash ON spent (poll_id, leaf_hash);');
  },
];

export function open(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
  return db;
}

export function migrate(db: DatabaseSync): void {
  const { user_version: applied } = db.prepare('PRAGMA user_version').get() as { user_version: number };
  for (let v = applied; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const migration = MIGRATIONS[v]!;
      if (typeof migration === 'string') db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
}

export type Row = Record<string, unknown>;

export function headOf(row: Row): LogHead {
  const compact = row.compact as Uint8Array;
  const hashes: Uint8Array[] = [];
  for (let o = 0; o < compact.length; o += 32) hashes.push(compact.slice(o, o + 32));
  return {
    pollId: row.poll_id as string,
    origin: row.origin as string,
    size: Number(row.size),
    compact: hashes,
    checkpoint: row.checkpoint as string,
  };
}

export function joinHashes(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => out.set(h, i * 32));
  return out;
}

