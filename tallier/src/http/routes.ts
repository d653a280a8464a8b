/**
 * The tallier's HTTP surface, a fastify plugin (encapsulated; the composition root registers it):
 *
 *   GET /v1/results/:pollId          the current snapshot (snapshot.ts), JSON
 *   GET /v1/results/:pollId/ws       WebSocket: the snapshot on connect, then every update
 *   GET /v1/results/:pollId/events   Server-Sent Events (WHATWG HTML §9.2): the same messages as
 *                                    `data:` lines, a `retry:` hint first, a comment heartbeat
 *
 * Everything is read from a LiveStore (ports.ts), never from a Tallier: an instance that only
 * pushes (the distributed mode) serves results that another instance counts.
 *
 * Contracts: pushed messages are the snapshot JSON, at most 5 per second per poll (the Tallier
 * throttles what it publishes), the latest state always delivered, and each message supersedes
 * the one before it on the stream (ports.ts `supersedes`: never an older state). A stream
 * subscribes before it reads the current snapshot, so nothing published in between is lost. An
 * unknown poll is a 404 before anything is upgraded or streamed; an unreachable store a 503. A
 * client that stops reading is disconnected once MAX_BUFFERED bytes wait for it, rather than held
 * in memory. Streams end when the server closes. Nothing about the client (address, headers) is
 * logged.
 */
import type { ServerResponse } from 'node:http';
import createError from '@fastify/error';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { LiveStore } from '../ports.ts';
import { supersedes } from '../ports.ts';
import { ErrorSchema, PollIdSchema, ResultsSnapshotSchema } from '../snapshot.ts';
import type { ResultsSnapshot } from '../snapshot.ts';
import { UnknownPollError, UpgradeRequiredError } from './errors.ts';

export interface TallierRoutesOptions {
  /** Where the results are read and followed (`tallier.live` all-in-one). */
  readonly live: LiveStore;
  /** Interval of SSE heartbeat comments and WebSocket pings (default 15 000 ms). */
  readonly heartbeatMs?: number;
}

/** The reconnection delay SSE clients are told (`retry:`), in ms. */
export const SSE_RETRY_MS = 3000;
/** Bytes queued for one slow client before it is disconnected. */
export const MAX_BUFFERED = 1 << 20;

const Params = Type.Object({ pollId: PollIdSchema }, { additionalProperties: false });
/** No query parameters (unknown ones are dropped, as fastify's ajv removes additional properties). */
const NoQuery = Type.Object({}, { additionalProperties: false });
const TAGS = ['tallier'];

/** The LiveStore could not be read (Redis down, say). */
export const ResultsUnavailableError = createError<'BV_RESULTS_UNAVAILABLE', 503, []>(
  'BV_RESULTS_UNAVAILABLE',
  'the live results store is unavailable right now: retry in a few seconds',
  503,
);

/** A poll's stream of snapshots, subscribed before `first` was read. */
interface Watch {
  /** The newest snapshot known when the watch opened; null if the store has none (yet). */
  readonly first: ResultsSnapshot | null;
  /** Sends the newest snapshot known (if any), then every one that supersedes the last sent. */
  start(send: (snapshot: ResultsSnapshot) => void): void;
  stop(): void;
}

/** Subscribes first, then reads, so no snapshot published in between is lost. */
async function watch(live: LiveStore, pollId: string): Promise<Watch> {
  let last: ResultsSnapshot | null = null;
  let sink: ((snapshot: ResultsSnapshot) => void) | null = null;
  const offer = (snapshot: ResultsSnapshot) => {
    if (last !== null && !supersedes(snapshot, last)) return;
    last = snapshot;
    sink?.(snapshot);
  };
  const stop = live.subscribe(pollId, offer);
  let current: ResultsSnapshot | null;
  try {
    current = await live.snapshot(pollId);
  } catch {
    stop();
    throw new ResultsUnavailableError();
  }
  if (current !== null) offer(current);
  return {
    first: last,
    start(send) {
      sink = send;
      if (last !== null) send(last);
    },
    stop,
  };
}

export async function tallierRoutes(app: FastifyInstance, options: TallierRoutesOptions): Promise<void> {
  const { live } = options;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  await app.register(websocket, { options: { maxPayload: 1024 } });
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  const current = async (pollId: string): Promise<ResultsSnapshot> => {
    let snapshot: ResultsSnapshot | null;
    try {
      snapshot = await live.snapshot(pollId);
    } catch {
      throw new ResultsUnavailableError();
    }
    if (snapshot === null) throw new UnknownPollError(pollId);
    return snapshot;
  };

  r.get(
    '/v1/results/:pollId',
    {
      schema: {
        summary: "A poll's live results, or its verified final tally",
        description: 'Every number counts the board up to `tree_size`, a verified signed checkpoint, so anyone can recount that prefix.',
        tags: TAGS,
        params: Params,
        querystring: NoQuery,
        response: { 200: ResultsSnapshotSchema, 400: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request) => current(request.params.pollId),
  );

  r.route({
    method: 'GET',
    url: '/v1/results/:pollId/ws',
    schema: {
      summary: "A poll's results pushed over WebSocket",
      description: 'Upgrade to WebSocket: one text message with the current snapshot, then one per update (at most 5 per second). Messages from the client are ignored.',
      tags: TAGS,
      params: Params,
      querystring: NoQuery,
      response: {
        101: Type.Null({ description: 'Switching Protocols: the WebSocket stream begins' }),
        400: ErrorSchema,
        404: ErrorSchema,
        426: ErrorSchema,
        503: ErrorSchema,
      },
    },
    // Runs before the upgrade: an unknown poll is refused with a plain 404.
    preHandler: async (request) => {
      await current(request.params.pollId);
    },
    handler: async (request) => {
      throw new UpgradeRequiredError(request.url);
    },
    wsHandler: async (socket, request) => {
      const { pollId } = request.params as { pollId: string };
      const send = (snapshot: ResultsSnapshot) => {
        if (socket.bufferedAmount > MAX_BUFFERED) socket.terminate();
        else socket.send(JSON.stringify(snapshot));
      };
      const ping = setInterval(() => socket.ping(), heartbeatMs);
      let stop: (() => void) | null = null;
      let closed = false;
      socket.on('close', () => {
        closed = true;
        clearInterval(ping);
        stop?.();
      });
      let w: Watch;
      try {
        w = await watch(live, pollId);
      } catch {
        // 1011: the server met a condition that keeps it from serving (RFC 6455 §7.4.1).
        socket.close(1011, 'live results store unavailable: reconnect later');
        return;
      }
      if (closed) return w.stop();
      stop = w.stop;
      // A store flushed since the check has no snapshot for a moment: the republish brings it.
      w.start(send);
    },
  });

  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  r.get(
    '/v1/results/:pollId/events',
    {
      schema: {
        summary: "A poll's results pushed as Server-Sent Events",
        description: `text/event-stream: \`retry: ${SSE_RETRY_MS}\`, then one \`data:\` event with the current snapshot and one per update (at most 5 per second); \`:\` comment heartbeats keep proxies from closing the stream.`,
        tags: TAGS,
        params: Params,
        querystring: NoQuery,
        response: {
          200: { description: 'An endless event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          400: ErrorSchema,
          404: ErrorSchema,
          503: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { pollId } = request.params;
      const w = await watch(live, pollId);
      if (w.first === null) {
        w.stop();
        throw new UnknownPollError(pollId);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        // The connection carries this stream only: once it ends, nothing is left to keep alive.
        connection: 'close',
      });
      const write = (text: string) => {
        if (res.writableLength > MAX_BUFFERED) res.destroy();
        else res.write(text);
      };
      const send = (s: ResultsSnapshot) => write(`data: ${JSON.stringify(s)}\n\n`);
      write(`retry: ${SSE_RETRY_MS}\n\n`);
      w.start(send);
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), heartbeatMs);
      streams.add(res);
      res.on('close', () => {
        clearInterval(heartbeat);
        w.stop();
        streams.delete(res);
      });
    },
  );
}
