/**
 * The ballot box as a fastify plugin: `POST /v1/ballots`, anonymous ballot intake (DESIGN.md
 * protocol, promises 2, 3 and 5). Register it, unwrapped, from the composition root:
 *
 *   app.register(ballotBox, { polls, sink })
 *
 * Privacy contract (promise 5, the ballot box knows what, never who). This plugin:
 *   - MUST NOT read, log or keep the client address, cookies, Authorization or any request
 *     header but Content-Type and Content-Length; a ballot that arrives with cookies or
 *     credentials (browsers attach them) is still accepted, and they are never looked at;
 *   - logs requests as method and route only (route-level `req` serializer), never the body;
 *   - sends no Set-Cookie and no Location, and `Cache-Control: no-store` on every reply.
 *
 * Everything else is encapsulated here too: the JSON parser (strict JSON, strict UTF-8, within
 * `maxBodyBytes`), the validator (TypeBox: no type coercion, unknown fields refused, never
 * removed) and the error handler, so the replies do not depend on the root's settings.
 */
import { STATUS_CODES } from 'node:http';
import { Acceptance, FormatError, Receipt, formatTime, fromUtf8, parseJsonStrict, toBase64 } from '@blindvote/crypto';
import type { Ballot, NoteSigner } from '@blindvote/crypto';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { admitBallot } from './admit.ts';
import { BallotMalformed, BallotTooLarge, Internal, Overloaded, PollClosed, PollNotFound, ReceiptNotYet, ReceiptSealed, TokenSpent, UnsupportedMediaType } from './errors.ts';
import type { BallotSink, OpenPoll, PollDirectory, Recorded } from './ports.ts';
import { schemaErrorFormatter } from './schema-errors.ts';
import { ballotRouteSchema, receiptRouteSchema } from './schemas.ts';

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
export const BALLOTS_ROUTE = '/v1/ballots';

export interface BallotBoxOptions {
  readonly polls: PollDirectory;
  readonly sink: BallotSink;
  /** The clock, ms since the epoch (default `Date.now`): decides opens_at/closes_at. */
  readonly now?: () => number;
  /** Largest request body accepted, in bytes (default 16 KiB); larger → 413. */
  readonly maxBodyBytes?: number;
  /**
   * Signs the 202 acceptance for a ballot the sink holds durably but has not put on the board
   * yet (`pending`), promising it within `maxMergeDelaySeconds`. Required when the sink can
   * answer `pending` (the distributed mode).
   */
  readonly acceptance?: { readonly signer: NoteSigner; readonly maxMergeDelaySeconds: number };
}

/** Where a voter exchanges a signed acceptance for the receipt: GET with the leaf hash in hex. */
export const RECEIPT_ROUTE = '/v1/ballots/:pollId/receipt/:leafHash';
const receiptPath = (pollId: string, leafHash: Uint8Array) => `/v1/ballots/${pollId}/receipt/${Buffer.from(leafHash).toString('hex')}`;

/** What the request logger may see of a ballot request: method and route (no query), nothing else. */
const logSerializers = { req: (request: FastifyRequest) => ({ method: request.method, url: request.routeOptions.url }) };

function parseBody(body: Buffer): unknown {
  if (body.length === 0) throw new BallotMalformed('request body: empty; send the ballot as JSON');
  try {
    return parseJsonStrict(fromUtf8(body, 'request body'), 'request body');
  } catch (err) {
    if (err instanceof FormatError) throw new BallotMalformed(`${err.message}; send one JSON object, the ballot`);
    throw err;
  }
}

function receiptOf(open: OpenPoll, ballot: Ballot, outcome: Recorded): Receipt {
  return new Receipt({
    poll_id: ballot.poll_id,
    board: open.board,
    ballot,
    leaf_index: outcome.leafIndex,
    leaf_hash: outcome.leafHash,
    checkpoint: outcome.checkpoint,
    inclusion_proof: outcome.inclusionProof,
  });
}

export async function ballotBox(fastify: FastifyInstance, options: BallotBoxOptions): Promise<void> {
  const { polls, sink, now = Date.now, maxBodyBytes = DEFAULT_MAX_BODY_BYTES } = options;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) throw new RangeError(`ballotBox: maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Only application/json has a parser here: any other type (text/plain included) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onSend', async (_request, reply) => {
    reply.removeHeader('set-cookie');
    reply.removeHeader('location');
    reply.header('cache-control', 'no-store');
    // A web client on another origin (web/README: VITE_BALLOT_BOX_URL) reads every answer. Any
    // origin, never with credentials (no Allow-Credentials): a ballot carries no cookie.
    reply.header('access-control-allow-origin', '*');
  });
  // Its CORS preflight: a JSON POST with no request header but Content-Type.
  app.options(BALLOTS_ROUTE, { schema: { hide: true }, logSerializers }, async (_request, reply) =>
    reply
      .code(204)
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '600')
      .send());

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const error = publicError(err, request, maxBodyBytes);
    if (error.statusCode >= 500) request.log.error({ err }, 'ballot intake failed');
    return reply.code(error.statusCode).send({ statusCode: error.statusCode, code: error.code, error: STATUS_CODES[error.statusCode] ?? 'Error', message: error.message });
  });

  app.post(
    BALLOTS_ROUTE,
    { schema: ballotRouteSchema, bodyLimit: maxBodyBytes, logSerializers, schemaErrorFormatter },
    async (request, reply) => {
      const { ballot, poll, closed } = await admitBallot(request.body, polls, now());
      // A closed poll appends nothing, but a byte-identical retry still gets its original receipt.
      const retryOf = async (why: string) => {
        const existing = await sink.recorded(ballot);
        if (existing === null) throw new PollClosed(ballot.poll_id, why);
        return reply.code(200).send(receiptOf(poll, ballot, existing).toJSON());
      };
      if (closed !== null) return retryOf(closed);
      const outcome = await sink.submit(ballot);
      switch (outcome.status) {
        case 'appended':
        case 'duplicate':
          return reply.code(outcome.status === 'appended' ? 201 : 200).send(receiptOf(poll, ballot, outcome).toJSON());
        case 'pending': {
          if (options.acceptance === undefined) throw new Error('ballot box: the sink answered "pending" but no acceptance signer is configured');
          const { signer, maxMergeDelaySeconds } = options.acceptance;
          const accepted = new Acceptance({ poll_id: ballot.poll_id, leaf_hash: outcome.leafHash, accepted_at: formatTime(now()), max_merge_delay: maxMergeDelaySeconds });
          reply.header('retry-after', String(Math.max(1, Math.min(maxMergeDelaySeconds, 5))));
          return reply.code(202).send({
            v: 1,
            poll_id: accepted.poll_id,
            leaf_hash: toBase64(accepted.leaf_hash),
            accepted_at: accepted.accepted_at,
            max_merge_delay: accepted.max_merge_delay,
            acceptance: accepted.sign(signer),
            receipt: receiptPath(ballot.poll_id, outcome.leafHash),
          });
        }
        case 'spent':
          throw new TokenSpent(outcome.index);
        case 'closed':
          return retryOf('was closed on its board');
        case 'overloaded': {
          const seconds = Math.max(1, Math.ceil(outcome.retryAfterSeconds));
          reply.header('retry-after', String(seconds));
          throw new Overloaded(seconds);
        }
      }
    },
  );
  await receiptRoute(app, polls, sink);
}

/** The exchange of a signed acceptance for the receipt, once the ballot is on the board. */
async function receiptRoute(app: FastifyInstance, polls: PollDirectory, sink: BallotSink): Promise<void> {
  app.get<{ Params: { pollId: string; leafHash: string } }>(RECEIPT_ROUTE, { schema: receiptRouteSchema, logSerializers }, async (request, reply) => {
    const { pollId, leafHash } = request.params;
    const poll = await polls.get(pollId);
    if (poll === null) throw new PollNotFound(pollId);
    // DESIGN.md promise 7: a sealed poll's ballots stay hidden until the close, and leaf hashes are public (hash tiles).
    if (poll.poll.results === 'sealed' && !poll.closed) throw new ReceiptSealed(pollId);
    const found = await sink.byLeafHash(pollId, Uint8Array.from(Buffer.from(leafHash, 'hex')));
    if (found === null) {
      reply.header('retry-after', '2');
      throw new ReceiptNotYet(pollId, 2);
    }
    return reply.code(200).send(receiptOf(poll, found.ballot, found.recorded).toJSON());
  });
}

/** The error a client sees: ours as they are, fastify's request errors reworded, the rest a bare 500. */
function publicError(err: FastifyError, request: FastifyRequest, maxBodyBytes: number): { statusCode: number; code: string; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BallotTooLarge(maxBodyBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = request.headers['content-type'];
      return new UnsupportedMediaType(type === undefined ? 'no Content-Type' : JSON.stringify(type.slice(0, 100)));
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BallotMalformed('Content-Length: does not match the body sent');
  }
  const status = err.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { statusCode: status, code: err.code, message: err.message };
  return new Internal();
}
