/**
 * Test support: a fastify app with the ballot box registered as the composition root would,
 * over two real polls ("alpha", multi choice up to 2 of a/b/c; "beta", single choice), an
 * in-memory directory, the fake sink (or another) and a clock the test sets.
 */
import fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from 'fastify';
import type { NoteSigner } from '@blindvote/crypto';
import { ballotBox } from '../plugin.ts';
import type { BallotBoxOptions } from '../plugin.ts';
import type { BallotSink } from '../ports.ts';
import { FakeSink } from './fake-sink.ts';
import { DURING, MemoryPollDirectory, newBoardSigner, testPoll } from './polls.ts';
import type { TestPoll } from './polls.ts';

export interface Fixture {
  readonly app: FastifyInstance;
  readonly alpha: TestPoll;
  readonly beta: TestPoll;
  readonly signer: NoteSigner;
  readonly directory: MemoryPollDirectory;
  readonly sink: FakeSink;
  /** What `now` returns, ms since the epoch; starts while the polls are open. */
  clock: number;
  /** POST /v1/ballots with `body` (JSON.stringify'd unless a string) as application/json. */
  post(body: unknown, headers?: Record<string, string>, extra?: { remoteAddress?: string }): Promise<LightMyRequestResponse>;
}

export interface FixtureOptions {
  readonly server?: FastifyServerOptions;
  /** Replaces the fake sink in the plugin (the fake sink is still built, for its log). */
  readonly sink?: BallotSink;
  readonly maxBodyBytes?: number;
  readonly acceptance?: BallotBoxOptions['acceptance'];
  /** Runs on the root app before the ballot box is registered (root hooks). */
  readonly root?: (app: FastifyInstance) => void;
}

/** The polls cost an RSA key each: build them once per test file and pass them again. */
export async function testPolls(signer = newBoardSigner()): Promise<{ signer: NoteSigner; alpha: TestPoll; beta: TestPoll }> {
  return { signer, alpha: await testPoll('alpha', signer, 'multi'), beta: await testPoll('beta', signer, 'single') };
}

export async function fixture(
  polls: { signer: NoteSigner; alpha: TestPoll; beta: TestPoll },
  options: FixtureOptions = {},
): Promise<Fixture> {
  const { signer, alpha, beta } = polls;
  const directory = new MemoryPollDirectory([alpha.open, beta.open]);
  const sink = new FakeSink(signer, [alpha.open, beta.open]);
  const app = fastify(options.server ?? {});
  options.root?.(app);
  const f: Fixture = {
    app,
    alpha,
    beta,
    signer,
    directory,
    sink,
    clock: DURING,
    post: (body, headers = {}, extra = {}) =>
      app.inject({
        method: 'POST',
        url: '/v1/ballots',
        headers: { 'content-type': 'application/json', ...headers },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
        ...extra,
      }),
  };
  await app.register(ballotBox, {
    polls: directory,
    sink: options.sink ?? sink,
    now: () => f.clock,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.acceptance === undefined ? {} : { acceptance: options.acceptance }),
  });
  await app.ready();
  return f;
}
