/**
 * KafkaBus: the event bus (bus.ts) on Apache Kafka through @platformatic/kafka (chosen over kafkajs;
 * the comparison is bench/kafka-clients.ts). How each contract of bus.ts is kept:
 * - durable send: an idempotent producer with acks=all; `send` resolves only on the broker's
 *   acknowledgement and rejects after `sendTimeoutMs` (default 10 s) when there is none, so a dead
 *   broker never hangs a caller. A producer client that failed is dropped and the next send starts a
 *   fresh one (new producer id), which is how sends work again once the broker is back. A rejected
 *   send may still have been written: senders retry, handlers are idempotent.
 * - key order: keyed records go to partition `partitionFor(key, n)` of memory-bus.ts (Kafka's
 *   murmur2, as the Java client and MemoryBus); one partition keeps its order.
 * - commit after handler: autocommit is off; each batch (records of ONE partition, offset order) is
 *   committed after its handler resolved. Commits run behind the handlers (one request at a time,
 *   the newest offset per partition); close() and a rejoin wait for them. A rejected batch is handed
 *   again (backoff 50 ms doubling to 5 s) until it resolves or the consumer closes; the next owner
 *   starts from the last commit.
 * - one consumer per partition per group: before (re)joining a group the consumer stops taking
 *   batches and lets the batch in flight finish and commit (bounded by the session timeout), and
 *   drops what it buffered of partitions it lost. The session timeout is short (6 s, heartbeat 1 s)
 *   so partitions of a killed consumer move on quickly.
 * - a consumer survives a broker outage: when its client fails (the stream errors, the group cannot
 *   be rejoined) it is dropped and a new one joins the group again (backoff 500 ms doubling to 2 s),
 *   resuming at the committed offsets.
 */
import {
  Admin,
  compatibilityPartitioner,
  Consumer,
  findErrorBy,
  Producer,
  ProduceAcks,
  type GroupAssignment,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type {
  BatchHandler,
  Bus,
  BusConsumer,
  BusProducer,
  BusRecord,
  ConsumedRecord,
  ConsumerOptions,
  TopicSpec,
} from './bus.ts';
import { Signal } from './signal.ts';

/** How long a send waits for Kafka's acknowledgement before it rejects (KafkaBusOptions.sendTimeoutMs). */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;

export interface KafkaBusOptions {
  /** host:port of one or more brokers. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** `send` rejects when the records are not acknowledged (acks=all) in this time. Default 10 s. */
  readonly sendTimeoutMs?: number;
  /** A consumer that stops heartbeating loses its partitions after this. Default 6 s (the broker's minimum is 6 s unless lowered). */
  readonly sessionTimeoutMs?: number;
  /** Default 1 s: how fast a member hears of a rebalance. MUST be well below the session timeout. */
  readonly heartbeatIntervalMs?: number;
  /** Most records in one handler call. Default 500. */
  readonly maxBatch?: number;
  /** Errors the bus recovers from by itself (a lost broker, a failed commit, a rejected handler). Default: printed to stderr. */
  readonly onError?: (error: Error) => void;
}

interface Settings {
  readonly brokers: string[];
  readonly clientId: string;
  readonly sendTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxBatch: number;
  readonly onError: (error: Error) => void;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 2_000;
/** Buffered records per consumer above which fetching pauses, and below which it resumes. */
const HIGH_WATER = 5_000;
const LOW_WATER = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Rejects with `message` after `ms` unless `promise` settled first. */
async function bounded<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Most records in one produce request of the group send. */
const MAX_SEND_RECORDS = 2000;

interface QueuedSend {
  readonly records: readonly BusRecord[];
  resolve(): void;
  reject(error: unknown): void;
}

class KafkaProducer implements BusProducer {
  readonly #settings: Settings;
  #client: Producer | null = null;
  #closed = false;
  readonly #queues = new Map<string, QueuedSend[]>();
  readonly #sending = new Set<string>();

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  /**
   * Group send: while one produce request of a topic is in flight, later sends queue up and go
   * out together as the next request (in call order, so records of one key keep their order).
   * Idle, a send goes out at once; under load one request carries many callers' records. Each
   * caller resolves when its request was acknowledged, and rejects with every caller of a failed one.
   */
  send(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('KafkaBus producer: send after close()'));
    if (records.length === 0) return Promise.resolve();
    // Each caller's deadline starts now, queued or not: no caller waits past sendTimeoutMs.
    const { sendTimeoutMs, brokers } = this.#settings;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`KafkaBus: ${records.length} record(s) to ${topic} not acknowledged by ${brokers.join(',')} in ${sendTimeoutMs} ms: is Kafka up? (they may still be written)`)), sendTimeoutMs);
      const settle = <T extends unknown[]>(f: (...args: T) => void) => (...args: T) => {
        clearTimeout(timer);
        f(...args);
      };
      let queue = this.#queues.get(topic);
      if (queue === undefined) this.#queues.set(topic, (queue = []));
      queue.push({ records, resolve: settle(resolve), reject: settle(reject) });
      if (!this.#sending.has(topic)) void this.#drain(topic);
    });
  }

  async #drain(topic: string): Promise<void> {
    this.#sending.add(topic);
    try {
      for (;;) {
        const queue = this.#queues.get(topic) ?? [];
        if (queue.length === 0) return;
        let count = 0;
        let take = 0;
        while (take < queue.length && (take === 0 || count + queue[take]!.records.length <= MAX_SEND_RECORDS)) count += queue[take++]!.records.length;
        const callers = queue.splice(0, take);
        try {
          await this.#produce(topic, callers.flatMap((c) => c.records));
          for (const c of callers) c.resolve();
        } catch (error) {
          for (const c of callers) c.reject(error);
        }
      }
    } finally {
      this.#sending.delete(topic);
    }
  }

  async #produce(topic: string, records: readonly BusRecord[]): Promise<void> {
    const { brokers, sendTimeoutMs } = this.#settings;
    const client = (this.#client ??= this.#create());
    const sending = client.send({
      messages: records.map((record) => ({
        topic,
        key: Buffer.from(record.key, 'utf8'),
        value: Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
      })),
    });
    sending.catch(() => {}); // Settled by the race below; a late rejection MUST NOT go unhandled.
    try {
      await bounded(sending, sendTimeoutMs, `KafkaBus: ${records.length} record(s) to ${topic} not acknowledged by ${brokers.join(',')} in ${sendTimeoutMs} ms: is Kafka up?`);
    } catch (error) {
      // An idempotent producer whose outcome is unknown cannot go on with its sequence numbers.
      if (this.#client === client) this.#client = null;
      client.close(true).catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    if (client !== null) await bounded(client.close(true), this.#settings.sendTimeoutMs, 'KafkaBus: producer close timed out').catch(() => {});
  }

  #create(): Producer {
    const { brokers, clientId, sendTimeoutMs } = this.#settings;
    return new Producer({
      clientId,
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      // Java-compatible murmur2, reduced modulo the partition count by the client: partitionFor().
      partitioner: compatibilityPartitioner,
      connectTimeout: Math.min(5_000, sendTimeoutMs),
      timeout: Math.min(5_000, sendTimeoutMs),
      // Retries stop near the send bound instead of forever (the idempotent default).
      retries: Math.max(2, Math.ceil(sendTimeoutMs / 500)),
      retryDelay: 500,
    });
  }
}

interface Buffered {
  readonly record: ConsumedRecord;
  readonly leaderEpoch: number;
}

/** One client's membership in the group; replaced as a whole when it fails. */
interface Session {
  readonly consumer: Consumer;
  stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null;
  paused: boolean;
}

class KafkaConsumer implements BusConsumer {
  readonly #settings: Settings;
  readonly #options: ConsumerOptions;
  #handler: BatchHandler | null = null;
  #session: Session | null = null;
  #closing = false;
  #loop: Promise<void> | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  /** A (re)start under way: close() waits for it, so no client outlives close(). */
  #starting: Promise<void> | null = null;
  #restartDelay = RESTART_MIN_MS;
  readonly #wake = new Signal();
  /** Set from the moment the group starts a (re)join until the join completed. */
  #rejoining = false;
  /** The batch being handled, if any. */
  #inflight: Promise<void> | null = null;
  /** Per partition: the offset to commit next (its batch's handler resolved). */
  #pending = new Map<string, { topic: string; partition: number; offset: bigint; leaderEpoch: number }>();
  /** The commit request in flight, if any: one at a time, so offsets of a partition only grow. */
  #flushing: Promise<void> | null = null;
  #flushRetry: NodeJS.Timeout | null = null;
  /** Partitions (`topic:partition`) the group assigned to this session. */
  #assigned = new Set<string>();
  /** Per partition: records fetched, not handled yet, in offset order. */
  #buffers = new Map<string, Buffered[]>();
  #buffered = 0;
  /** Per partition: the offset after the last buffered record (fetches repeated after a rejoin are dropped below it). */
  #next = new Map<string, bigint>();
  #retryAt = new Map<string, { at: number; delay: number }>();
  #cursor = 0;

  constructor(settings: Settings, options: ConsumerOptions) {
    this.#settings = settings;
    this.#options = options;
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.#handler !== null || this.#closing) throw new Error('KafkaBus consumer: run() once, before close()');
    this.#handler = handler;
    await this.#begin();
    this.#loop = this.#work(handler);
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#loop ?? undefined;
    this.#closing = true;
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#wake.notify();
    await this.#loop;
    await this.#starting?.catch(() => {});
    const session = this.#session;
    if (session !== null) {
      await bounded(this.#flush(session), this.#settings.sendTimeoutMs, 'commit timed out').catch((error: unknown) => {
        this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: last commit failed (the next consumer gets those records again): ${asError(error).message}`, { cause: error }));
      });
    }
    this.#session = null;
    this.#forget();
    if (session !== null) await this.#teardown(session);
  }

  #begin(): Promise<void> {
    const starting = this.#start();
    this.#starting = starting;
    const done = () => {
      if (this.#starting === starting) this.#starting = null;
    };
    starting.then(done, done);
    return starting;
  }

  async #start(): Promise<void> {
    const { brokers, clientId, sessionTimeoutMs, heartbeatIntervalMs } = this.#settings;
    const consumer = new Consumer({
      clientId,
      groupId: this.#options.group,
      bootstrapBrokers: brokers,
      autocommit: false,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: Math.max(sessionTimeoutMs, 15_000),
      maxWaitTime: 500,
      connectTimeout: 5_000,
      timeout: 5_000,
      retries: 3,
      retryDelay: 500,
      // Runs before every JoinGroup: the hook where a member gives up its partitions cleanly.
      protocolsMetadata: async () => {
        await this.#drain();
        return Buffer.alloc(0);
      },
    });
    const session: Session = { consumer, stream: null, paused: false };
    this.#session = session;
    this.#rejoining = false;
    // Registered before the stream exists, so it runs before the stream's own join listener.
    consumer.on('consumer:group:join', ({ assignments }) => this.#joined(session, assignments ?? []));
    consumer.on('error', (error: Error) => this.#fail(session, error));
    try {
      const stream = await consumer.consume({
        topics: [...this.#options.topics],
        mode: 'committed',
        fallbackMode: this.#options.start === 'latest' ? 'latest' : 'earliest',
        autocommit: false,
      });
      session.stream = stream;
      if (this.#session !== session) {
        await this.#teardown(session);
        return;
      }
      stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => this.#accept(session, message));
      stream.on('error', (error: Error) => this.#fail(session, error));
      stream.on('close', () => this.#fail(session, new Error('the message stream ended')));
      this.#restartDelay = RESTART_MIN_MS;
    } catch (error) {
      if (this.#session === session) this.#session = null;
      this.#forget();
      void this.#teardown(session);
      throw error;
    }
  }

  /** Before a JoinGroup: take no new batch; let the one in flight finish and commit. */
  async #drain(): Promise<void> {
    this.#rejoining = true;
    const session = this.#session;
    if (session === null) return;
    // The handler gets up to about the session timeout, past which the group goes on without this
    // member anyway. The commit gets 1 s: when the client rejoins because a commit met a stale
    // generation, that commit waits for this very join and cannot finish before it.
    if (this.#inflight !== null) await Promise.race([this.#inflight, sleep(this.#settings.sessionTimeoutMs - this.#settings.heartbeatIntervalMs)]);
    await Promise.race([this.#flush(session), sleep(1_000)]);
  }

  #joined(session: Session, assignments: GroupAssignment[]): void {
    if (this.#session !== session) return;
    const assigned = new Set<string>();
    for (const { topic, partitions } of assignments) for (const partition of partitions) assigned.add(`${topic}:${partition}`);
    for (const key of this.#assigned) {
      if (assigned.has(key)) continue;
      this.#buffered -= this.#buffers.get(key)?.length ?? 0;
      this.#buffers.delete(key);
      this.#next.delete(key);
      this.#retryAt.delete(key);
      this.#pending.delete(key);
      // Regained later without a commit, the partition then starts over from `start`, not from
      // where this member's fetches left it.
      session.stream?.offsetsToFetch.delete(key);
    }
    this.#assigned = assigned;
    this.#rejoining = false;
    this.#flow(session);
    this.#wake.notify();
  }

  #accept(session: Session, message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    const key = `${message.topic}:${message.partition}`;
    if (this.#session !== session || !this.#assigned.has(key)) return;
    const next = this.#next.get(key);
    if (next !== undefined && message.offset < next) return;
    this.#next.set(key, message.offset + 1n);
    let buffer = this.#buffers.get(key);
    if (buffer === undefined) this.#buffers.set(key, (buffer = []));
    buffer.push({
      record: {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        key: message.key?.toString('utf8') ?? '',
        value: message.value ?? new Uint8Array(0),
      },
      leaderEpoch: message.leaderEpoch ?? -1,
    });
    this.#buffered++;
    this.#flow(session);
    this.#wake.notify();
  }

  /** Pauses fetching above HIGH_WATER buffered records, resumes below LOW_WATER. */
  #flow(session: Session): void {
    const stream = session.stream;
    if (stream === null) return;
    if (!session.paused && this.#buffered >= HIGH_WATER) {
      session.paused = true;
      stream.pause();
    } else if (session.paused && this.#buffered <= LOW_WATER) {
      session.paused = false;
      stream.resume();
    }
  }

  #fail(session: Session, error: Error): void {
    // Before its stream exists a session's failure is #start's to report (it rejects).
    if (this.#session !== session || this.#closing || session.stream === null) return;
    this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: client failed, joining again: ${error.message}`, { cause: error }));
    this.#session = null;
    this.#forget();
    void this.#teardown(session);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    if (this.#closing) return;
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(RESTART_MAX_MS, delay * 2);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#closing) return;
      this.#begin().then(
        () => this.#wake.notify(),
        (error: unknown) => {
          this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: cannot join: ${asError(error).message}`, { cause: error }));
          this.#scheduleRestart();
        },
      );
    }, delay);
  }

  /** Drops everything fetched: the next session starts again from the committed offsets. */
  #forget(): void {
    this.#assigned = new Set();
    this.#buffers.clear();
    this.#buffered = 0;
    this.#next.clear();
    this.#retryAt.clear();
    this.#pending.clear();
    if (this.#flushRetry !== null) clearTimeout(this.#flushRetry);
    this.#flushRetry = null;
    this.#rejoining = false;
  }

  async #teardown(session: Session): Promise<void> {
    const stop = async () => {
      await session.stream?.close().catch(() => {});
      await session.consumer.close(true);
    };
    await bounded(stop(), this.#settings.sendTimeoutMs, 'close timed out').catch((error: unknown) => {
      if (!this.#closing) return;
      this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: leaving the group failed: ${asError(error).message}`, { cause: error }));
    });
  }

  async #work(handler: BatchHandler): Promise<void> {
    while (!this.#closing) {
      const session = this.#session;
      const key = session !== null && !this.#rejoining ? this.#nextReady() : null;
      if (session === null || key === null) {
        const soonest = Math.min(...[...this.#retryAt.values()].map((retry) => retry.at));
        await this.#wake.wait(Number.isFinite(soonest) ? Math.max(1, soonest - Date.now()) : undefined);
        continue;
      }
      const batch = this.#buffers.get(key)!.slice(0, this.#settings.maxBatch);
      this.#inflight = this.#handle(session, key, batch, handler);
      await this.#inflight;
      this.#inflight = null;
    }
  }

  async #handle(session: Session, key: string, batch: Buffered[], handler: BatchHandler): Promise<void> {
    try {
      await handler(batch.map((entry) => entry.record));
    } catch (error) {
      const delay = Math.min(RETRY_MAX_MS, (this.#retryAt.get(key)?.delay ?? RETRY_MIN_MS / 2) * 2);
      if (this.#session === session && this.#assigned.has(key)) this.#retryAt.set(key, { at: Date.now() + delay, delay });
      this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: handler rejected ${batch.length} record(s) of ${key}; again in ${delay} ms: ${asError(error).message}`, { cause: error }));
      return;
    }
    this.#retryAt.delete(key);
    const buffer = this.#buffers.get(key);
    if (this.#session === session && buffer !== undefined && buffer[0] === batch[0]) {
      buffer.splice(0, batch.length);
      this.#buffered -= batch.length;
      this.#flow(session);
    }
    const last = batch[batch.length - 1]!;
    if (this.#session !== session || !this.#assigned.has(key)) return;
    const offset = last.record.offset + 1n;
    const pending = this.#pending.get(key);
    if (pending === undefined || pending.offset < offset) {
      this.#pending.set(key, { topic: last.record.topic, partition: last.record.partition, offset, leaderEpoch: last.leaderEpoch });
    }
    // The next batch does not wait for this commit; close() and a rejoin do.
    void this.#flush(session);
  }

  /**
   * Commits every pending offset, one request at a time (so a partition's committed offset only
   * grows); resolves once none is pending or a commit failed (it is retried 1 s later). Never rejects.
   */
  #flush(session: Session): Promise<void> {
    if (this.#flushing !== null) return this.#flushing.then(() => this.#flush(session));
    if (this.#pending.size === 0 || this.#session !== session) return Promise.resolve();
    const offsets = [...this.#pending.values()];
    this.#pending.clear();
    const committed = session.consumer.commit({ offsets }).then(
      () => true,
      (error: unknown) => {
        if (this.#session !== session) return false;
        for (const entry of offsets) {
          const key = `${entry.topic}:${entry.partition}`;
          const newer = this.#pending.get(key);
          if (this.#assigned.has(key) && (newer === undefined || newer.offset < entry.offset)) this.#pending.set(key, entry);
        }
        this.#settings.onError(new Error(`KafkaBus consumer of group ${this.#options.group}: commit failed, again in 1 s: ${asError(error).message}`, { cause: error }));
        if (this.#flushRetry === null && !this.#closing) {
          this.#flushRetry = setTimeout(() => {
            this.#flushRetry = null;
            void this.#flush(session);
          }, 1_000);
        }
        return false;
      },
    );
    // Registered first, so it runs before the continuation below and before waiting callers.
    this.#flushing = committed.then(() => {
      this.#flushing = null;
    });
    return committed.then((ok) => (ok ? this.#flush(session) : undefined));
  }

  /** An assigned partition with buffered records and no pending retry delay, round-robin. */
  #nextReady(): string | null {
    const keys = [...this.#buffers.keys()];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(this.#cursor + i) % keys.length]!;
      const retry = this.#retryAt.get(key);
      if ((retry !== undefined && retry.at > now) || this.#buffers.get(key)!.length === 0) continue;
      this.#cursor = (this.#cursor + i + 1) % keys.length;
      return key;
    }
    return null;
  }
}

export class KafkaBus implements Bus {
  readonly #settings: Settings;
  readonly #producers = new Set<KafkaProducer>();
  readonly #consumers = new Set<KafkaConsumer>();

  constructor(options: KafkaBusOptions) {
    if (options.brokers.length === 0) throw new Error('KafkaBus: brokers is empty: give at least one host:port');
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 6_000;
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1_000;
    if (heartbeatIntervalMs * 3 > sessionTimeoutMs) {
      throw new Error(`KafkaBus: heartbeatIntervalMs (${heartbeatIntervalMs}) must be at most a third of sessionTimeoutMs (${sessionTimeoutMs})`);
    }
    this.#settings = {
      brokers: [...options.brokers],
      clientId: options.clientId,
      sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
      sessionTimeoutMs,
      heartbeatIntervalMs,
      maxBatch: options.maxBatch ?? 500,
      onError: options.onError ?? ((error) => process.stderr.write(`${error.message}\n`)),
    };
  }

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    const { brokers, clientId, sendTimeoutMs } = this.#settings;
    const admin = new Admin({ clientId, bootstrapBrokers: brokers, timeout: sendTimeoutMs });
    try {
      const existing = new Set(await admin.listTopics());
      for (const { name, partitions, replicas } of topics) {
        if (existing.has(name)) continue;
        try {
          // replicas -1: the broker's default.replication.factor.
          const configs = replicas !== undefined && replicas > 1 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
          await admin.createTopics({ topics: [name], partitions, replicas: replicas ?? -1, configs });
        } catch (error) {
          if (findErrorBy(asError(error), 'apiId', 'TOPIC_ALREADY_EXISTS') !== null) continue;
          // The client nests the broker's answer: aggregate errors, then causes.
          let root = asError(error);
          for (;;) {
            const inner = (root as { errors?: unknown[] }).errors?.[0] ?? root.cause;
            if (!(inner instanceof Error)) break;
            root = inner;
          }
          throw new Error(`KafkaBus: cannot create topic ${name} (${partitions} partitions, ${replicas ?? 'the broker default'} replicas): ${root.message}`, { cause: error });
        }
      }
      // Created topics take a moment to get leaders; a send before that would wait in retries.
      const names = topics.map((topic) => topic.name);
      const deadline = Date.now() + sendTimeoutMs;
      for (;;) {
        const metadata = await admin.metadata({ topics: names, forceUpdate: true });
        const ready = names.every((name) => {
          const topic = metadata.topics.get(name);
          return topic !== undefined && topic.partitions.every((partition) => partition.leader >= 0);
        });
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`KafkaBus: topics ${names.join(', ')} have no leader after ${sendTimeoutMs} ms`);
        await sleep(100);
      }
    } finally {
      await admin.close().catch(() => {});
    }
  }

  async producer(): Promise<BusProducer> {
    const producer = new KafkaProducer(this.#settings);
    this.#producers.add(producer);
    return producer;
  }

  async consumer(options: ConsumerOptions): Promise<BusConsumer> {
    if (options.topics.length === 0) throw new Error('KafkaBus: a consumer needs at least one topic');
    const consumer = new KafkaConsumer(this.#settings, options);
    this.#consumers.add(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((consumer) => consumer.close()));
    await Promise.all([...this.#producers].map((producer) => producer.close()));
    this.#consumers.clear();
    this.#producers.clear();
  }
}
