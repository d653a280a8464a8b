/**
 * The all-in-one service: every component in one fastify instance on embedded storage
 * (DESIGN.md "Two ways to run"). Only `cli.ts` listens. Order follows fastify/demo: external
 * parts first (storage, keys), then the components' plugins, each encapsulated under its own
 * routes; one error handler hides 5xx details; request logs carry method, route, status and
 * time only — never an IP address, a header or a body (DESIGN.md promise 5).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ballotBox } from '@blindvote/ballot-box';
import { Board, boardRoutes, SqliteLogStorage } from '@blindvote/bulletin-board';
import { ensureAdmin, issuer, SqliteIssuerStore } from '@blindvote/issuer';
import { Tallier, tallierRoutes } from '@blindvote/tallier';
import { baseApp } from './base-app.ts';
import type { Config } from './config.ts';
import { boardSigner, writeAdminPassword } from './keys.ts';
import { ballotSink, boardFeed, boardPublisher, issuerSettings, pollDirectory } from './wiring.ts';
import { webClient } from './web.ts';

export interface Service {
  readonly app: FastifyInstance;
  readonly board: Board;
  /** Set on the first start only: where the admin's one-time password was written. */
  readonly adminPasswordFile: string | null;
  /** Stops intake, drains appends, closes storage. */
  close(): Promise<void>;
}

export async function buildService(config: Config): Promise<Service> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const { app, metrics } = await baseApp(config, 'blindvote');
  // Issuer and board never share a database (DESIGN.md promise 5): two files.
  const boardStorage = new SqliteLogStorage(join(config.dataDir, 'board.db'));
  const issuerStore = new SqliteIssuerStore(join(config.dataDir, 'issuer.db'));
  const board = new Board({ storage: boardStorage, signer: boardSigner(config.dataDir, config.publicUrl), baseUrl: config.publicUrl, sequencer: { onBatch: metrics.sequencerHook() } });

  let adminPasswordFile: string | null = null;
  const password = await ensureAdmin(issuerStore, config.adminUsername);
  if (password !== null) adminPasswordFile = writeAdminPassword(config.dataDir, config.adminUsername, password);

  const tallier = new Tallier({
    feed: boardFeed(board),
    onError: (pollId, error, kind) => app.log.error({ poll_id: pollId, kind, err: error }, 'tallier: poll not counted'),
  });
  await app.register(issuer, {
    store: issuerStore,
    board: boardPublisher(board),
    ...issuerSettings(config),
  });
  await app.register(ballotBox, { polls: pollDirectory(board), sink: ballotSink(board) });
  await app.register(boardRoutes, { board });
  await app.register(tallierRoutes, { live: tallier.live });
  await app.register(webClient, {});


  await app.ready();
  await tallier.start();

  return {
    app,
    board,
    adminPasswordFile,
    async close() {
      await app.close();
      await tallier.stop();
      await board.shutdown();
      await boardStorage.close();
      await issuerStore.close();
    },
  };
}
