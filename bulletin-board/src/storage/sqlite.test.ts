import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageContract } from '../storage-contract.ts';
import { SqliteLogStorage } from './sqlite.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

storageContract('sqlite', {
  open: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blindvote-board-'));
    dirs.push(dir);
    return new SqliteLogStorage(join(dir, 'board.db'));
  },
  scale: Number(process.env.BLINDVOTE_SCALE ?? 1_000_000),
});
