/**
 * Prometheus metrics of one blindvote process (all-in-one, or one component alone):
 * `GET /metrics` in the Prometheus text exposition format, from a prom-client `Registry` of the
 * process's own (never prom-client's global one), default process metrics prefixed `blindvote_`.
 *
 *   const metrics = metricsPlugin();
 *   const board = new Board({ …, sequencer: { onBatch: metrics.sequencerHook() } });
 *   await app.register(metrics);            // on the root instance, best before the components
 *
 * The handle is itself the fastify plugin. It skips encapsulation (`skip-override`, as
 * fastify-plugin does), so its `onResponse` hook runs for the routes of every plugin of the
 * instance (fastify 5 attaches hooks to routes at ready, so even plugins registered before it:
 * tested). It MUST be registered once per fastify instance, and never inside an encapsulated
 * plugin (its hook would see that plugin's routes only).
 *
 * Privacy contract (DESIGN.md promise 5): every label value comes from a fixed set, a route
 * pattern (`/v1/polls/:id/tokens`, never the URL), a status code, an HTTP method or a bus topic
 * name. A label MUST NOT carry an IP address, a header, a cookie, an account id, a poll id, a
 * token or a ballot; a request that matches no route is labelled `(no route)`, and
 * `SequencerOptions.onBatch`'s poll id is dropped. `/metrics` counts no scrape of itself and is
 * hidden from the OpenAPI document.
 */
import { BALLOTS_ROUTE } from '@blindvote/ballot-box';
import type { SequencerOptions } from '@blindvote/bulletin-board';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';

export const METRICS_PATH = '/metrics';
export const METRICS_PREFIX = 'blindvote_';
/** The issuer's blind issuance route (issuer/src/routes/tokens.ts), as fastify reports its pattern. */
export const TOKENS_ROUTE = '/v1/polls/:id/tokens';
/** The route label of a request that matched no route (a 404 of the router): never its URL. */
export const NO_ROUTE = '(no route)';

/**
 * `POST /v1/ballots` status → outcome label (ballot-box/src/plugin.ts, errors.ts, admit.ts).
 * 403 (token signature does not verify) is a reason of its own. Any other 4xx is `other`; 5xx `error`.
 */
export const BALLOT_OUTCOMES: Readonly<Record<number, string>> = {
  201: 'accepted',
  200: 'duplicate',
  202: 'pending',
  400: 'malformed',
  403: 'invalid_token',
  404: 'unknown_poll',
  409: 'spent',
  410: 'closed',
  413: 'too_large',
  415: 'unsupported_media',
  422: 'invalid_choice',
  425: 'too_early',
  429: 'overloaded',
};

export type BatchHook = NonNullable<SequencerOptions['onBatch']>;
export type BusDirection = 'produced' | 'consumed';

/** Kafka's legal topic names: the only strings the `topic` label accepts. */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export interface MetricsOptions {
  /** Collect prom-client's default process metrics (CPU, memory, event loop, GC) too (default true). */
  readonly defaultMetrics?: boolean;
}

export interface MetricsHandle {
  /** The registry `/metrics` serves: this process's only. */
  readonly registry: Registry;
  /** A `SequencerOptions.onBatch` feeding the sequencer batch histograms. */
  sequencerHook(): BatchHook;
  /** Distributed sequencer: records consumed from the bus and not yet committed (an integer ≥ 0). */
  setSequencerLag(records: number): void;
  /** Bus code: `count` records of `topic` produced (sent and acknowledged) or consumed (handled). */
  observeBusRecords(topic: string, direction: BusDirection, count?: number): void;
}

/** The fastify plugin and its handle in one: `app.register(metrics)`. */
export type Metrics = ((fastify: FastifyInstance) => Promise<void>) & MetricsHandle;

export function ballotOutcome(status: number): string {
  return BALLOT_OUTCOMES[status] ?? (status >= 500 ? 'error' : 'other');
}

export function metricsPlugin(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });

  const requestSeconds = new Histogram({
    name: `${METRICS_PREFIX}http_request_duration_seconds`,
    help: 'HTTP requests: time from arrival to the last byte of the reply, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const ballots = new Counter({
    name: `${METRICS_PREFIX}ballots_total`,
    help: `POST ${BALLOTS_ROUTE} answers by outcome: accepted (201), duplicate (200), pending (202), or the reason refused.`,
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of [...Object.values(BALLOT_OUTCOMES), 'other', 'error']) ballots.inc({ outcome }, 0);
  const tokensIssued = new Counter({
    name: `${METRICS_PREFIX}tokens_issued_total`,
    help: `POST ${TOKENS_ROUTE} answered 200: blind signatures handed out (retries of one voter included).`,
    registers: [registry],
  });
  const tokenRequests = new Counter({
    name: `${METRICS_PREFIX}token_requests_total`,
    help: `POST ${TOKENS_ROUTE} answers by status.`,
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: `${METRICS_PREFIX}sequencer_batch_size`,
    help: 'Entries per committed sequencer batch (one transaction).',
    buckets: exponentialBuckets(1, 2, 13), // 1 … 4096, the default maxBatch
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: `${METRICS_PREFIX}sequencer_commit_seconds`,
    help: 'Sequencer batches: time from taking the batch off the queue to its commit.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const appended = new Counter({
    name: `${METRICS_PREFIX}sequencer_appended_total`,
    help: 'Entries appended to the logs by committed batches (duplicates and double spends not counted).',
    registers: [registry],
  });
  const lag = new Gauge({
    name: `${METRICS_PREFIX}sequencer_lag_records`,
    help: 'Distributed sequencer: records consumed from the bus and not yet committed.',
    registers: [registry],
  });
  const busRecords = new Counter({
    name: `${METRICS_PREFIX}bus_records_total`,
    help: 'Event bus records by topic and direction (produced: acknowledged by the bus; consumed: handled).',
    labelNames: ['topic', 'direction'] as const,
    registers: [registry],
  });

  const onResponse = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url ?? NO_ROUTE;
    if (route === METRICS_PATH) return;
    const status = reply.statusCode;
    requestSeconds.observe({ method: request.method, route, status: String(status) }, reply.elapsedTime / 1000);
    if (request.method !== 'POST') return;
    if (route === BALLOTS_ROUTE) {
      ballots.inc({ outcome: ballotOutcome(status) });
    } else if (route === TOKENS_ROUTE) {
      tokenRequests.inc({ status: String(status) });
      if (status === 200) tokensIssued.inc();
    }
  };

  const plugin = async (fastify: FastifyInstance): Promise<void> => {
    fastify.addHook('onResponse', onResponse);
    fastify.get(METRICS_PATH, { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType).header('cache-control', 'no-store');
      return registry.metrics();
    });
  };

  const handle: MetricsHandle = {
    registry,
    sequencerHook: () => (info) => {
      batchSize.observe(info.entries);
      commitSeconds.observe(info.seconds);
      appended.inc(info.appended);
    },
    setSequencerLag(records) {
      if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`sequencer lag: must be an integer ≥ 0 (records), got ${records}`);
      lag.set(records);
    },
    observeBusRecords(topic, direction, count = 1) {
      if (!TOPIC_NAME.test(topic)) throw new RangeError(`bus topic: ${JSON.stringify(topic.slice(0, 60))} is not a topic name ([A-Za-z0-9._-]{1,249}); pass the topic, nothing else`);
      if (direction !== 'produced' && direction !== 'consumed') throw new RangeError(`bus direction: must be "produced" or "consumed", got ${JSON.stringify(direction)}`);
      if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`bus records: count must be an integer ≥ 0, got ${count}`);
      busRecords.inc({ topic, direction }, count);
    },
  };
  return Object.assign(plugin, handle, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'blindvote-metrics',
    [Symbol.for('plugin-meta')]: { name: 'blindvote-metrics', fastify: '5.x' },
  });
}
