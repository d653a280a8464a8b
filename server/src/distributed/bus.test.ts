/**
 * The event bus contract (bus-contract.ts) against MemoryBus and against KafkaBus on the real
 * broker at TEST_KAFKA (scripts/kafka.sh start; fails, never skips, without it), plus what only
 * Kafka can show: a producer whose broker was SIGKILLed rejects within its bound, and works again
 * once the broker is back (a broker of its own: testing/kafka.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Admin, murmur2 as kafkaMurmur2 } from '@platformatic/kafka';
import { startTestBroker, TEST_KAFKA, type TestBroker } from '../testing/kafka.ts';
import type { ConsumedRecord } from './bus.ts';
import { busContract } from './bus-contract.ts';
import { KafkaBus } from './kafka-bus.ts';
import { MemoryBus, murmur2, partitionFor } from './memory-bus.ts';

async function dropTopics(bootstrap: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = new Admin({ clientId: 'blindvote-bus-test', bootstrapBrokers: [bootstrap] });
  try {
    await admin.deleteTopics({ topics: [...names] });
  } finally {
    await admin.close();
  }
}

describe('partitionFor', () => {
  it("is Kafka's murmur2 partitioning (as the Java client and KafkaBus)", () => {
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(i % 23);
      assert.equal(murmur2(key), kafkaMurmur2(key) | 0);
    }
    // Known answers of org.apache.kafka.common.utils.Utils.murmur2.
    assert.equal(murmur2(new TextEncoder().encode('21')), -973932308);
    assert.equal(murmur2(new TextEncoder().encode('foobar')), -790332482);
    assert.equal(partitionFor('foobar', 7), (-790332482 & 0x7fffffff) % 7);
  });
});

describe('MemoryBus', () => {
  busContract({ bus: () => new MemoryBus(), waitMs: 5_000 });
});

describe('KafkaBus', () => {
  busContract({
    bus: () =>
      new KafkaBus({
        brokers: [TEST_KAFKA],
        clientId: 'blindvote-bus-test',
        onError: (error) => {
          if (!/fails on purpose/.test(error.message)) process.stderr.write(`${error.message}\n`);
        },
      }),
    dropTopics: (names) => dropTopics(TEST_KAFKA, names),
  });
});

describe('KafkaBus when its broker dies', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker?.stop();
  });

  it('send rejects within sendTimeoutMs while the broker is down; producer and consumer work again after restart; nothing acknowledged is lost', async () => {
    const sendTimeoutMs = 3_000;
    const errors: Error[] = [];
    // A short session: after the restart the group waits for the lost member's session to expire.
    const bus = new KafkaBus({
      brokers: [broker.bootstrap],
      clientId: 'blindvote-bus-chaos',
      sendTimeoutMs,
      sessionTimeoutMs: 3_000,
      heartbeatIntervalMs: 1_000,
      onError: (error) => errors.push(error),
    });
    const topic = `blindvote-chaos-${randomUUID().slice(0, 8)}`;
    const value = (text: string) => new TextEncoder().encode(text);
    const seen: string[] = [];
    const waitSeen = async (text: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (!seen.includes(text)) {
        if (Date.now() > deadline) throw new Error(`"${text}" not consumed in ${ms} ms; bus errors: ${errors.map((e) => e.message).join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      await bus.ensureTopics([{ name: topic, partitions: 2 }]);
      const producer = await bus.producer();
      const consumer = await bus.consumer({ group: `${topic}-group`, topics: [topic] });
      await consumer.run(async (batch: readonly ConsumedRecord[]) => {
        for (const record of batch) seen.push(new TextDecoder().decode(record.value));
      });
      await producer.send(topic, [{ key: 'poll-1', value: value('before') }]);
      await waitSeen('before', 10_000);

      await broker.kill();
      const started = Date.now();
      await assert.rejects(producer.send(topic, [{ key: 'poll-1', value: value('while down') }]), /not acknowledged/);
      const took = Date.now() - started;
      assert.ok(took < sendTimeoutMs + 1_000, `rejected after ${took} ms, bound ${sendTimeoutMs} ms`);

      await broker.restart();
      await producer.send(topic, [{ key: 'poll-1', value: value('after') }]);
      // The consumer lost its broker too: it joins the group again by itself.
      await waitSeen('after', 30_000);
      await consumer.close();
      await producer.close();
      assert.ok(errors.length > 0, 'the outage was reported through onError');
      const order = seen.filter((v) => v === 'before' || v === 'after');
      assert.equal(order.at(-1), 'after', 'one key keeps its order');
    } finally {
      await bus.close();
    }
  });
});

it('KafkaBus creates topics with the replication factor asked for: 2 copies on a one-broker cluster is refused', async () => {
  const bus = new KafkaBus({ brokers: [TEST_KAFKA], clientId: 'bus-test-replicas' });
  const name = `bus-test-replicas-${Date.now()}`;
  try {
    await assert.rejects(bus.ensureTopics([{ name, partitions: 1, replicas: 2 }]), /cannot create topic .* \(1 partitions, 2 replicas\): Replication factor is below 1 or larger than the number of available brokers/);
    await bus.ensureTopics([{ name, partitions: 1, replicas: 1 }]);
  } finally {
    await dropTopics(TEST_KAFKA, [name]).catch(() => {});
    await bus.close();
  }
});
