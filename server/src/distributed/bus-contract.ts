/**
 * The contract suite of the event bus (bus.ts): every implementation runs it (bus.test.ts), so
 * MemoryBus and KafkaBus keep the same promises. Call inside a `describe`; every test uses fresh
 * topic names and group ids, so a shared broker's old state never matters.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { Bus, BusRecord, ConsumedRecord, ConsumerOptions } from './bus.ts';

export interface BusHarness {
  /** A new bus; the suite closes it. */
  bus(): Promise<Bus> | Bus;
  /** Deletes the topics a run created (a shared broker keeps only what tests still need). */
  dropTopics?(names: readonly string[]): Promise<void>;
  /** How long a test waits for deliveries. Default 20 s. */
  readonly waitMs?: number;
}

const text = new TextEncoder();
const untext = new TextDecoder();

function records(keys: number, perKey: number, tag: string): BusRecord[] {
  const out: BusRecord[] = [];
  for (let i = 0; i < perKey; i++) {
    for (let k = 0; k < keys; k++) out.push({ key: `key-${k}`, value: text.encode(`${tag}:${k}:${i}`) });
  }
  return out;
}

const idOf = (record: ConsumedRecord) => `${record.topic}:${record.partition}:${record.offset}`;

/** Everything a consumer's handler was given, and a way to wait for it. */
class Collector {
  readonly batches: ConsumedRecord[][] = [];
  readonly seen = new Map<string, ConsumedRecord>();

  handle = async (batch: readonly ConsumedRecord[]): Promise<void> => {
    this.batches.push([...batch]);
    for (const record of batch) this.seen.set(idOf(record), record);
  };

  values(): string[] {
    return [...this.seen.values()].map((record) => untext.decode(record.value));
  }
}

async function until(what: string, ms: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function busContract(harness: BusHarness): void {
  const waitMs = harness.waitMs ?? 20_000;
  const run = randomUUID().slice(0, 8);
  const topics: string[] = [];
  let bus: Bus;
  let serial = 0;

  /** A new topic of `partitions` partitions, and a name for a new group. */
  const fresh = async (partitions: number) => {
    const name = `blindvote-contract-${run}-${++serial}`;
    topics.push(name);
    await bus.ensureTopics([{ name, partitions }]);
    return { topic: name, group: `${name}-group` };
  };
  const consume = async (options: ConsumerOptions, handler: (batch: readonly ConsumedRecord[]) => Promise<void>) => {
    const consumer = await bus.consumer(options);
    await consumer.run(handler);
    return consumer;
  };

  before(async () => {
    bus = await harness.bus();
  });
  after(async () => {
    await bus?.close();
    await harness.dropTopics?.(topics);
  });

  it('ensureTopics is idempotent', async () => {
    const { topic } = await fresh(3);
    await bus.ensureTopics([{ name: topic, partitions: 3 }]);
  });

  it('delivers every record once acknowledged, in batches of one partition in offset order, each key in order', async () => {
    const { topic, group } = await fresh(4);
    const producer = await bus.producer();
    const sent = records(12, 10, 'a');
    for (let i = 0; i < sent.length; i += 30) await producer.send(topic, sent.slice(i, i + 30));
    const seen = new Collector();
    const consumer = await consume({ group, topics: [topic] }, seen.handle);
    await until('every record', waitMs, () => seen.seen.size >= sent.length);
    await consumer.close();
    await producer.close();

    assert.deepEqual(new Set(seen.values()), new Set(sent.map((record) => untext.decode(record.value))));
    for (const batch of seen.batches) {
      assert.ok(batch.length > 0, 'no empty batch');
      assert.ok(batch.every((record) => record.topic === topic && record.partition === batch[0]!.partition), 'one partition per batch');
      for (let i = 1; i < batch.length; i++) assert.ok(batch[i]!.offset > batch[i - 1]!.offset, 'offset order');
    }
    const byKey = new Map<string, number[]>();
    for (const batch of seen.batches) {
      for (const record of batch) {
        const [, k, i] = untext.decode(record.value).split(':');
        const order = byKey.get(`key-${k}`) ?? [];
        order.push(Number(i));
        byKey.set(`key-${k}`, order);
        assert.equal(record.key, `key-${k}`);
      }
    }
    for (const [key, order] of byKey) {
      assert.deepEqual(order, [...order].sort((x, y) => x - y), `order of ${key}`);
    }
  });

  it('two groups each see every record', async () => {
    const { topic, group } = await fresh(3);
    const producer = await bus.producer();
    const sent = records(6, 5, 'b');
    await producer.send(topic, sent);
    const one = new Collector();
    const two = new Collector();
    const first = await consume({ group: `${group}-1`, topics: [topic] }, one.handle);
    const second = await consume({ group: `${group}-2`, topics: [topic] }, two.handle);
    await until('both groups', waitMs, () => one.seen.size >= sent.length && two.seen.size >= sent.length);
    await Promise.all([first.close(), second.close(), producer.close()]);
    assert.deepEqual(new Set(one.values()), new Set(two.values()));
    assert.equal(one.seen.size, sent.length);
  });

  it('commits only after the handler resolved: what a failing consumer had goes to the next consumer of its group', async () => {
    const { topic, group } = await fresh(2);
    const producer = await bus.producer();
    const sent = records(4, 5, 'c');
    await producer.send(topic, sent);
    let failures = 0;
    const failing = await consume({ group, topics: [topic] }, async () => {
      failures++;
      throw new Error('handler fails on purpose');
    });
    await until('the failing handler to be called', waitMs, () => failures >= 2);
    await failing.close();
    const failuresAtClose = failures;

    const seen = new Collector();
    const next = await consume({ group, topics: [topic] }, seen.handle);
    await until('redelivery to the next consumer', waitMs, () => seen.seen.size >= sent.length);
    await next.close();
    await producer.close();
    assert.equal(failures, failuresAtClose, 'a closed consumer gets no more batches');
    assert.deepEqual(new Set(seen.values()), new Set(sent.map((record) => untext.decode(record.value))));
  });

  it('a closed consumer committed what it handled: the next consumer of its group starts after it', async () => {
    const { topic, group } = await fresh(2);
    const producer = await bus.producer();
    const early = records(4, 5, 'd');
    await producer.send(topic, early);
    const first = new Collector();
    const one = await consume({ group, topics: [topic] }, first.handle);
    await until('the first consumer', waitMs, () => first.seen.size >= early.length);
    await one.close();

    const late = records(4, 3, 'e');
    await producer.send(topic, late);
    const second = new Collector();
    const two = await consume({ group, topics: [topic] }, second.handle);
    await until('the second consumer', waitMs, () => second.seen.size >= late.length);
    // Give a wrong redelivery of the early records the time to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await two.close();
    await producer.close();
    assert.deepEqual(new Set(second.values()), new Set(late.map((record) => untext.decode(record.value))));
  });

  it('a second consumer of a group shares the partitions, never one partition at once, and takes them all when the first closes', async () => {
    const { topic, group } = await fresh(4);
    const producer = await bus.producer();
    const busy = new Set<number>();
    const overlaps: number[] = [];
    let secondJoining = false;
    let firstBusy = false;
    const tracked = (seen: Collector, hold: boolean) => async (batch: readonly ConsumedRecord[]) => {
      const partition = batch[0]!.partition;
      if (busy.has(partition)) overlaps.push(partition);
      busy.add(partition);
      try {
        if (hold && !firstBusy) {
          // The first batch of the first consumer is still being handled while the second joins
          // and the group rebalances: its partition MUST NOT reach the second consumer meanwhile.
          firstBusy = true;
          await until('the second consumer to start joining', waitMs, () => secondJoining);
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
        await seen.handle(batch);
      } finally {
        busy.delete(partition);
      }
    };
    const a = new Collector();
    const b = new Collector();
    const first = await consume({ group, topics: [topic] }, tracked(a, true));
    const wave1 = records(16, 4, 'f');
    await producer.send(topic, wave1);
    await until('the first consumer to handle a batch', waitMs, () => firstBusy);
    const second = await bus.consumer({ group, topics: [topic] });
    secondJoining = true;
    await second.run(tracked(b, false));
    const wave2 = records(16, 4, 'g');
    await producer.send(topic, wave2);
    const total = () => new Set([...a.values(), ...b.values()]).size;
    await until('both waves', waitMs, () => total() >= wave1.length + wave2.length);
    assert.ok(b.seen.size > 0, 'the second consumer got partitions');

    await first.close();
    const before = b.seen.size;
    const wave3 = records(16, 2, 'h');
    await producer.send(topic, wave3);
    await until('the second consumer to take every partition', waitMs, () => {
      const values = new Set(b.values());
      return wave3.every((record) => values.has(untext.decode(record.value)));
    });
    await second.close();
    await producer.close();
    assert.ok(b.seen.size >= before + wave3.length);
    assert.deepEqual(overlaps, [], 'partitions handled by two consumers at once');
  });
}
