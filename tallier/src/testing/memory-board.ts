/**
 * Test fixture: a BoardFeed over an in-memory board that keeps a real log per poll: entries, an
 * RFC 9162 compact range, and a C2SP checkpoint signed (Ed25519) after every batch, as the
 * bulletin board's sequencer does, so the tallier's checks run against real signatures and roots.
 * Hooks let a test misbehave like a broken board (tamper with an entry, serve another
 * checkpoint, fail reads, hold tallies back). For tests only.
 */
import { Checkpoint, CompactRange, Tally, equalBytes, leafHash, parseEntry, signCheckpoint } from '@blindvote/crypto';
import type { Entry, NoteSigner } from '@blindvote/crypto';
import type { BoardFeed } from '../ports.ts';
import { BOARD_SIGNER, HOST } from './election.ts';

interface Log {
  readonly entries: Uint8Array[];
  readonly range: CompactRange;
  checkpoint: string;
  closed: boolean;
}

export class MemoryBoard implements BoardFeed {
  readonly #signer: NoteSigner;
  readonly #logs = new Map<string, Log>();
  readonly #listeners = new Set<(pollId: string, size: number) => void>();
  /** Every appendTally call, in order. */
  readonly tallyCalls: { pollId: string; tally: Uint8Array }[] = [];
  /** Reads (`entries`) that fail before the next one succeeds. */
  failReads = 0;
  /** While true, appendTally records the call and appends nothing until `releaseTallies()`. */
  holdTallies = false;
  #held: { pollId: string; tally: Uint8Array }[] = [];

  constructor(signer: NoteSigner = BOARD_SIGNER) {
    this.#signer = signer;
  }

  /** Appends one batch (a log is created on first use), signs one checkpoint, notifies. */
  append(pollId: string, entries: readonly (Entry | Uint8Array)[]): number {
    let log = this.#logs.get(pollId);
    if (log === undefined) {
      log = { entries: [], range: new CompactRange(), checkpoint: '', closed: false };
      this.#logs.set(pollId, log);
    }
    for (const e of entries) {
      const bytes = e instanceof Uint8Array ? e : e.serialize();
      log.entries.push(bytes);
      log.range.append(leafHash(bytes));
      if (!(e instanceof Uint8Array) && e.type === 'close') log.closed = true;
    }
    log.checkpoint = signCheckpoint(new Checkpoint({ origin: `${HOST}/poll/${pollId}`, size: log.range.size, root: log.range.root() }), [this.#signer]);
    for (const listener of this.#listeners) listener(pollId, log.range.size);
    return log.range.size;
  }

  size(pollId: string): number {
    return this.#log(pollId).entries.length;
  }

  entriesOf(pollId: string): readonly Uint8Array[] {
    return this.#log(pollId).entries;
  }

  /** Replaces entry `index`'s bytes without signing anything: the log no longer matches its checkpoint. */
  tamper(pollId: string, index: number, bytes: Uint8Array): void {
    this.#log(pollId).entries[index] = bytes;
  }

  /** Serves `note` as the latest checkpoint from now on. */
  serveCheckpoint(pollId: string, note: string): void {
    this.#log(pollId).checkpoint = note;
  }

  /** Notifies the listeners of the log's current size, with nothing appended. */
  notify(pollId: string): void {
    for (const listener of this.#listeners) listener(pollId, this.size(pollId));
  }

  /** Appends the tallies held back, each as its own batch. */
  releaseTallies(): void {
    this.holdTallies = false;
    const held = this.#held.splice(0);
    for (const { pollId, tally } of held) this.#appendTally(pollId, tally);
  }

  // ---- BoardFeed ----

  async polls(): Promise<string[]> {
    return [...this.#logs.keys()];
  }

  async checkpoint(pollId: string): Promise<string | null> {
    return this.#logs.get(pollId)?.checkpoint ?? null;
  }

  async entries(pollId: string, from: number, to: number): Promise<Uint8Array[]> {
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('board unreachable (test)');
    }
    if (to - from > 4096 || from >= to) throw new RangeError(`entries [${from}, ${to}): at most 4096, at least 1`);
    return this.#log(pollId).entries.slice(from, to);
  }

  onAppend(listener: (pollId: string, size: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async appendTally(pollId: string, tally: Uint8Array): Promise<void> {
    this.tallyCalls.push({ pollId, tally });
    if (this.holdTallies) this.#held.push({ pollId, tally });
    else this.#appendTally(pollId, tally);
  }

  #appendTally(pollId: string, tally: Uint8Array): void {
    const log = this.#log(pollId);
    if (!log.closed) throw new Error(`poll ${pollId} is not closed`);
    Tally.deserialize(tally);
    const existing = log.entries.find((e) => {
      try {
        return parseEntry(e).type === 'tally';
      } catch {
        return false;
      }
    });
    if (existing !== undefined) {
      if (equalBytes(existing, tally)) return;
      throw new Error(`poll ${pollId} has another tally`);
    }
    this.append(pollId, [tally]);
  }

  #log(pollId: string): Log {
    const log = this.#logs.get(pollId);
    if (log === undefined) throw new Error(`no log for poll ${pollId}`);
    return log;
  }
}
