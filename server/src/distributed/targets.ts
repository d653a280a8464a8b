/**
 * `blindvote serve --target <component>`: one component alone, on PostgreSQL, Redis and Kafka
 * (DESIGN.md "Two ways to run"; Loki-style targets). Each builder wires the component's ports
 * to the distributed adapters (`ports.ts`) and returns the process's app; `cli.ts` listens.
 *
 *   issuer          accounts, polls, rolls, issuance         → issuer DB; board commands
 *   ballot-box      anonymous intake (stateless, run many)   → board commands; board DB read
 *   board-reader    tlog-tiles and proof API (stateless)     → board DB read
 *   sequencer       the one writer (standbys wait on a lock) → board DB write; commands topic
 *   bulletin-board  board-reader + sequencer in one process
 *   tallier         live counts (Redis) and the final tally  → board DB read; entries topic
 *   gateway         the one public origin and the web client → the other targets over HTTP
 *
 * The issuer and the board never share a database (promise 5): the issuer target gets only
 * BLINDVOTE_ISSUER_DATABASE_URL, every board target only BLINDVOTE_BOARD_DATABASE_URL.
 */
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { ballotBox } from '@blindvote/ballot-box';
import { Board, boardRoutes, PostgresLogStorage } from '@blindvote/bulletin-board';
import { NoteSigner } from '@blindvote/crypto';
import { ensureAdmin, issuer, PostgresIssuerStore } from '@blindvote/issuer';
import { Tallier, tallierRoutes } from '@blindvote/tallier';
import { baseApp } from '../base-app.ts';
import type { Config, Target } from '../config.ts';
import { buildGateway } from '../gateway.ts';
import { writeAdminPassword } from '../keys.ts';
import { issuerSettings, pollDirectory } from '../wiring.ts';
import type { Bus } from './bus.ts';
import { BoardClient, names } from './commands.ts';
import { DEFAULT_SEND_TIMEOUT_MS, KafkaBus } from './kafka-bus.ts';
import { RedisLiveStore } from './live-redis.ts';
import { remoteBallotSink, remoteBoardFeed, remoteBoardPublisher } from './ports.ts';
import { SequencerService } from './sequencer.ts';

/** Past the ballot boxes' send deadline, which bounds every acknowledged ballot's produce. */
const CLOSE_GRACE_MS = DEFAULT_SEND_TIMEOUT_MS + 5_000;

export interface TargetService {
  readonly app: FastifyInstance;
  /** Set on the issuer's first start: where the admin's one-time password was written. */
  readonly adminPasswordFile: string | null;
  close(): Promise<void>;
}

/** Resources a target opened, closed in reverse order. */
class Resources {
  readonly #closers: (() => Promise<unknown>)[] = [];
  add<T>(resource: T, close: (r: T) => Promise<unknown>): T {
    this.#closers.push(() => close(resource));
    return resource;
  }
  async close(): Promise<void> {
    for (const close of this.#closers.reverse()) await close().catch(() => {});
  }
}

export async function buildTarget(config: Config): Promise<TargetService> {
  const d = config.distributed;
  if (config.target === 'gateway') {
    const app = await buildGateway({ upstreams: { issuer: [...d.upstreams.issuer], ballotBox: [...d.upstreams.ballotBox], board: [...d.upstreams.board], tallier: [...d.upstreams.tallier] }, logLevel: config.logLevel });
    return { app, adminPasswordFile: null, close: () => app.close() };
  }

  const res = new Resources();
  try {
    return await build(config, res);
  } catch (err) {
    await res.close();
    throw err;
  }
}

async function build(config: Config, res: Resources): Promise<TargetService> {
  const d = config.distributed;
  const n = names(d.kafkaTopicPrefix, d.redisPrefix);
  const { app, metrics, ready } = await baseApp(config, `blindvote ${config.target}`);
  let adminPasswordFile: string | null = null;

  // Shared infrastructure, opened only by the targets that use it.
  let bus: Bus | undefined;
  const kafka = (): Bus => (bus ??= res.add(new KafkaBus({ brokers: [...d.kafkaBrokers], clientId: `blindvote-${config.target}` }), (b) => b.close()));
  const redis = (purpose: string): Redis => {
    // Bounded waits: a command fails after 5 s instead of hanging on a silent connection.
    const client = res.add(new Redis(d.redisUrl, { connectionName: `blindvote-${config.target}-${purpose}`, maxRetriesPerRequest: 2, enableOfflineQueue: true, commandTimeout: 5000 }), async (r) => r.disconnect());
    client.on('error', () => undefined); // ioredis reconnects; failures surface in the calls that need it
    return client;
  };
  let client: BoardClient | null = null;
  const boardClient = async (): Promise<BoardClient> => {
    if (client === null) {
      const producer = res.add(await kafka().producer(), (p) => p.close());
      client = res.add(new BoardClient(producer, redis('replies'), n, (count) => metrics.observeBusRecords(n.commandsTopic, 'produced', count)), (c) => c.close());
    }
    return client;
  };
  let readerBoard: Board | null = null;
  const reader = async (): Promise<Board> => {
    if (readerBoard === null) {
      const storage = res.add(await PostgresLogStorage.open({ connectionString: d.boardDatabaseUrl, max: d.pgPoolSize }), (s) => s.close());
      readerBoard = new Board({ storage, baseUrl: config.publicUrl });
      ready('board database', async () => void (await storage.logs()));
    }
    return readerBoard;
  };
  const pingRedis = (client: Redis) => async () => void (await client.ping());

  const runs = (t: Target) => config.target === t || (config.target === 'bulletin-board' && (t === 'board-reader' || t === 'sequencer'));

  if (runs('issuer')) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const store = res.add(await PostgresIssuerStore.open(d.issuerDatabaseUrl, { poolSize: d.pgPoolSize }), (s) => s.close());
    const password = await ensureAdmin(store, config.adminUsername);
    if (password !== null) adminPasswordFile = writeAdminPassword(config.dataDir, config.adminUsername, password);
    const limits = redis('rate-limits');
    ready('redis', pingRedis(limits));
    await app.register(issuer, {
      store,
      board: remoteBoardPublisher(await boardClient(), d.boardKey, config.publicUrl),
      ...issuerSettings(config),
      rateLimitRedis: limits,
      // Closes go out after the ballot boxes' send deadline (KafkaBus, 10 s): a ballot admitted
      // before closes_at and acknowledged is on the commands topic before the close command.
      scheduler: { graceMs: CLOSE_GRACE_MS },
    });
  }

  if (runs('ballot-box')) {
    const board = await reader();
    const signer = new NoteSigner(d.acceptanceSignerKey);
    await app.register(ballotBox, {
      polls: pollDirectory(board),
      sink: remoteBallotSink(await boardClient(), board, d.receiptWaitMs),
      acceptance: { signer, maxMergeDelaySeconds: d.maxMergeDelaySeconds },
    });
    const acceptanceKey = signer.verifierKey;
    app.get('/v1/ballots/acceptance-key', { schema: { hide: true } }, async (_request, reply) => reply.type('text/plain; charset=utf-8').header('access-control-allow-origin', '*').send(`${acceptanceKey}\n`));
  }

  if (runs('board-reader')) {
    await app.register(boardRoutes, { board: await reader() });
  }

  if (runs('sequencer')) {
    const storage = res.add(await PostgresLogStorage.open({ connectionString: d.boardDatabaseUrl, max: d.pgPoolSize }), (s) => s.close());
    const writer = new Board({ storage, signer: new NoteSigner(d.boardSignerKey), baseUrl: config.publicUrl, sequencer: { onBatch: metrics.sequencerHook() } });
    const replies = redis('sequencer');
    const sequencer = new SequencerService({
      board: writer,
      boardDatabaseUrl: d.boardDatabaseUrl,
      bus: kafka(),
      redis: replies,
      names: n,
      partitions: d.kafkaPartitions,
      replicas: d.kafkaReplication,
      log: app.log,
      onLag: (records) => metrics.setSequencerLag(records),
      onApplied: (records) => metrics.observeBusRecords(n.commandsTopic, 'consumed', records),
    });
    // Registered last, so it stops first: the consumer leaves before storage closes.
    sequencer.start();
    res.add(sequencer, (s) => s.stop());
    app.get('/v1/sequencer', { schema: { hide: true } }, async () => ({ leader: sequencer.leader }));
    ready('redis', pingRedis(replies));
    ready('kafka topics', async () => {
      if (!sequencer.topicsReady) throw new Error('not created yet (is Kafka up?)');
    });
  }

  if (runs('tallier')) {
    const board = await reader();
    const live = res.add(new RedisLiveStore({ redis: redis('live'), subscriber: redis('live-sub'), prefix: d.redisPrefix }), (l) => l.close());
    const feed = remoteBoardFeed(await boardClient(), board, kafka(), n);
    const tallier = new Tallier({
      feed,
      live,
      onError: (pollId, error, kind) => app.log.error({ poll_id: pollId, kind, err: error }, 'tallier: poll not counted'),
    });
    await app.register(tallierRoutes, { live });
    await tallier.start();
    await feed.start();
    res.add(tallier, (t) => t.stop());
    res.add(feed, (f) => f.stop());
  }

  await app.ready();
  return {
    app,
    adminPasswordFile,
    // The listener closes first, so no request reaches a closed producer or pool (the gateway
    // sends it to another instance), then the resources in reverse order.
    async close() {
      await app.close();
      await res.close();
    },
  };
}
