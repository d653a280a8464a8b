/**
 * Test support: the issuer plugin on a real SqliteIssuerStore, with a fake board that checks
 * what it receives (manifests parse with `Poll` and carry its key; close entries pass
 * `Poll.checkClose`), a settable clock, and helpers that sign in and build polls over HTTP.
 * Everything is closed after the test file.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Close, Poll, equalBytes, formatTime, generateSignerKey, toBase64 } from '@blindvote/crypto';
import type { PollJSON } from '@blindvote/crypto';
import { ensureAdmin } from '../auth/bootstrap.ts';
import { issuer } from '../plugin.ts';
import type { IssuerOptions } from '../plugin.ts';
import type { BoardPublisher } from '../ports.ts';
import { SqliteIssuerStore } from '../store/sqlite.ts';

export class FakeBoard implements BoardPublisher {
  readonly verifierKey = generateSignerKey('board.test').verifierKey;
  /** Manifest bytes by poll id, as published. */
  readonly manifests = new Map<string, Uint8Array>();
  /** Close entries appended, in order. */
  readonly closes: Close[] = [];
  /** Calls of publish and close, failed ones included. */
  readonly calls: string[] = [];
  /** The next call of this kind throws (a board that is down). */
  failNext: 'publish' | 'close' | null = null;

  boardUrl(pollId: string): string {
    return `https://board.test/poll/${pollId}`;
  }

  async publish(manifest: Poll): Promise<void> {
    this.calls.push(`publish ${manifest.poll_id}`);
    if (this.failNext === 'publish') {
      this.failNext = null;
      throw new Error('board unavailable');
    }
    const bytes = manifest.serialize();
    const parsed = Poll.deserialize(bytes);
    assert.equal(parsed.board_key, this.verifierKey, 'the manifest carries this board key');
    const existing = this.manifests.get(parsed.poll_id);
    if (existing !== undefined && !equalBytes(existing, bytes)) throw new Error(`a different manifest exists for ${parsed.poll_id}`);
    this.manifests.set(parsed.poll_id, bytes);
  }

  async close(pollId: string, issued: number, closedAt: Date): Promise<void> {
    this.calls.push(`close ${pollId}`);
    if (this.failNext === 'close') {
      this.failNext = null;
      throw new Error('board unavailable');
    }
    const bytes = this.manifests.get(pollId);
    if (bytes === undefined) throw new Error(`no log for ${pollId}`);
    assert.equal(closedAt.getUTCMilliseconds(), 0, 'closed_at in whole seconds');
    const close = new Close({ poll_id: pollId, closed_at: formatTime(closedAt), ballots: 0, issued });
    Poll.deserialize(bytes).checkClose(close);
    if (this.closes.some((c) => c.poll_id === pollId)) return;
    this.closes.push(close);
  }
}

export class Clock {
  #now: number;

  constructor(start: string) {
    this.#now = Date.parse(start);
  }

  readonly now = (): Date => new Date(this.#now);

  set(time: string): void {
    this.#now = Date.parse(time);
  }

  advance(seconds: number): void {
    this.#now += seconds * 1000;
  }
}

/** Times of the default test poll; the clock starts an hour before it opens. */
export const OPENS_AT = '2026-03-01T08:00:00Z';
export const CLOSES_AT = '2026-03-01T18:00:00Z';
export const START = '2026-03-01T07:00:00Z';
export const PASSWORD = 'correct horse battery';

export interface Harness {
  readonly app: FastifyInstance;
  readonly store: SqliteIssuerStore;
  readonly board: FakeBoard;
  readonly clock: Clock;
  /** The store's directory (the database file is `issuer.db`). */
  readonly dir: string;
  /** `app.inject` with `Authorization: Bearer <token>` when a token is given. */
  call(method: HTTPMethods, url: string, token?: string | null, payload?: InjectOptions['payload'], headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** Registers `username` (with PASSWORD) and returns a session token. */
  voter(username: string): Promise<string>;
  /** A session token of the bootstrap admin `admin`. */
  admin(): Promise<string>;
  /** Creates, rolls and publishes a poll; returns its manifest. */
  publishedPoll(voters: readonly string[], fields?: Record<string, unknown>): Promise<PollJSON>;
}

export type HarnessOptions = Partial<IssuerOptions> & {
  /** Extra fastify options (a logger stream, for instance). */
  readonly fastify?: FastifyServerOptions;
};

export async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'blindvote-issuer-'));
  const store = new SqliteIssuerStore(join(dir, 'issuer.db'));
  const board = new FakeBoard();
  const clock = new Clock(START);
  const { fastify, ...pluginOptions } = options;
  const app = Fastify(fastify ?? { logger: false });
  after(async () => {
    await app.close().catch(() => {});
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await app.register(issuer, { store, board, now: clock.now, scheduler: false, rateLimit: false, ...pluginOptions });
  await app.ready();

  const call: Harness['call'] = (method, url, token, payload, headers = {}) =>
    app.inject({
      method,
      url,
      headers: token ? { ...headers, authorization: `Bearer ${token}` } : headers,
      ...(payload === undefined ? {} : { payload }),
    });
  const login = async (username: string, password: string) => {
    const res = await call('POST', '/v1/sessions', null, { username, password });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().token as string;
  };
  let adminPassword: string | null = null;
  let polls = 0;
  const admin = async () => {
    adminPassword ??= await ensureAdmin(store, 'admin');
    return login('admin', adminPassword!);
  };

  return {
    app,
    store,
    board,
    clock,
    dir,
    call,
    voter: async (username) => {
      const res = await call('POST', '/v1/accounts', null, { username, password: PASSWORD });
      assert.equal(res.statusCode, 201, res.body);
      return login(username, PASSWORD);
    },
    admin,
    publishedPoll: async (voters, fields = {}) => {
      const token = await admin();
      const created = await call('POST', '/v1/polls', token, { ...pollBody(`poll-${++polls}`), ...fields });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().poll_id as string;
      const rolled = await call('PUT', `/v1/polls/${id}/roll`, token, { voters });
      assert.equal(rolled.statusCode, 200, rolled.body);
      const published = await call('POST', `/v1/polls/${id}/publish`, token);
      assert.equal(published.statusCode, 200, published.body);
      return published.json() as PollJSON;
    },
  };
}

/**
 * A random RFC 9474 blinded_msg for the manifest's key: any integer below n is one (the issuer
 * cannot tell), and a top byte of 0 keeps it below n. For volume; real tokens use TokenClient.
 */
export function randomBlindedMsg(manifest: PollJSON): string {
  const length = Poll.fromJSON(manifest).tokenSigLength;
  const bytes = new Uint8Array(randomBytes(length));
  bytes[0] = 0;
  return toBase64(bytes);
}

/** A valid create-poll body. */
export function pollBody(pollId?: string): Record<string, unknown> {
  return {
    ...(pollId === undefined ? {} : { poll_id: pollId }),
    title: 'Park or library',
    description: 'Where should the money go?',
    options: [{ id: 'park', label: 'A new park' }, { id: 'library', label: 'Longer library hours' }],
    kind: 'single',
    opens_at: OPENS_AT,
    closes_at: CLOSES_AT,
    results: 'live',
  };
}
