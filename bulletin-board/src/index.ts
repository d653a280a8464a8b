export { Sequencer, OverloadedError, EntryRejectedError } from './sequencer.ts';
export type { AppendResult, SequencerOptions } from './sequencer.ts';
export { LogReader } from './reader.ts';
export { UnknownLogError } from './storage.ts';
export type { LogHead, LogStorage, LogTx } from './storage.ts';
export { SqliteLogStorage } from './storage/sqlite.ts';
export { PostgresLogStorage } from './storage/postgres.ts';
export { exportLog } from './export.ts';
