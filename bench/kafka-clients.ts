/**
 * Which Kafka client should KafkaBus (server/src/distributed/kafka-bus.ts) use: kafkajs or
 * @platformatic/kafka? Run by hand against a real broker (scripts/kafka.sh start):
 *
 *   node bench/kafka-clients.ts [--runs 3] [--brokers 127.0.0.1:9092] [--records 100000]
 *
 * Per run and client (the clients alternate, so drift hits both), on a fresh 4-partition topic:
 * - produce: idempotent producer, acks=all; sequential sends of batches of 100 records (~100 B
 *   values, 16 keys), records/s;
 * - send latency: 200 sequential sends of one small record, median and p99 ms;
 * - consume: a new consumer group reads the topic from the earliest offset; the handler gets a
 *   batch of one partition and the offset is committed after it returned (manual commit):
 *   records/s from the first record to the last, and the time to join (run → first record).
 *   kafkajs: `eachBatch` + `commitOffsets`; @platformatic/kafka: KafkaBus's consumer (its stream
 *   batched per partition + `consumer.commit`), the path blindvote ships.
 * Prints median [min–max] over the runs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Admin, Producer, ProduceAcks } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { KafkaBus } from '../server/src/distributed/kafka-bus.ts';

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
};
const RUNS = Number(arg('runs', '3'));
const BROKERS = arg('brokers', process.env['BLINDVOTE_TEST_KAFKA'] ?? '127.0.0.1:9092').split(',');
const RECORDS = Number(arg('records', '100000'));
const BATCH = 100;
const LATENCY_SENDS = 200;
const PARTITIONS = 4;

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

interface Result {
  produce: number;
  sendP50: number;
  sendP99: number;
  consume: number;
  join: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

const payload = (i: number) => ({ key: `poll-${i % 16}`, value: randomBytes(100) });

async function until(what: string, done: () => boolean, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const admin = new Admin({ clientId: 'bench-kafka-clients', bootstrapBrokers: BROKERS });
const topics: string[] = [];
async function freshTopic(client: string): Promise<string> {
  const name = `bench-${client}-${randomUUID().slice(0, 8)}`;
  topics.push(name);
  await admin.createTopics({ topics: [name], partitions: PARTITIONS, replicas: -1 });
  for (;;) {
    const metadata = await admin.metadata({ topics: [name], forceUpdate: true });
    if (metadata.topics.get(name)?.partitions.every((p) => p.leader >= 0)) return name;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function benchKafkajs(): Promise<Result> {
  const topic = await freshTopic('kafkajs');
  const kafka = new kafkajs.Kafka({ clientId: 'bench-kafkajs', brokers: BROKERS, logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [payload(0)] }); // warm: metadata, producer id

  let started = performance.now();
  for (let i = 0; i < RECORDS; i += BATCH) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: BATCH }, (_, k) => payload(i + k)) });
  }
  const produce = RECORDS / ((performance.now() - started) / 1000);

  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SENDS; i++) {
    const t = performance.now();
    await producer.send({ topic, acks: -1, messages: [payload(i)] });
    latencies.push(performance.now() - t);
  }
  await producer.disconnect();

  const total = 1 + RECORDS + LATENCY_SENDS;
  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 6_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let first = 0;
  started = performance.now();
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (first === 0) first = performance.now();
      seen += batch.messages.length;
      const last = batch.lastOffset();
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    },
  });
  await until('kafkajs to consume everything', () => seen >= total);
  const consume = total / ((performance.now() - first) / 1000);
  const join = first - started;
  await consumer.disconnect();
  return { produce, sendP50: median(latencies), sendP99: percentile(latencies, 99), consume, join };
}

async function benchPlatformatic(): Promise<Result> {
  const topic = await freshTopic('platformatic');
  const producer = new Producer({ clientId: 'bench-platformatic', bootstrapBrokers: BROKERS, idempotent: true, acks: ProduceAcks.ALL });
  const toMessages = (records: { key: string; value: Buffer }[]) =>
    records.map((r) => ({ topic, key: Buffer.from(r.key), value: r.value }));
  await producer.send({ messages: toMessages([payload(0)]) });

  let started = performance.now();
  for (let i = 0; i < RECORDS; i += BATCH) {
    await producer.send({ messages: toMessages(Array.from({ length: BATCH }, (_, k) => payload(i + k))) });
  }
  const produce = RECORDS / ((performance.now() - started) / 1000);

  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SENDS; i++) {
    const t = performance.now();
    await producer.send({ messages: toMessages([payload(i)]) });
    latencies.push(performance.now() - t);
  }
  await producer.close();

  const total = 1 + RECORDS + LATENCY_SENDS;
  const bus = new KafkaBus({ brokers: BROKERS, clientId: 'bench-platformatic' });
  const consumer = await bus.consumer({ group: `${topic}-group`, topics: [topic] });
  let seen = 0;
  let first = 0;
  started = performance.now();
  await consumer.run(async (batch) => {
    if (first === 0) first = performance.now();
    seen += batch.length;
  });
  await until('@platformatic/kafka to consume everything', () => seen >= total);
  const consume = total / ((performance.now() - first) / 1000);
  const join = first - started;
  await bus.close();
  return { produce, sendP50: median(latencies), sendP99: percentile(latencies, 99), consume, join };
}

const results: Record<string, Result[]> = { kafkajs: [], '@platformatic/kafka': [] };
try {
  for (let run = 0; run < RUNS; run++) {
    const order: [string, () => Promise<Result>][] = [
      ['kafkajs', benchKafkajs],
      ['@platformatic/kafka', benchPlatformatic],
    ];
    if (run % 2 === 1) order.reverse();
    for (const [name, bench] of order) {
      const result = await bench();
      results[name]!.push(result);
      process.stderr.write(`run ${run + 1} ${name}: ${JSON.stringify(result, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}\n`);
    }
  }
} finally {
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {});
  await admin.close();
}

const cell = (xs: number[], digits: number) =>
  `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
console.log(`\nKafka clients against ${BROKERS.join(',')}, ${RUNS} runs, median [min–max]`);
console.log(`${RECORDS} records of ~100 B produced in sends of ${BATCH} (idempotent, acks=all); ${LATENCY_SENDS} single sends; consumed by a new group with a commit after each batch\n`);
const header = ['client', 'produce rec/s', 'send p50 ms', 'send p99 ms', 'consume rec/s', 'join ms'];
console.log(header.join(' | '));
for (const [name, rs] of Object.entries(results)) {
  console.log(
    [
      name,
      cell(rs.map((r) => r.produce), 0),
      cell(rs.map((r) => r.sendP50), 2),
      cell(rs.map((r) => r.sendP99), 2),
      cell(rs.map((r) => r.consume), 0),
      cell(rs.map((r) => r.join), 0),
    ].join(' | '),
  );
}
