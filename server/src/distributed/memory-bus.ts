/**
 * MemoryBus: the in-process reference implementation of the event bus (bus.ts). It keeps the
 * contracts of bus.ts the way Kafka does, so the contract suite (bus-contract.ts) can hold
 * KafkaBus to the same behaviour:
 * - a record goes to partition `partitionFor(key, partitions)`, the same function KafkaBus uses,
 *   so one key lands on the same partition number under both buses;
 * - a group has committed offsets per partition; a partition is owned by one member at a time
 *   (round-robin over the members in join order, reassigned when one joins or leaves); a new
 *   owner starts at the committed offset (else at 'earliest'/'latest'), only after the previous
 *   owner's batch in flight finished;
 * - a batch is committed only after the handler resolved; a rejecting handler gets the same
 *   records again (backoff 50 ms doubling to 2 s) until it resolves or its consumer closes, and
 *   what was not committed then goes to the group's next owner of the partition.
 * Records are kept for the life of the bus (no retention).
 */
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

/** Most records one handler call gets. */
const MAX_BATCH = 500;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

const utf8 = new TextEncoder();

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), seed 0x9747b28c. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `key` among `partitions`: Kafka's default for keyed records (Java client, kafkajs). */
export function partitionFor(key: Uint8Array | string, partitions: number): number {
  const bytes = typeof key === 'string' ? utf8.encode(key) : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}

interface Topic {
  readonly partitions: ConsumedRecord[][];
}

class Group {
  /** `topic:partition` → next offset to deliver. */
  readonly committed = new Map<string, bigint>();
  /** `topic:partition` → the batch in flight there (whichever member runs it). */
  readonly busy = new Map<string, Promise<void>>();
  readonly members: MemoryConsumer[] = [];
  readonly bus: MemoryBus;

  constructor(bus: MemoryBus) {
    this.bus = bus;
  }

  /** Round-robin over the members in join order; each member's owned set is replaced. */
  rebalance(): void {
    const owned = this.members.map(() => new Set<string>());
    if (owned.length > 0) {
      const topics = [...new Set(this.members.flatMap((member) => member.topics))].sort();
      let next = 0;
      for (const name of topics) {
        const topic = this.bus.topic(name);
        if (topic === undefined) continue;
        for (let p = 0; p < topic.partitions.length; p++) {
          // Only members subscribed to the topic take its partitions.
          for (let tries = 0; tries < owned.length; tries++) {
            const at = next++ % owned.length;
            if (this.members[at]!.topics.includes(name)) {
              owned[at]!.add(`${name}:${p}`);
              break;
            }
          }
        }
      }
    }
    this.members.forEach((member, i) => member.assign(owned[i]!));
  }
}

class MemoryProducer implements BusProducer {
  readonly #bus: MemoryBus;
  #closed = false;

  constructor(bus: MemoryBus) {
    this.#bus = bus;
  }

  async send(topic: string, records: readonly BusRecord[]): Promise<void> {
    if (this.#closed) throw new Error('MemoryBus producer: send after close()');
    this.#bus.append(topic, records);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

class MemoryConsumer implements BusConsumer {
  readonly topics: readonly string[];
  readonly #bus: MemoryBus;
  readonly #options: ConsumerOptions;
  #group: Group | null = null;
  /** `topic:partition` → next offset this member delivers; present only for owned partitions. */
  #position = new Map<string, bigint>();
  /** `topic:partition` → no retry before this time (after a rejected batch). */
  #retryAt = new Map<string, { at: number; delay: number }>();
  #cursor = 0;
  #closing = false;
  #loop: Promise<void> | null = null;
  readonly #wake = new Signal();

  constructor(bus: MemoryBus, options: ConsumerOptions) {
    this.#bus = bus;
    this.#options = options;
    this.topics = [...options.topics];
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.#group !== null || this.#closing) throw new Error('MemoryBus consumer: run() once, before close()');
    for (const name of this.topics) {
      if (this.#bus.topic(name) === undefined) throw new Error(`MemoryBus: topic ${name} does not exist: call ensureTopics first`);
    }
    this.#group = this.#bus.group(this.#options.group);
    this.#group.members.push(this);
    this.#group.rebalance();
    this.#loop = this.#run(handler);
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#loop ?? undefined;
    this.#closing = true;
    this.#wake.notify();
    await this.#loop;
    const group = this.#group;
    if (group !== null) {
      group.members.splice(group.members.indexOf(this), 1);
      group.rebalance();
    }
  }

  /** Called by the group: the partitions this member owns from now on. */
  assign(owned: Set<string>): void {
    const group = this.#group!;
    for (const key of this.#position.keys()) {
      if (!owned.has(key)) {
        this.#position.delete(key);
        this.#retryAt.delete(key);
      }
    }
    for (const key of owned) {
      if (this.#position.has(key)) continue;
      const committed = group.committed.get(key);
      const [name, p] = splitKey(key);
      const end = BigInt(this.#bus.topic(name)!.partitions[p]!.length);
      this.#position.set(key, committed ?? (this.#options.start === 'latest' ? end : 0n));
    }
    this.#wake.notify();
  }

  /** Wakes the loop: records arrived. */
  poke(): void {
    this.#wake.notify();
  }

  async #run(handler: BatchHandler): Promise<void> {
    const group = this.#group!;
    while (!this.#closing) {
      const key = this.#nextReady();
      if (key === null) {
        const soonest = Math.min(...[...this.#retryAt.values()].map((r) => r.at));
        await this.#wake.wait(Number.isFinite(soonest) ? Math.max(0, soonest - Date.now()) : undefined);
        continue;
      }
      // The previous owner's batch of this partition finishes (and commits) first.
      const before = group.busy.get(key);
      if (before !== undefined) {
        await before;
        const committed = group.committed.get(key);
        const position = this.#position.get(key);
        if (committed !== undefined && position !== undefined && committed > position) this.#position.set(key, committed);
        continue;
      }
      const position = this.#position.get(key)!;
      const [name, p] = splitKey(key);
      const log = this.#bus.topic(name)!.partitions[p]!;
      const batch = log.slice(Number(position), Number(position) + MAX_BATCH);
      const attempt = (async () => {
        try {
          await handler(batch);
        } catch {
          const delay = Math.min(RETRY_MAX_MS, (this.#retryAt.get(key)?.delay ?? RETRY_MIN_MS / 2) * 2);
          if (this.#position.has(key)) this.#retryAt.set(key, { at: Date.now() + delay, delay });
          return;
        }
        const next = position + BigInt(batch.length);
        const committed = group.committed.get(key);
        if (committed === undefined || committed < next) group.committed.set(key, next);
        this.#retryAt.delete(key);
        if (this.#position.has(key)) this.#position.set(key, next);
      })();
      group.busy.set(key, attempt);
      await attempt;
      group.busy.delete(key);
    }
  }

  /** An owned partition with records past its position and no pending retry delay, round-robin. */
  #nextReady(): string | null {
    const keys = [...this.#position.keys()];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(this.#cursor + i) % keys.length]!;
      const retry = this.#retryAt.get(key);
      if (retry !== undefined && retry.at > now) continue;
      const [name, p] = splitKey(key);
      if (BigInt(this.#bus.topic(name)!.partitions[p]!.length) > this.#position.get(key)!) {
        this.#cursor = (this.#cursor + i + 1) % keys.length;
        return key;
      }
    }
    return null;
  }
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

export class MemoryBus implements Bus {
  readonly #topics = new Map<string, Topic>();
  readonly #groups = new Map<string, Group>();
  readonly #producers: MemoryProducer[] = [];
  readonly #consumers: MemoryConsumer[] = [];

  async ensureTopics(topics: readonly TopicSpec[]): Promise<void> {
    for (const spec of topics) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new Error(`MemoryBus: topic ${spec.name} needs a positive integer number of partitions, got ${spec.partitions}`);
      }
      if (!this.#topics.has(spec.name)) {
        this.#topics.set(spec.name, { partitions: Array.from({ length: spec.partitions }, () => []) });
      }
    }
  }

  async producer(): Promise<BusProducer> {
    const producer = new MemoryProducer(this);
    this.#producers.push(producer);
    return producer;
  }

  async consumer(options: ConsumerOptions): Promise<BusConsumer> {
    if (options.topics.length === 0) throw new Error('MemoryBus: a consumer needs at least one topic');
    const consumer = new MemoryConsumer(this, options);
    this.#consumers.push(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    await Promise.all(this.#consumers.map((consumer) => consumer.close()));
    await Promise.all(this.#producers.map((producer) => producer.close()));
  }

  topic(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  group(id: string): Group {
    let group = this.#groups.get(id);
    if (group === undefined) {
      group = new Group(this);
      this.#groups.set(id, group);
    }
    return group;
  }

  append(name: string, records: readonly BusRecord[]): void {
    const topic = this.#topics.get(name);
    if (topic === undefined) throw new Error(`MemoryBus: topic ${name} does not exist: call ensureTopics first`);
    for (const record of records) {
      const partition = partitionFor(record.key, topic.partitions.length);
      const log = topic.partitions[partition]!;
      log.push({
        topic: name,
        partition,
        offset: BigInt(log.length),
        key: record.key,
        value: Uint8Array.from(record.value),
      });
    }
    for (const group of this.#groups.values()) for (const member of group.members) member.poke();
  }
}
