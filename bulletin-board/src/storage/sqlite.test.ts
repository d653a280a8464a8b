import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageContract } from '../storage-contract.ts';
import { SqliteLogStorage } from './sqlite.ts';

storageContract('sqlite', {
  open: async () => new SqliteLogStorage(join(mkdtempSync(join(tmpdir(), 'blindvote-board-')), 'board.db')),
  scale: Number(process.env.BLINDVOTE_SCALE ?? 1_000_000),
});
