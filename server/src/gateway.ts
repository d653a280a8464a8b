/**
 * The gateway: the one public origin of the distributed mode (DESIGN.md "Two ways to run"). Voters,
 * admins and the end-to-end tests talk to one base URL, as with the all-in-one service; the gateway
 * routes each request by path to a pool of upstream processes and serves the web client itself.
 *
 *   /v1/accounts… /v1/sessions… /v1/me… /v1/polls…   issuer pool
 *   /v1/ballots…                                       ballot-box pool
 *   /poll/… /v1/board/…                                board pool
 *   /v1/results/… (JSON, WebSocket /ws, SSE /events)   tallier pool
 *   /healthz, /readyz                                  the gateway's own
 *   /openapi.json                                      every pool's document, merged
 *   everything else                                    the web client (web.ts)
 *
 * Contracts:
 * - Each request starts at the next upstream of its pool (round robin); upstreams that failed to
 *   connect within the last COOLDOWN_MS go last. A connect-phase failure (refused, unreachable,
 *   connect timeout: nothing was sent, so even a POST is safe to repeat) moves on to the next
 *   upstream; GET and HEAD also move on after a reset or a timeout. A request body is read from
 *   the client only once an upstream takes it, so a retry never repeats half a body, and a request
 *   whose body was read is never retried. When every upstream of the pool refused: 503 in the
 *   service's error shape, the message naming the pool.
 * - Privacy (DESIGN.md promise 5): the ballot-box pool receives only the headers in
 *   BALLOT_BOX_HEADERS — no cookie, no Authorization, no address or forwarding header. The issuer
 *   pool receives X-Forwarded-For set to the client's address, the TCP peer (the gateway trusts no
 *   proxy in front of it; the issuer rate-limits per address with trustProxy), replacing whatever
 *   forwarding headers the client sent. Board and tallier, public
 *   read-only, get no credentials and no address. No log line carries an IP address (client or
 *   upstream), a header or a body: requests are logged as method, route, status and time;
 *   upstream failures as pool, upstream index and error code; a client that leaves before its
 *   answer is no error (status 499 in its request line).
 * - Responses pass through as the upstream sent them (status, Cache-Control, Retry-After,
 *   Set-Cookie…) minus hop-by-hop headers; bodies stream both ways, so an SSE event reaches the
 *   client while the stream stays open. The gateway imposes no body limit: upstreams answer 413.
 * - WebSocket upgrades under /v1/results/ are tunnelled byte for byte to a tallier, after it
 *   accepted the upgrade (a refusal such as 404 reaches the client as the tallier sent it), with
 *   the same failover as a GET. @fastify/http-proxy's own WebSocket proxy accepts the client first
 *   and connects after, so it can neither fail over nor pass a 404 on: not used.
 * - close() ends open event streams and tunnels, so shutdown does not wait for clients to leave.
 */
import { request as httpRequest, STATUS_CODES } from 'node:http';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import proxy from '@fastify/http-proxy';
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { webClient } from './web.ts';

export interface GatewayUpstreams {
  readonly issuer: readonly string[];
  readonly ballotBox: readonly string[];
  readonly board: readonly string[];
  readonly tallier: readonly string[];
}

export interface GatewayOptions {
  /** Base URLs (origins: scheme, host, port) of each pool's processes, at least one per pool. */
  readonly upstreams: GatewayUpstreams;
  readonly logLevel?: string;
  /** Where log lines go (default stdout); tests read them here. */
  readonly logStream?: { write(line: string): void };
}

/** TCP connect to an upstream, per attempt. */
export const CONNECT_TIMEOUT_MS = 3_000;
/** From request sent to response headers (and to 101 for WebSocket), per attempt. */
export const HEADERS_TIMEOUT_MS = 30_000;
/** Silence allowed between two chunks of a response body, except the tallier's endless streams. */
export const BODY_TIMEOUT_MS = 30_000;
/** How long an upstream that failed to connect goes to the back of its pool's order. */
export const COOLDOWN_MS = 2_000;
/** /readyz: how long each upstream's /healthz may take. */
export const READY_TIMEOUT_MS = 1_000;

type PoolName = keyof GatewayUpstreams;

/** Pool labels in messages and logs. */
const LABELS: Record<PoolName, string> = { issuer: 'issuer', ballotBox: 'ballot-box', board: 'board', tallier: 'tallier' };

/** Path prefixes of each pool: a prefix matches itself and what lies under it ("/v1/polls", "/v1/polls/x"). */
const ROUTES: ReadonlyArray<readonly [string, PoolName]> = [
  ['/v1/accounts', 'issuer'],
  ['/v1/sessions', 'issuer'],
  ['/v1/me', 'issuer'],
  ['/v1/polls', 'issuer'],
  ['/v1/ballots', 'ballotBox'],
  ['/poll', 'board'],
  ['/v1/board', 'board'],
  ['/v1/results', 'tallier'],
];

/** The only request headers the ballot box receives (it reads none but Content-Type and Content-Length). */
const BALLOT_BOX_HEADERS = new Set(['host', 'content-type', 'content-length', 'accept']);

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded in either direction; and Expect, which the
 * gateway's own server answered (100-continue) and undici refuses to send.
 */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'];

/** Headers that carry a client's address or the path it came by (besides every x-forwarded-*). */
const ADDRESS_HEADERS = ['forwarded', 'via', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'client-ip'];

const CREDENTIAL_HEADERS = ['cookie', 'authorization'];

/** Error codes of a connection attempt that sent nothing: safe to repeat on another upstream, whatever the method. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** Failures after the request went out: GET and HEAD move on to the next upstream, other methods do not. */
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

type Failure = 'connect' | 'timeout' | 'reset' | 'other';

function errorCode(error: unknown): string {
  let e = error as { code?: unknown; cause?: unknown; errors?: unknown } | null;
  // reply-from wraps the transport error (cause); a dual-stack connect fails with an AggregateError.
  for (let depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    if (typeof e.code === 'string' && (CONNECT_FAILURES.has(e.code) || TIMEOUTS.has(e.code) || RESETS.has(e.code))) return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
    if (e.cause === undefined) break;
    e = e.cause as typeof e;
  }
  return typeof e?.code === 'string' ? e.code : 'UNKNOWN';
}

function failureOf(code: string): Failure {
  if (CONNECT_FAILURES.has(code)) return 'connect';
  if (TIMEOUTS.has(code)) return 'timeout';
  if (RESETS.has(code)) return 'reset';
  return 'other';
}

/** Whether a failed attempt may move on to the next upstream. */
function retryable(failure: Failure, method: string): boolean {
  return failure === 'connect' || ((failure === 'timeout' || failure === 'reset') && (method === 'GET' || method === 'HEAD'));
}

/** One pool of interchangeable upstreams: their round-robin order and which ones failed to connect lately. */
class Pool {
  readonly name: PoolName;
  readonly label: string;
  readonly upstreams: readonly URL[];
  readonly #downUntil: number[];
  #next = 0;

  constructor(name: PoolName, bases: readonly string[]) {
    this.name = name;
    this.label = LABELS[name];
    if (!Array.isArray(bases) || bases.length === 0) throw new Error(`gateway: the ${this.label} pool has no upstream; give at least one base URL (http://host:port)`);
    this.upstreams = bases.map((base) => parseUpstream(base, this.label));
    this.#downUntil = this.upstreams.map(() => 0);
  }

  /** The upstream indexes one request tries, in order. */
  order(): number[] {
    const n = this.upstreams.length;
    const start = this.#next;
    this.#next = (start + 1) % n;
    const now = Date.now();
    const up: number[] = [];
    const down: number[] = [];
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      (this.#downUntil[i]! > now ? down : up).push(i);
    }
    return up.concat(down);
  }

  connectFailed(index: number): void {
    this.#downUntil[index] = Date.now() + COOLDOWN_MS;
  }

  answered(index: number): void {
    this.#downUntil[index] = 0;
  }

  /** The request headers this pool receives (promise 5); `headers` is the client's, already a copy. */
  requestHeaders(headers: IncomingHttpHeaders, clientAddress: string, upgrade = false): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      if (this.name === 'ballotBox' && !BALLOT_BOX_HEADERS.has(name)) continue;
      if (HOP_BY_HOP.includes(name) && !(upgrade && (name === 'connection' || name === 'upgrade'))) continue;
      if (name.startsWith('x-forwarded-') || ADDRESS_HEADERS.includes(name)) continue;
      if ((this.name === 'board' || this.name === 'tallier') && CREDENTIAL_HEADERS.includes(name)) continue;
      out[name] = value;
    }
    if (this.name === 'issuer') out['x-forwarded-for'] = clientAddress;
    return out;
  }

  unavailable(): GatewayErrorBody {
    return errorBody(503, 'BV_UPSTREAM_UNAVAILABLE', `no ${this.label} upstream accepts connections (${this.upstreams.length} tried); nothing was sent, so retrying in a moment is safe (operators: start a ${this.label} process or fix the gateway's upstream list)`);
  }
}

function parseUpstream(base: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`gateway: ${label} upstream ${JSON.stringify(base)} is not a URL; give a base URL such as http://10.0.0.5:8081`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new Error(`gateway: ${label} upstream ${JSON.stringify(base)} must be an origin (http[s]://host:port, no path, query or credentials): the gateway forwards every path unchanged`);
  }
  return url;
}

interface GatewayErrorBody {
  readonly statusCode: number;
  readonly code: string;
  readonly error: string;
  readonly message: string;
}

function errorBody(statusCode: number, code: string, message: string): GatewayErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** The answer when the last attempt failed after the request went out (nothing more may be tried). */
function failedBody(pool: Pool, failure: Failure): GatewayErrorBody {
  if (failure === 'timeout') return errorBody(504, 'BV_UPSTREAM_TIMEOUT', `the ${pool.label} did not answer in time; the request may or may not have taken effect`);
  return errorBody(502, 'BV_UPSTREAM_FAILED', `the ${pool.label} closed the connection before answering; the request may or may not have taken effect`);
}

/** Removes hop-by-hop headers from an upstream's response; everything else passes unchanged. */
function responseHeaders<T extends Record<string, unknown>>(headers: T): T {
  for (const name of HOP_BY_HOP) delete headers[name];
  return headers;
}

/**
 * One attempt's view of the request body: it starts reading the client's stream only when the
 * upstream connection asks for data, and when destroyed (undici destroys the body of a failed
 * request) it lets go of the client's stream without harming it. So an attempt that failed before
 * `started` leaves the body whole for the next one.
 */
class BodyTap extends Readable {
  started = false;
  readonly #source: Readable;
  readonly #onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.#source.pause();
  };
  readonly #onEnd = () => this.push(null);
  readonly #onError = (error: Error) => this.destroy(error);

  constructor(source: Readable) {
    super();
    this.#source = source;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.#source.on('data', this.#onData);
      this.#source.once('end', this.#onEnd);
      this.#source.once('error', this.#onError);
    }
    this.#source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#source.off('data', this.#onData);
    this.#source.off('end', this.#onEnd);
    this.#source.off('error', this.#onError);
    this.#source.pause();
    callback(error);
  }
}

/** Strips anything that could be an IPv4 or IPv6 address from a log text. */
function scrubAddresses(text: string): string {
  return text
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g, '<address>')
    .replace(/(?:[0-9a-f]{0,4}:){2,}[0-9a-f]{0,4}/gi, (m) => (m.includes('::') || m.split(':').length >= 6 ? '<address>' : m));
}

const serializers = {
  /** Method and route only: never the URL's values, an address or a header. */
  req: (request: FastifyRequest) => ({ method: request.method, route: request.routeOptions?.url }),
  err: (error: FastifyError) => ({
    type: error.name,
    code: error.code,
    message: scrubAddresses(String(error.message ?? '')),
    stack: scrubAddresses(String(error.stack ?? '')),
  }),
};

export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const given = options.upstreams as Partial<GatewayUpstreams> | undefined;
  const names: PoolName[] = ['issuer', 'ballotBox', 'board', 'tallier'];
  const pools = Object.fromEntries(names.map((name) => [name, new Pool(name, given?.[name] ?? [])])) as Record<PoolName, Pool>;

  const app = Fastify({
    logger: { level: options.logLevel ?? 'info', serializers, ...(options.logStream !== undefined ? { stream: options.logStream } : {}) },
    logController: new LogController({ disableRequestLogging: true }),
  });
  // Proxied routes log at 'error' only (reply-from's own lines name upstream addresses), so the
  // gateway's lines go through the root logger with the request id.
  const log = app.log;
  app.addHook('onResponse', async (request, reply) => {
    log.info({ reqId: request.id, method: request.method, route: request.routeOptions.url ?? '(no route)', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // The client left before the answer (the upstream's body was aborted with it): nothing failed here.
    if (request.raw.socket.destroyed) {
      log.debug({ reqId: request.id, route: request.routeOptions.url, code: error.code }, 'client left before the answer');
      return reply.code(499).send();
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.send(error);
    log.error({ reqId: request.id, err: error, route: request.routeOptions.url }, 'request failed');
    return reply.status(status).send(errorBody(status, 'BV_INTERNAL', 'internal error; the operator finds the details in the gateway log'));
  });

  // Open event streams and WebSocket tunnels, ended on close (they would hold it forever).
  const streams = new Set<{ body: Readable; raw: ServerResponse }>();
  const tunnels = new Set<Duplex>();
  app.addHook('preClose', (done) => {
    for (const { body, raw } of streams) {
      body.unpipe(raw);
      body.destroy();
      raw.end();
    }
    for (const socket of tunnels) socket.destroy();
    done();
  });

  for (const [prefix, name] of ROUTES) {
    const pool = pools[name];
    await app.register(proxy, {
      prefix,
      rewritePrefix: prefix,
      // Only satisfies the plugin's check; every attempt names its upstream itself (handler).
      upstream: '',
      replyOptions: { getUpstream: () => pool.upstreams[0]!.origin },
      handler: (request, reply, dest, hooks) => forward(pool, request, reply, dest, hooks),
      undici: {
        connections: null,
        connect: { timeout: CONNECT_TIMEOUT_MS },
        headersTimeout: HEADERS_TIMEOUT_MS,
        // The tallier's SSE streams are endless and quiet between heartbeats: no body timeout there.
        bodyTimeout: name === 'tallier' ? 0 : BODY_TIMEOUT_MS,
      },
      disableRequestLogging: true,
      destroyAgent: true,
      logLevel: 'error',
    });
  }

  function forward(pool: Pool, request: FastifyRequest, reply: FastifyReply, dest: string, hooks: Parameters<FastifyReply['from']>[1]): void {
    const order = pool.order();
    const source = request.body instanceof Readable ? request.body : null;
    const clientAddress = request.ip;
    let refused = 0;
    const attempt = (k: number): void => {
      const index = order[k]!;
      const tap = source === null ? null : new BodyTap(source);
      if (tap !== null) request.body = tap;
      reply.from(dest, {
        ...hooks,
        getUpstream: () => pool.upstreams[index]!.origin,
        rewriteRequestHeaders: (_request, headers) => pool.requestHeaders(headers as IncomingHttpHeaders, clientAddress),
        rewriteHeaders: (headers, req) => responseHeaders(hooks?.rewriteHeaders ? hooks.rewriteHeaders(headers, req) : headers),
        onResponse: (_request, _reply, res) => {
          pool.answered(index);
          // reply-from's types say ServerResponse; it is undici's { statusCode, headers, stream }.
          const { headers, stream: body } = res as unknown as { headers: IncomingHttpHeaders; stream: Readable };
          if (String(headers['content-type'] ?? '').startsWith('text/event-stream')) {
            const entry = { body, raw: reply.raw };
            streams.add(entry);
            reply.raw.once('close', () => streams.delete(entry));
          }
          reply.send(body);
        },
        onError: (_reply, { error }) => {
          const code = errorCode(error);
          const failure = failureOf(code);
          if (failure === 'connect') {
            pool.connectFailed(index);
            refused++;
          }
          log.warn({ reqId: request.id, pool: pool.label, upstream: index, attempt: k + 1, code }, 'upstream attempt failed');
          // The client left: nobody to answer. (request.raw.destroyed only says its body was read.)
          if (request.raw.socket.destroyed) return;
          if (k + 1 < order.length && retryable(failure, request.method) && !(tap?.started ?? false)) return attempt(k + 1);
          if (refused === k + 1) return void reply.code(503).header('retry-after', '1').send(pool.unavailable());
          const body = failedBody(pool, failure);
          return void reply.code(body.statusCode).send(body);
        },
      });
    };
    attempt(0);
  }

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => tunnel(pools.tallier, request, socket, head));

  /** A WebSocket upgrade: to a tallier that accepts it, then bytes both ways until either side closes. */
  function tunnel(pool: Pool, request: IncomingMessage, client: Duplex, head: Buffer): void {
    const started = performance.now();
    const path = request.url ?? '/';
    const done = (status: number) => log.info({ method: request.method, route: 'upgrade /v1/results/*', status, ms: Math.round(performance.now() - started) }, 'request');
    client.on('error', () => client.destroy());
    if (request.method !== 'GET' || !(path === '/v1/results' || path.startsWith('/v1/results/'))) {
      refuse(client, errorBody(404, 'BV_NOT_FOUND', 'WebSocket is served under /v1/results/<poll_id>/ws only'));
      return done(404);
    }
    tunnels.add(client);
    client.once('close', () => tunnels.delete(client));
    const order = pool.order();
    let refused = 0;
    const attempt = (k: number): void => {
      const index = order[k]!;
      const base = pool.upstreams[index]!;
      const headers: OutgoingHttpHeaders = pool.requestHeaders({ ...request.headers }, request.socket.remoteAddress ?? '', true);
      headers['host'] = base.host;
      const send = base.protocol === 'https:' ? httpsRequest : httpRequest;
      const upstreamRequest: ClientRequest = send({ hostname: base.hostname.replace(/^\[|\]$/g, ''), port: base.port, path, method: 'GET', headers, agent: false });
      let settled = false;
      const abandon = () => upstreamRequest.destroy();
      client.once('close', abandon);
      upstreamRequest.on('socket', (socket: Socket) => {
        socket.setTimeout(CONNECT_TIMEOUT_MS);
        socket.once('connect', () => socket.setTimeout(HEADERS_TIMEOUT_MS));
        socket.on('timeout', () => {
          const [message, code] = socket.connecting ? ['connect timeout', 'UND_ERR_CONNECT_TIMEOUT'] : ['no answer to the upgrade', 'UND_ERR_HEADERS_TIMEOUT'];
          upstreamRequest.destroy(Object.assign(new Error(message), { code }));
        });
      });
      upstreamRequest.on('error', (error) => {
        if (settled) return;
        settled = true;
        client.off('close', abandon);
        const code = errorCode(error);
        const failure = failureOf(code);
        if (failure === 'connect') {
          pool.connectFailed(index);
          refused++;
        }
        if (client.destroyed) return;
        log.warn({ pool: pool.label, upstream: index, attempt: k + 1, code }, 'upstream attempt failed');
        // An upgrade is a GET without a body: any failure before the answer may move on.
        if (k + 1 < order.length) return attempt(k + 1);
        const body = refused === k + 1 ? pool.unavailable() : failedBody(pool, failure);
        refuse(client, body);
        done(body.statusCode);
      });
      upstreamRequest.on('response', (response: IncomingMessage) => {
        settled = true;
        client.off('close', abandon);
        pool.answered(index);
        relayRefusal(response, client);
        done(response.statusCode ?? 502);
      });
      upstreamRequest.on('upgrade', (response: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
        settled = true;
        client.off('close', abandon);
        pool.answered(index);
        upstream.setTimeout(0);
        upstream.setNoDelay(true);
        tunnels.add(upstream);
        const teardown = () => {
          client.destroy();
          upstream.destroy();
          tunnels.delete(upstream);
        };
        upstream.on('error', teardown);
        upstream.on('close', teardown);
        client.on('close', teardown);
        if (client.destroyed) return teardown();
        client.write(`HTTP/1.1 101 ${response.statusMessage || 'Switching Protocols'}\r\n${rawHeaderLines(response.rawHeaders)}\r\n`);
        if (upstreamHead.length > 0) client.write(upstreamHead);
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
        done(101);
      });
      upstreamRequest.end();
    };
    attempt(0);
  }

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(names.map(async (name) => [name, await answering(pools[name])] as const));
    const down = results.filter(([, up]) => up === 0).map(([name]) => pools[name]);
    const counts = Object.fromEntries(results.map(([name, up]) => [name, { up, of: pools[name].upstreams.length }]));
    if (down.length === 0) return { ok: true, pools: counts };
    const which = down.map((pool) => pool.label).join(', ');
    return reply.code(503).send({
      ...errorBody(503, 'BV_NOT_READY', `not ready: no upstream of the ${which} pool${down.length > 1 ? 's' : ''} answers /healthz within ${READY_TIMEOUT_MS} ms; start one or fix the gateway's upstream list`),
      pools: counts,
    });
  });
  // One OpenAPI document for the one origin: each pool's paths, merged (cached for a minute).
  let openapi: { at: number; doc: Promise<unknown> } | null = null;
  app.get('/openapi.json', async (_request, reply) => {
    if (openapi === null || Date.now() - openapi.at > 60_000) {
      const doc = mergedOpenApi(names.map((name) => pools[name]));
      openapi = { at: Date.now(), doc };
      doc.catch(() => (openapi = null));
    }
    try {
      return await openapi.doc;
    } catch (err) {
      return reply.code(503).send(errorBody(503, 'BV_NOT_READY', `the API description is not available: ${(err as Error).message}; retry shortly`));
    }
  });
  await app.register(webClient, {});
  return app;
}

interface OpenApiDoc {
  openapi?: string;
  info?: unknown;
  paths?: Record<string, unknown>;
  components?: { schemas?: Record<string, unknown> };
}

/** Every pool's /openapi.json (the first upstream that answers), merged into one document. */
async function mergedOpenApi(pools: readonly Pool[]): Promise<OpenApiDoc> {
  const docs = await Promise.all(
    pools.map(async (pool) => {
      for (const base of pool.upstreams) {
        try {
          const res = await fetch(new URL('/openapi.json', base), { signal: AbortSignal.timeout(READY_TIMEOUT_MS) });
          if (res.ok) return (await res.json()) as OpenApiDoc;
        } catch {
          // the next upstream of the pool
        }
      }
      throw new Error(`no upstream of the ${pool.label} pool answers /openapi.json`);
    }),
  );
  const merged: OpenApiDoc & { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } } = {
    openapi: docs[0]?.openapi ?? '3.0.3',
    info: { title: 'blindvote', version: '1', description: 'Anonymous, verifiable voting. Protocol and promises: DESIGN.md.' },
    paths: {},
    components: { schemas: {} },
  };
  for (const doc of docs) {
    Object.assign(merged.paths, doc.paths ?? {});
    Object.assign(merged.components.schemas, doc.components?.schemas ?? {});
  }
  return merged;
}

/** How many of a pool's upstreams answer GET /healthz with a 2xx within READY_TIMEOUT_MS. */
async function answering(pool: Pool): Promise<number> {
  const answers = await Promise.all(
    pool.upstreams.map(async (base) => {
      try {
        const res = await fetch(new URL('/healthz', base), { signal: AbortSignal.timeout(READY_TIMEOUT_MS) });
        await res.arrayBuffer();
        return res.ok;
      } catch {
        return false;
      }
    }),
  );
  return answers.filter(Boolean).length;
}

function rawHeaderLines(raw: readonly string[]): string {
  let text = '';
  for (let i = 0; i + 1 < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return text;
}

/** Writes a complete HTTP/1.1 answer on a socket that asked for an upgrade, then closes it. */
function refuse(socket: Duplex, body: GatewayErrorBody): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${body.statusCode} ${body.error}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

/** An upstream's non-101 answer to an upgrade (404 unknown poll, 426…), relayed whole; bodies over 64 KiB are cut to a 502. */
function relayRefusal(response: IncomingMessage, client: Duplex): void {
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > 64 * 1024) return void response.destroy();
    chunks.push(chunk);
  });
  response.on('error', () => client.destroy());
  response.on('close', () => {
    if (client.destroyed) return;
    if (!response.complete) return refuse(client, errorBody(502, 'BV_UPSTREAM_FAILED', 'the tallier did not complete its answer to the upgrade'));
    const body = Buffer.concat(chunks);
    const raw = response.rawHeaders;
    const kept: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (!HOP_BY_HOP.includes(name) && name !== 'content-length') kept.push(raw[i]!, raw[i + 1]!);
    }
    client.write(`HTTP/1.1 ${response.statusCode} ${response.statusMessage}\r\n${rawHeaderLines(kept)}content-length: ${body.length}\r\nconnection: close\r\n\r\n`);
    client.end(body);
  });
}
