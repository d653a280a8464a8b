/**
 * What every blindvote process serves the same way, whichever components it runs: the request log
 * rule (method, route, status and time only — never an IP address, a header or a body: DESIGN.md
 * promise 5), one error handler that hides 5xx details, the OpenAPI document of the routes it
 * holds, `/healthz` (alive), `/readyz` (its dependencies answer) and `/metrics` (Prometheus).
 */
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Config } from './config.ts';
import { metricsPlugin } from './metrics.ts';
import type { Metrics } from './metrics.ts';

/** A dependency's readiness check: resolves when it answers, rejects with what is wrong. */
export type ReadyCheck = () => Promise<void>;

export interface BaseApp {
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  /** Adds a readiness check (`/readyz` answers 503 naming every one that fails). */
  ready(name: string, check: ReadyCheck): void;
}

export async function baseApp(config: Config, title: string): Promise<BaseApp> {
  const app = Fastify({
    logger: { level: config.logLevel, base: { target: config.target } },
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, route: request.routeOptions.url ?? '(no route)', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.send(error);
    request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
    return reply.status(status).send({ statusCode: status, code: 'BV_INTERNAL', error: 'Internal Server Error', message: 'internal error; the operator finds the details in the service log' });
  });
  const metrics = metricsPlugin();
  await app.register(metrics);
  await app.register(swagger, {
    openapi: {
      info: { title, version: '1', description: 'Anonymous, verifiable voting. Protocol and promises: DESIGN.md.' },
    },
  });

  const checks = new Map<string, ReadyCheck>();
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const failed: string[] = [];
    await Promise.all(
      [...checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
        } catch (err) {
          failed.push(`${name}: ${(err as Error).message}`);
        }
      }),
    );
    if (failed.length === 0) return { ok: true };
    return reply.status(503).send({ ok: false, failed: failed.sort() });
  });
  return { app, metrics, ready: (name, check) => void checks.set(name, check) };
}

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
