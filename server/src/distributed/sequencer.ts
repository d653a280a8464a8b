/**
 * The sequencer process of the distributed mode: the one writer of every poll's log. It consumes
 * the commands topic, applies each command to the Board (PostgreSQL), and only after the board
 * committed a batch does it let the bus commit the offsets (DESIGN.md promise 3: a crash
 * re-delivers; the unique constraints make redelivery harmless). Replies go to each requester's
 * Redis channel; a record per touched poll goes to the entries topic for the talliers.
 *
 * Failover: any number of sequencer processes may run; each first takes a PostgreSQL advisory
 * lock (session level, on a connection of its own) and only the holder joins the consumer group,
 * so two writers can never append to one log. A killed holder's connection drops, PostgreSQL
 * releases the lock, a standby takes it, joins the group and resumes at the committed offsets.
 * A holder that loses its lock connection exits at once (crash-only: it cannot know whether
 * another writer took over).
 */
import pg from 'pg';
import type { Redis } from 'ioredis';
import { Ballot, parseEntry, Poll } from '@blindvote/crypto';
import { Board, BoardConflictError, EntryRejectedError, PollClosedError, UnknownPollError } from '@blindvote/bulletin-board';
import type { Bus, BusConsumer, BusProducer, ConsumedRecord } from './bus.ts';
import { decodeCommand, encodeReply } from './commands.ts';
import type { Command, Names, Reply } from './commands.ts';

/** The advisory lock key of the sequencer role (one writer for the whole board database). */
export const SEQUENCER_LOCK = 0x626c_6476; // "bldv"

export interface SequencerServiceOptions {
  readonly board: Board;
  readonly boardDatabaseUrl: string;
  readonly bus: Bus;
  readonly redis: Redis;
  readonly names: Names;
  readonly partitions: number;
  /** Replication factor of the topics this process creates. */
  readonly replicas: number;
  readonly log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Called with the records consumed and not yet committed (metrics). */
  readonly onLag?: (records: number) => void;
  /** Called with the number of records of each batch applied (metrics). */
  readonly onApplied?: (records: number) => void;
}

export class SequencerService {
  readonly #o: SequencerServiceOptions;
  #lock: pg.Client | null = null;
  #consumer: BusConsumer | null = null;
  #producer: BusProducer | null = null;
  #stopping = false;
  #leader = false;
  #topics = false;

  constructor(options: SequencerServiceOptions) {
    this.#o = options;
  }

  /** True once the topics exist (this process created them or found them): the process is ready, leader or standby. */
  get topicsReady(): boolean {
    return this.#topics;
  }

  /** True once this process holds the writer lock and consumes. */
  get leader(): boolean {
    return this.#leader;
  }

  /** Waits for the writer lock in the background; resolves at once. */
  start(): void {
    void this.#lead().catch((err: unknown) => {
      if (this.#stopping) return;
      this.#o.log.error({ err }, 'sequencer: lost the writer lock or failed to start; exiting so a standby takes over');
      process.exit(1);
    });
  }

  async #lead(): Promise<void> {
    const { bus, names, partitions } = this.#o;
    const { replicas } = this.#o;
    await bus.ensureTopics([{ name: names.commandsTopic, partitions, replicas }, { name: names.entriesTopic, partitions, replicas }]);
    this.#topics = true;
    // Keepalive probes from 10 s on: a silently partitioned holder notices and exits.
    const lock = new pg.Client({ connectionString: this.#o.boardDatabaseUrl, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    this.#lock = lock;
    lock.on('error', (err) => {
      if (this.#stopping) return;
      this.#o.log.error({ err }, 'sequencer: the writer lock connection failed; exiting so a standby takes over');
      process.exit(1);
    });
    await lock.connect();
    this.#o.log.info({}, 'sequencer: waiting for the writer lock');
    await lock.query('SELECT pg_advisory_lock($1)', [SEQUENCER_LOCK]);
    if (this.#stopping) return;
    this.#leader = true;
    this.#o.log.info({}, 'sequencer: holding the writer lock; consuming board commands');
    this.#producer = await bus.producer();
    this.#consumer = await bus.consumer({ group: names.sequencerGroup, topics: [names.commandsTopic] });
    await this.#consumer.run((records) => this.#handle(records));
  }

  async #handle(records: readonly ConsumedRecord[]): Promise<void> {
    this.#o.onLag?.(records.length);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#apply(records);
        this.#o.onLag?.(0);
        this.#o.onApplied?.(records.length);
        return;
      } catch (err) {
        // Nothing of a failed batch was acknowledged; the board's constraints make a retry safe.
        if (this.#stopping) throw err;
        this.#o.log.error({ err, attempt }, 'sequencer: batch failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  async #apply(records: readonly ConsumedRecord[]): Promise<void> {
    const { board, redis, names } = this.#o;
    const sizes = new Map<string, number>();
    const unlisten = board.onAppend((pollId, size) => sizes.set(pollId, Math.max(size, sizes.get(pollId) ?? 0)));
    const replies: { channel: string; reply: Reply }[] = [];
    try {
      // Ballots in a row go to the board together (one group commit); any other command waits
      // for the ballots before it and is applied before the ballots after it.
      let ballots: Promise<void>[] = [];
      const flush = async () => {
        const settled = await Promise.allSettled(ballots);
        ballots = [];
        const failed = settled.find((s) => s.status === 'rejected');
        if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      };
      for (const record of records) {
        let command: Command;
        try {
          command = decodeCommand(record.value);
        } catch (err) {
          this.#o.log.error({ err, partition: record.partition, offset: String(record.offset) }, 'sequencer: skipping a record that is not a board command');
          continue;
        }
        const answer = (reply: Reply) => replies.push({ channel: names.replyChannel(command.reply_to), reply });
        if (command.kind === 'ballot') {
          ballots.push(this.#ballot(command).then((reply) => void answer(reply)));
        } else {
          await flush();
          answer(await this.#other(command));
        }
      }
      await flush();
    } finally {
      unlisten();
    }
    if (replies.length > 0 && redis.status === 'ready') {
      // First (the voters wait for them; the talliers' notification can follow), and best effort:
      // the batch is committed, so a reply lost with Redis only turns the waiting ballot box's
      // answer into a 202 (durable all the same). It MUST NOT stall the sequencer: not awaited,
      // and not even tried while the connection is down.
      const pipeline = redis.pipeline();
      for (const { channel, reply } of replies) pipeline.publish(channel, encodeReply(reply));
      void pipeline.exec().catch((err: unknown) => this.#o.log.error({ err, replies: replies.length }, 'sequencer: replies not delivered (Redis); requesters answer 202'));
    }
    if (sizes.size > 0) {
      await this.#producer!.send(names.entriesTopic, [...sizes].map(([pollId, size]) => ({ key: pollId, value: Buffer.from(JSON.stringify({ poll_id: pollId, size })) })));
    }
  }

  async #ballot(command: Command): Promise<Reply> {
    const { id } = command;
    try {
      const r = await this.#o.board.appendBallot(Ballot.deserialize(command.entry!));
      if (r.status === 'spent') return { id, status: 'spent', index: r.index };
      return { id, status: r.status, leaf_index: r.leafIndex, leaf_hash: r.leafHash, checkpoint: r.checkpoint, inclusion_proof: r.inclusionProof };
    } catch (err) {
      return refusal(id, err);
    }
  }

  async #other(command: Command): Promise<Reply> {
    const { board } = this.#o;
    const { id } = command;
    try {
      switch (command.kind) {
        case 'publish':
          await board.publish(Poll.deserialize(command.entry!));
          break;
        case 'close':
          await board.closePoll(command.poll_id, command.issued!, new Date(command.closed_at!));
          break;
        case 'tally':
          parseEntry(command.entry!);
          await board.appendTally(command.poll_id, command.entry!);
          break;
        case 'ballot':
          throw new Error('unreachable');
      }
      return { id, status: 'ok' };
    } catch (err) {
      return refusal(id, err);
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#consumer?.close();
    await this.#producer?.close();
    await this.#o.board.shutdown();
    await this.#lock?.end().catch(() => {});
    this.#leader = false;
  }
}

/** A refusal the requester can act on; anything else is a fault that fails the batch (retried). */
function refusal(id: string, err: unknown): Reply {
  if (err instanceof PollClosedError) return { id, status: 'closed' };
  if (err instanceof UnknownPollError) return { id, status: 'refused', reason: 'unknown_poll', message: err.message };
  if (err instanceof BoardConflictError) return { id, status: 'refused', reason: 'conflict', message: err.message };
  if (err instanceof EntryRejectedError || (err instanceof Error && err.name === 'FormatError')) return { id, status: 'refused', reason: 'rejected', message: err.message };
  throw err;
}
