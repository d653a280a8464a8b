/**
 * The bulletin board's read API as a fastify plugin (register it unwrapped, so it stays
 * encapsulated): the C2SP tlog-tiles resources of every poll's board (`tlog.ts`) and JSON
 * proofs and status beside them (`json.ts`). Everything is read-only and public; appends are
 * in-process calls on `Board` (the distributed mode brings its own transport).
 *
 * Every reply carries `Access-Control-Allow-Origin: *` (public data, no credentials: any
 * tlog-tiles client, in a browser too, may read a board) and errors `Cache-Control: no-store`
 * (a 404 tile or a sealed bundle becomes available later). Nothing about a request is logged.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Board } from '../board.ts';
import { jsonRoutes } from './json.ts';
import { tlogRoutes } from './tlog.ts';

export interface BoardRoutesOptions {
  readonly board: Board;
}

export type BoardApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export async function boardRoutes(fastify: FastifyInstance, options: BoardRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.addHook('onSend', async (_request, reply) => {
    reply.header('access-control-allow-origin', '*');
    if (reply.statusCode >= 400) reply.header('cache-control', 'no-store');
  });
  tlogRoutes(app, options.board);
  jsonRoutes(app, options.board);
}
