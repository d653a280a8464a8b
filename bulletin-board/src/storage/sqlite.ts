/**
 * Embedded log storage on `node:sqlite` (the all-in-one default; why this engine:
 * docs/decisions.md). One file, WAL, `synchronous=FULL`: a commit is on disk before any
 * caller is told (DESIGN.md promise 3).
 *
 * Two connections. The writer lives in a worker thread (`sqlite-worker.ts`) and runs the
 * transactions, one at a time (SQLite has one writer), so inserts and fsyncs never stall this
 * event loop. The reader, here, serves everything else from the last committed snapshot, so a
 * reader can never see a batch that might still roll back.
 */
import type { StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { chunkEntries, UnknownLogError } from '../storage.ts';
import type { Chunk, LogHead, LogStorage, LogTx } from '../storage.ts';
import { headOf, migrate, open } from './sqlite-db.ts';
import type { DatabaseSync, Row } from './sqlite-db.ts';
import type { SqliteWriter } from './sqlite-writer.ts';
import type { WriterCall } from './sqlite-worker.ts';

type Reply = { id: number; value?: unknown; error?: { name: string; message: string; pollId?: string } };

export class SqliteLogStorage implements LogStorage {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  #nextId = 0;
  #failed: Error | null = null;
  readonly #reader: DatabaseSync;
  readonly #readHead: StatementSync;
  readonly #readChunks: StatementSync;
  readonly #readTile: StatementSync;
  readonly #spentIndex: StatementSync;
  readonly #checkpointAt: StatementSync;
  readonly #leafIndex: StatementSync;
  readonly #logs: StatementSync;
  #queue: Promise<unknown> = Promise.resolve();

  /** Opens (creating and migrating as needed) the database file at `path`. */
  constructor(path: string) {
    const setup = open(path);
    try {
      migrate(setup);
    } finally {
      setup.close();
    }
    this.#reader = open(path);
    const r = this.#reader;
    this.#readHead = r.prepare('SELECT * FROM logs WHERE poll_id = ?');
    this.#readChunks = r.prepare(
      `SELECT first_index, data FROM entry_chunks
        WHERE poll_id = ?1 AND first_index < ?3
          AND first_index >= (SELECT coalesce(max(first_index), 0) FROM entry_chunks WHERE poll_id = ?1 AND first_index <= ?2)
        ORDER BY first_index`,
    );
    this.#readTile = r.prepare('SELECT hashes FROM tiles WHERE poll_id = ? AND level = ? AND idx = ?');
    this.#spentIndex = r.prepare('SELECT leaf_index FROM spent WHERE poll_id = ? AND token_id = ?');
    this.#checkpointAt = r.prepare('SELECT note FROM checkpoints WHERE poll_id = ? AND size = ?');
    this.#leafIndex = r.prepare('SELECT min(leaf_index) AS leaf_index FROM spent WHERE poll_id = ? AND leaf_hash = ?');
    this.#logs = r.prepare('SELECT poll_id FROM logs ORDER BY poll_id');

    this.#worker = new Worker(new URL('./sqlite-worker.ts', import.meta.url), { workerData: { path } });
    this.#worker.unref(); // referenced only while a call is pending
    this.#worker.on('message', ({ id, value, error }: Reply) => {
      const call = this.#pending.get(id)!;
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#worker.unref();
      if (error === undefined) return call.resolve(value);
      call.reject(error.name === 'UnknownLogError' ? new UnknownLogError(error.pollId!) : Object.assign(new Error(error.message), { name: error.name }));
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', () => this.#fail(new Error('storage: the SQLite writer thread exited')));
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const call of this.#pending.values()) call.reject(error);
    this.#pending.clear();
  }

  /** Calls the writer in its thread. */
  #call<M extends keyof SqliteWriter>(method: M, ...args: Parameters<SqliteWriter[M]>): Promise<ReturnType<SqliteWriter[M]>> {
    if (this.#failed !== null) return Promise.reject(this.#failed);
    const id = this.#nextId++;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ id, method, args } satisfies WriterCall);
    });
  }

  /** Serialises writer work: SQLite has one writer, and a transaction spans awaits. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  createLog(head: LogHead): Promise<boolean> {
    return this.#exclusive(() => this.#call('createLog', head));
  }

  async head(pollId: string): Promise<LogHead | null> {
    const row = this.#readHead.get(pollId) as Row | undefined;
    return row === undefined ? null : headOf(row);
  }

  /**
   * One transaction on the writer thread. Its round trips cross the event loop, which under load
   * is busy serving voters, so `begin` and `write` are posted without waiting for their answers:
   * the thread runs calls in order and refuses everything after a failure until the rollback
   * (sqlite-worker.ts), so their errors surface at the next awaited call or at `commit`. A batch
   * is then two round trips (spend with lock, write with commit) instead of four.
   */
  transact<T>(pollId: string, fn: (tx: LogTx) => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      this.#call('begin').catch(() => undefined);
      try {
        const result = await fn(this.#tx(pollId));
        await this.#call('commit');
        return result;
      } catch (error) {
        await this.#call('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  #tx(pollId: string): LogTx {
    return {
      spendThenLock: async (rows) => {
        const [lost, head] = await this.#call('spendThenLock', pollId, rows);
        return { lost: new Set(lost), head };
      },
      respend: (rows) => this.#call('respend', pollId, rows),
      spentIndexes: async (tokenIds) => new Map(await this.#call('spentIndexes', pollId, tokenIds)),
      entriesAt: async (indexes) => {
        const wanted = new Set(indexes);
        return chunkEntries(await this.#call('chunksAt', pollId, indexes), (i) => wanted.has(i));
      },
      write: async (chunks, tiles, next) => {
        this.#call('write', pollId, chunks, tiles, next).catch(() => undefined); // reported by commit
      },
    };
  }

  async readTile(pollId: string, level: number, index: number): Promise<Uint8Array | null> {
    const row = this.#readTile.get(pollId, level, index) as Row | undefined;
    return row === undefined ? null : (row.hashes as Uint8Array);
  }

  async readEntries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    const chunks = (this.#readChunks.all(pollId, from, to) as Row[]).map((r): Chunk => [Number(r.first_index), r.data as Uint8Array]);
    return [...chunkEntries(chunks, (i) => i >= from && i < to).values()];
  }

  async checkpointAt(pollId: string, size: number): Promise<string | null> {
    const row = this.#checkpointAt.get(pollId, size) as Row | undefined;
    return row === undefined ? null : (row.note as string);
  }

  async spentIndex(pollId: string, tokenId: Uint8Array): Promise<number | null> {
    const row = this.#spentIndex.get(pollId, tokenId) as Row | undefined;
    return row === undefined ? null : Number(row.leaf_index);
  }

  async leafIndex(pollId: string, leafHash: Uint8Array): Promise<number | null> {
    const row = this.#leafIndex.get(pollId, leafHash) as Row;
    return row.leaf_index === null ? null : Number(row.leaf_index);
  }

  async logs(): Promise<string[]> {
    return (this.#logs.all() as Row[]).map((row) => row.poll_id as string);
  }

  async close(): Promise<void> {
    await this.#queue;
    if (this.#failed === null) {
      await this.#call('close');
      this.#failed = new Error('storage: closed');
      await this.#worker.terminate();
    }
    this.#reader.close();
  }
}
