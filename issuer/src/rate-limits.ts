/**
 * Rate limits (@fastify/rate-limit), answered with 429 and Retry-After. Defaults let one machine,
 * or one NAT'd office, bring 200 voters through registration, sign-in and issuance within a
 * minute, and stop password guessing on one account.
 *
 * Store: in memory (one process), or Redis (`store.redis`: every issuer instance sharing that
 * Redis counts together, so N instances do not allow N times the limit).
 *
 * Fail closed: a limit that cannot be checked is not passed. When the store fails or does not
 * answer within `store.timeoutMs`, the request is refused with RateLimitStoreUnavailable (503 +
 * Retry-After) before its handler runs (registration, sign-in, issuance: nothing signed, stored or
 * changed); a failed sign-in whose failure cannot be counted is answered 503, not 401.
 */
import createError from '@fastify/error';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimited } from './errors.ts';

/**
 * The part of an ioredis client that @fastify/rate-limit's Redis store uses (it defines its Lua
 * scripts as commands). Declared here so the issuer does not depend on ioredis.
 */
export interface RateLimitRedis {
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): unknown;
}

export interface RateLimitStore {
  /** Shared counters in Redis (absent: in memory, this process only). */
  readonly redis?: RateLimitRedis;
  /** Longest wait for the store before a request is refused (default 2000 ms). */
  readonly timeoutMs?: number;
}

/** What a client is told to wait when the store is unavailable, in seconds. */
export const STORE_RETRY_SECONDS = 5;

export const RateLimitStoreUnavailable = createError<'BV_RATE_LIMIT_STORE_UNAVAILABLE', 503, [number]>(
  'BV_RATE_LIMIT_STORE_UNAVAILABLE',
  'the rate-limit store is unavailable, so this request was refused and nothing was done: retry in %d seconds',
  503,
);

export interface Limit {
  readonly max: number;
  readonly windowSeconds: number;
}

export interface RateLimitOptions {
  /** POST /v1/accounts, per client IP. */
  readonly registerPerIp?: Limit;
  /** POST /v1/sessions, per client IP. */
  readonly loginPerIp?: Limit;
  /** Failed sign-ins (and wrong current passwords) per username: the brute-force stop. */
  readonly loginFailuresPerAccount?: Limit;
  /** POST /v1/polls/:id/tokens, per client IP. */
  readonly tokensPerIp?: Limit;
  /** POST /v1/polls/:id/tokens, per account (retries included). */
  readonly tokensPerAccount?: Limit;
}

export const DEFAULT_RATE_LIMITS: Required<RateLimitOptions> = {
  registerPerIp: { max: 600, windowSeconds: 60 },
  loginPerIp: { max: 600, windowSeconds: 60 },
  loginFailuresPerAccount: { max: 10, windowSeconds: 15 * 60 },
  tokensPerIp: { max: 1200, windowSeconds: 60 },
  tokensPerAccount: { max: 30, windowSeconds: 60 },
};

/** Counts one request under `key`; throws RateLimited (with Retry-After set) when over the limit. */
export type Hit = (request: FastifyRequest, reply: FastifyReply, key: string) => Promise<void>;

export interface Limiters {
  readonly registerPerIp: Hit;
  readonly loginPerIp: Hit;
  readonly tokensPerIp: Hit;
  readonly tokensPerAccount: Hit;
  /** Throws RateLimited when the username already has too many failures; counts nothing. */
  readonly loginAllowed: Hit;
  /**
   * Counts one failure for the username; never throws RateLimited (the attempt already failed),
   * but throws RateLimitStoreUnavailable when the failure cannot be counted.
   */
  readonly loginFailed: Hit;
}

const NO_LIMIT: Hit = async () => {};

/** Client IPs as @fastify/rate-limit keys them (IPv6 by /64). */
export const ipKey = (request: FastifyRequest): string => normalizeIP(request.ip);

export async function rateLimiters(app: FastifyInstance, options: RateLimitOptions | false, store: RateLimitStore = {}): Promise<Limiters> {
  if (options === false) {
    return { registerPerIp: NO_LIMIT, loginPerIp: NO_LIMIT, tokensPerIp: NO_LIMIT, tokensPerAccount: NO_LIMIT, loginAllowed: NO_LIMIT, loginFailed: NO_LIMIT };
  }
  const limits = { ...DEFAULT_RATE_LIMITS, ...options };
  const timeoutMs = store.timeoutMs ?? 2000;
  if (!(timeoutMs > 0)) throw new RangeError(`rate-limit store timeoutMs: expected a positive number of milliseconds, got ${timeoutMs}`);
  // skipOnError false (the default): a store error rejects the check, and `checked` refuses.
  await app.register(rateLimit, { global: false, skipOnError: false, ...(store.redis === undefined ? {} : { redis: store.redis, nameSpace: 'blindvote:rate-limit:' }) });

  let down = false;
  /** The check's result, or RateLimitStoreUnavailable when the store failed or took too long. */
  const checked = async <T>(check: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const result = await Promise.race([check, timeout]);
      if (down) app.log.info('issuer: the rate-limit store answers again');
      down = false;
      return result;
    } catch (error) {
      // Logged once per outage: every request meanwhile is refused the same way.
      if (!down) app.log.error({ err: error }, 'issuer: the rate-limit store is unavailable; refusing rate-limited requests (503) until it answers');
      down = true;
      throw new RateLimitStoreUnavailable(STORE_RETRY_SECONDS);
    } finally {
      clearTimeout(timer);
    }
  };

  const limiter = (name: string, limit: Limit, what: string) => {
    const keys = new WeakMap<FastifyRequest, string>();
    const settings = {
      max: limit.max,
      timeWindow: limit.windowSeconds * 1000,
      // Namespaced: in a shared store (Redis) the limiters would otherwise count under one key.
      keyGenerator: (request: FastifyRequest) => keys.get(request)!,
      // LRU size of the in-memory store (untyped, but passed to it): small, and a flood of fresh
      // keys could evict the counters of an account under attack.
      cache: 100_000,
    };
    const check = app.createRateLimit(settings);
    return async (request: FastifyRequest, reply: FastifyReply, key: string, mode: 'count' | 'peek' | 'count-quietly'): Promise<void> => {
      keys.set(request, `blindvote-issuer:${name}:${key}`);
      const result = await checked(check(request, { increment: mode !== 'peek' }));
      if (result.isAllowed || mode === 'count-quietly') return;
      if (mode === 'peek' ? result.remaining === 0 : result.isExceeded) {
        const seconds = Math.max(1, result.ttlInSeconds);
        reply.header('retry-after', seconds);
        throw new RateLimited(what, seconds);
      }
    };
  };
  const counting = (hit: ReturnType<typeof limiter>): Hit => (request, reply, key) => hit(request, reply, key, 'count');
  const failures = limiter('login-failures', limits.loginFailuresPerAccount, 'failed sign-ins for this account');
  return {
    registerPerIp: counting(limiter('register-ip', limits.registerPerIp, 'registrations from this address')),
    loginPerIp: counting(limiter('login-ip', limits.loginPerIp, 'sign-ins from this address')),
    tokensPerIp: counting(limiter('tokens-ip', limits.tokensPerIp, 'token requests from this address')),
    tokensPerAccount: counting(limiter('tokens-account', limits.tokensPerAccount, 'token requests for this account')),
    loginAllowed: (request, reply, key) => failures(request, reply, key, 'peek'),
    loginFailed: (request, reply, key) => failures(request, reply, key, 'count-quietly'),
  };
}
