/**
 * The issuer as a fastify plugin: `app.register(issuer, options)`. Encapsulated on purpose (not
 * wrapped in fastify-plugin): its hooks, parsers and rate limits apply to its routes only. The
 * composition root registers it and listens.
 *
 * Every request with an Authorization header is authenticated first (onRequest), so a bad token
 * is a 401 anywhere and per-account rate limits know the account. Nothing here logs request
 * bodies, headers, addresses or cookies.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { idpVerifier } from './auth/idp.ts';
import type { IdpOptions } from './auth/idp.ts';
import { RegistrationPow } from './auth/pow.ts';
import type { PowOptions } from './auth/pow.ts';
import { Authenticator } from './auth/principal.ts';
import type { Principal } from './auth/principal.ts';
import { SESSION_ISSUER, Sessions } from './auth/sessions.ts';
import type { IssuerContext } from './context.ts';
import { TokenKeys } from './polls/token-keys.ts';
import { SigningPool } from './signing/pool.ts';
import { PollLifecycle } from './polls/lifecycle.ts';
import { CloseScheduler } from './polls/scheduler.ts';
import type { BoardPublisher } from './ports.ts';
import { RateLimitStoreUnavailable, rateLimiters, STORE_RETRY_SECONDS } from './rate-limits.ts';
import type { RateLimitOptions, RateLimitRedis } from './rate-limits.ts';
import { accountRoutes } from './routes/accounts.ts';
import { pollRoutes } from './routes/polls.ts';
import { rollRoutes } from './routes/roll.ts';
import { tokenRoutes } from './routes/tokens.ts';
import type { IssuerStore } from './store.ts';

export interface IssuerOptions {
  readonly store: IssuerStore;
  readonly board: BoardPublisher;
  /** POST /v1/accounts open to anyone (default true). */
  readonly allowRegistration?: boolean;
  /** Require a proof of work to register (auth/pow.ts), or false (default). */
  readonly registrationPow?: PowOptions | false;
  /** Account ids (usernames or `idp:<id>`) that are admins; listed usernames cannot be registered. */
  readonly admins?: readonly string[];
  /** Accept bearer JWTs of an external identity provider (null or absent: none). */
  readonly idp?: IdpOptions | null;
  /** Lifetime of sign-in sessions (default 900 s). */
  readonly sessionTtlSeconds?: number;
  /** RSA modulus bits of new poll token keys (default 2048; 2048..8192, a multiple of 8). */
  readonly tokenKeyBits?: number;
  /** Most threads that run BlindSign off the event loop, started as signing needs them (default 0: one per core). */
  readonly signingThreads?: number;
  /** Per-limit overrides of DEFAULT_RATE_LIMITS (true or absent: the defaults), or false for none (load tests). */
  readonly rateLimit?: RateLimitOptions | boolean;
  /**
   * An ioredis client (or anything with its `defineCommand`): the rate-limit counters live in
   * that Redis, shared by every issuer instance using it (absent: in memory, per process). When
   * it fails or is slower than `rateLimitTimeoutMs`, rate-limited requests are refused with 503.
   */
  readonly rateLimitRedis?: RateLimitRedis;
  /** Longest wait for the rate-limit store (default 2000 ms). */
  readonly rateLimitTimeoutMs?: number;
  /** The close scheduler (default: every 1000 ms), or false to run none in this process. */
  readonly scheduler?: { readonly intervalMs?: number; readonly graceMs?: number } | false;
  /** The clock (tests). */
  readonly now?: () => Date;
}

export async function issuer(app: FastifyInstance, options: IssuerOptions): Promise<void> {
  const { store, board } = options;
  const now = options.now ?? (() => new Date());
  if (options.idp?.issuer === SESSION_ISSUER) throw new TypeError(`idp.issuer: "${SESSION_ISSUER}" is the issuer of this server's own sessions`);
  const admins = new Set(options.admins ?? []);
  const sessions = await Sessions.open(store, options.sessionTtlSeconds ?? 900, now);
  const idp = options.idp == null ? null : idpVerifier(options.idp, now);
  const authenticator = new Authenticator({ store, sessions, idp, admins });
  const signing = new SigningPool({ threads: options.signingThreads ?? 0 });
  app.addHook('onClose', () => signing.close());
  const keys = new TokenKeys(store, signing);
  const lifecycle = new PollLifecycle({ store, board, keys, tokenKeyBits: options.tokenKeyBits ?? 2048, now, log: app.log });
  const principals = new WeakMap<FastifyRequest, Principal>();
  const rateLimit = options.rateLimit ?? true;
  const ctx: IssuerContext = {
    store,
    board,
    sessions,
    limits: await rateLimiters(app, rateLimit === true ? {} : rateLimit, {
      ...(options.rateLimitRedis === undefined ? {} : { redis: options.rateLimitRedis }),
      ...(options.rateLimitTimeoutMs === undefined ? {} : { timeoutMs: options.rateLimitTimeoutMs }),
    }),
    lifecycle,
    keys,
    now,
    allowRegistration: options.allowRegistration ?? true,
    registrationPow: options.registrationPow ? await RegistrationPow.open(store, options.registrationPow, now) : null,
    admins,
    principal: (request) => principals.get(request) ?? null,
  };

  // The one 5xx whose message is for the client (the composition root hides 5xx details): answered
  // here; every other error goes on to the parent's handler unchanged.
  app.setErrorHandler((error, _request, reply) => {
    if (!(error instanceof RateLimitStoreUnavailable)) throw error;
    return reply
      .code(503)
      .header('retry-after', String(STORE_RETRY_SECONDS))
      .send({ statusCode: 503, code: error.code, error: 'Service Unavailable', message: error.message });
  });

  app.addHook('onRequest', async (request) => {
    const principal = await authenticator.authenticate(request.headers.authorization);
    if (principal !== null) principals.set(request, principal);
  });
  // TypeBox validates, strictly: unknown body fields are refused, never silently dropped (ajv's
  // removeAdditional would drop them), and JSON bodies are not coerced ("3" is not 3).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Bodies are JSON, or CSV for rolls; nothing else.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  accountRoutes(api, ctx);
  pollRoutes(api, ctx);
  rollRoutes(api, ctx);
  tokenRoutes(api, ctx);

  if (options.scheduler !== false) {
    const scheduler = new CloseScheduler({
      store,
      lifecycle,
      now,
      intervalMs: options.scheduler?.intervalMs ?? 1000,
      graceMs: options.scheduler?.graceMs ?? 0,
      onError: (pollId, error) => app.log.error({ err: error, pollId }, 'issuer: closing a poll failed; retrying next tick'),
    });
    app.addHook('onReady', async () => scheduler.start());
    app.addHook('onClose', () => scheduler.stop());
  }
}
