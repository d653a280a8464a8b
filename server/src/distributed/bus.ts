/**
 * The event bus of the distributed mode (DESIGN.md "Two ways to run"): topics of keyed records,
 * partitioned by key, read by consumer groups. Two implementations pass one contract suite
 * (bus-contract.ts): MemoryBus (in-process, for tests and as the reference) and KafkaBus.
 *
 * Contracts every implementation keeps:
 * - `send` resolves only once every record is durable (Kafka: acks=all, idempotent producer)
 *   and rejects otherwise; records with one key keep their order.
 * - A consumer group sees each record at least once. The handler gets records of ONE partition
 *   in offset order; their offsets are committed only after the handler resolved, so a crash
 *   (or a handler that rejects) means redelivery from the last commit: handlers MUST be
 *   idempotent (the board's unique constraints make ballot appends so).
 * - Within a group each partition has one consumer at a time; separate groups each see all.
 */

export interface BusRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

export interface ConsumedRecord extends BusRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /**
   * Copies of each partition (Kafka: the replication factor; default the broker's). With more
   * than one, acks=all waits for min(2, replicas) in-sync copies (`min.insync.replicas`), so an
   * acknowledged record survives the loss of a broker's host, not only of its process.
   */
  readonly replicas?: number;
}

export interface BusProducer {
  send(topic: string, records: readonly BusRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  readonly group: string;
  readonly topics: readonly string[];
  /** Where a group without committed offsets starts: 'earliest' (default) or 'latest'. */
  readonly start?: 'earliest' | 'latest';
}

export type BatchHandler = (records: readonly ConsumedRecord[]) => Promise<void>;

export interface BusConsumer {
  /** Joins the group and delivers batches to `handler` until `close`. Resolves once joined. */
  run(handler: BatchHandler): Promise<void>;
  /** Leaves the group; a batch being handled finishes (and is committed) first. */
  close(): Promise<void>;
}

export interface Bus {
  /** Creates the topics that do not exist yet (idempotent). */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>;
  producer(): Promise<BusProducer>;
  consumer(options: ConsumerOptions): Promise<BusConsumer>;
  close(): Promise<void>;
}
