/**
 * RedisLiveStore: the tallier's LiveStore (tallier/src/ports.ts) on Redis, for the distributed
 * mode: one tallier counts a poll and publishes; any instance serves its readers. It passes the
 * contract of tallier/src/live-contract.ts (live-redis.test.ts, against a real Redis).
 *
 * Layout (under `prefix`, default `blindvote:`, which other parts of the deployment share):
 *   - `<prefix>live:poll:<poll_id>`: a hash per poll: `json` (the snapshot) and its newness key
 *     (`e`, `s`, `r`: tallier's `newnessKey`), so the script compares without decoding JSON.
 *   - `<prefix>live:updates`: ONE pub/sub channel; each message is `<poll_id>\n<snapshot JSON>`,
 *     so a process with no listener for that poll drops it without parsing.
 *
 * Contracts (besides the LiveStore ones):
 *   - publish is one Lua script: it writes the hash and PUBLISHes only if the snapshot supersedes
 *     the stored one (the comparison mirrors `supersedes`), atomically, so the messages on the
 *     channel are in the order the snapshots became current. Every publish (also a republish of
 *     an unchanged snapshot) renews the key's expiry (`ttlSeconds`), so the keys of polls nobody
 *     counts any more go away and nothing else ever deletes them.
 *   - One subscriber connection per store (`subscriber`, or a duplicate of `redis` made on the
 *     first subscribe), fanning out to local listeners. After every (re)connection it subscribes
 *     again and then re-reads the snapshot of every poll with local listeners, delivering what
 *     supersedes what they last got: a listener misses nothing current across a Redis restart, a
 *     dropped connection, or the moment between a reader's read and the first SUBSCRIBE.
 *   - Redis holds nothing that must survive: after a flush or restart, the counting tallier's
 *     republish refills it (Tallier `republishMs`).
 *
 * The caller owns the command client (`redis`): its options decide how long a command waits
 * while Redis is unreachable (ioredis queues commands offline by default; set
 * `maxRetriesPerRequest` or `commandTimeout` so readers get a 503 instead of waiting).
 */
import { Redis } from 'ioredis';
import type { LiveListener, LiveStore, ResultsSnapshot } from '@blindvote/tallier';
import { newnessKey, supersedes } from '@blindvote/tallier';

export interface RedisLiveStoreOptions {
  /** The command connection (HGET, the publish script). Not closed by `close()`. */
  readonly redis: Redis;
  /**
   * A connection of its own for SUBSCRIBE (it MUST NOT carry other commands). Not closed by
   * `close()`. Default: a duplicate of `redis`, made on the first subscribe and closed by `close()`.
   */
  readonly subscriber?: Redis;
  /** Prefix of every key and of the channel (default `blindvote:`); the store adds `live:`. */
  readonly prefix?: string;
  /** Expiry of a poll's key, renewed by every publish (default 7 days). */
  readonly ttlSeconds?: number;
  /** Failures of the subscriber connection, once per outage (default: a process warning). */
  readonly onError?: (error: Error) => void;
}

/** The publish script: KEYS[1] the poll's hash; ARGV: e, s, r, json, channel, poll_id, ttl ms. */
const PUBLISH_LUA = `
local current = redis.call('HMGET', KEYS[1], 'e', 's', 'r')
local e, s, r = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local newer = true
if current[1] then
  local ce, cs, cr = tonumber(current[1]), tonumber(current[2]), tonumber(current[3])
  if e ~= ce then newer = e > ce elseif s ~= cs then newer = s > cs else newer = r > cr end
end
if newer then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 's', ARGV[2], 'r', ARGV[3], 'json', ARGV[4])
  redis.call('PUBLISH', ARGV[5], ARGV[6] .. '\\n' .. ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if newer then return 1 end
return 0
`;

const COMMAND = 'blindvoteLivePublish';
type PublishCommand = (key: string, e: number, s: number, r: number, json: string, channel: string, pollId: string, ttlMs: number) => Promise<number>;

interface PollListeners {
  readonly listeners: Set<LiveListener>;
  /** The last snapshot dispatched to this poll's listeners. */
  last: ResultsSnapshot | null;
}

export class RedisLiveStore implements LiveStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #ttlMs: number;
  readonly #onError: (error: Error) => void;
  readonly #polls = new Map<string, PollListeners>();
  readonly #given: Redis | null;
  #subscriber: { detach(): void } | null = null;
  #failing = false;
  #closed = false;

  constructor(options: RedisLiveStoreOptions) {
    const ttlSeconds = options.ttlSeconds ?? 7 * 24 * 3600;
    if (!(ttlSeconds >= 1)) throw new RangeError(`RedisLiveStore ttlSeconds: expected at least 1 second, got ${ttlSeconds}`);
    this.#redis = options.redis;
    this.#given = options.subscriber ?? null;
    this.#prefix = `${options.prefix ?? 'blindvote:'}live:`;
    this.#channel = `${this.#prefix}updates`;
    this.#ttlMs = Math.round(ttlSeconds * 1000);
    this.#onError = options.onError ?? ((error) => process.emitWarning(`live results (Redis): ${error.message}`, { code: 'BV_LIVE_REDIS' }));
    if (!(COMMAND in this.#redis)) this.#redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: PUBLISH_LUA });
  }

  #key(pollId: string): string {
    return `${this.#prefix}poll:${pollId}`;
  }

  async publish(snapshot: ResultsSnapshot): Promise<void> {
    const [e, s, r] = newnessKey(snapshot);
    const publish = (this.#redis as unknown as Record<typeof COMMAND, PublishCommand>)[COMMAND];
    await publish.call(this.#redis, this.#key(snapshot.poll_id), e, s, r, JSON.stringify(snapshot), this.#channel, snapshot.poll_id, this.#ttlMs);
  }

  async snapshot(pollId: string): Promise<ResultsSnapshot | null> {
    const json = await this.#redis.hget(this.#key(pollId), 'json');
    if (json === null) return null;
    const snapshot = JSON.parse(json) as ResultsSnapshot;
    if (snapshot.poll_id !== pollId) throw new Error(`Redis key ${this.#key(pollId)} holds a snapshot of poll ${JSON.stringify(snapshot.poll_id)}: something other than RedisLiveStore writes under prefix ${this.#prefix}`);
    return snapshot;
  }

  subscribe(pollId: string, listener: LiveListener): () => void {
    if (this.#closed) throw new Error('RedisLiveStore: closed');
    this.#subscriber ??= this.#connect();
    let poll = this.#polls.get(pollId);
    if (poll === undefined) this.#polls.set(pollId, (poll = { listeners: new Set(), last: null }));
    const entry: LiveListener = (snapshot) => listener(snapshot);
    poll.listeners.add(entry);
    const p = poll;
    return () => {
      p.listeners.delete(entry);
      if (p.listeners.size === 0 && this.#polls.get(pollId) === p) this.#polls.delete(pollId);
    };
  }

  /** Local listeners of a poll right now. */
  subscribers(pollId: string): number {
    return this.#polls.get(pollId)?.listeners.size ?? 0;
  }

  /** Stops delivering; closes the subscriber connection it made (never a given one, which it leaves). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#polls.clear();
    this.#subscriber?.detach();
    this.#subscriber = null;
  }

  #connect(): { detach(): void } {
    const own = this.#given === null;
    // SUBSCRIBE is sent on every 'ready', followed by the re-read that autoResubscribe lacks.
    const subscriber = this.#given ?? this.#redis.duplicate({ autoResubscribe: false, lazyConnect: false });
    const onMessage = (channel: string, message: string) => {
      if (channel === this.#channel) this.#message(message);
    };
    const onError = (error: Error) => this.#fail(error);
    const onReady = () => {
      subscriber.subscribe(this.#channel).then(
        () => {
          this.#failing = false;
          return this.#resync();
        },
        (error: unknown) => this.#fail(error instanceof Error ? error : new Error(String(error))),
      );
    };
    subscriber.on('message', onMessage);
    subscriber.on('error', onError);
    subscriber.on('ready', onReady);
    if (subscriber.status === 'ready') onReady();
    return {
      detach: () => {
        subscriber.off('message', onMessage);
        subscriber.off('ready', onReady);
        subscriber.off('error', onError);
        if (own) subscriber.disconnect();
        else if (subscriber.status === 'ready') subscriber.unsubscribe(this.#channel).catch(() => {});
      },
    };
  }

  #fail(error: Error): void {
    if (this.#closed || this.#failing) return;
    this.#failing = true;
    this.#onError(error);
  }

  #message(message: string): void {
    const newline = message.indexOf('\n');
    const poll = this.#polls.get(message.slice(0, newline));
    if (newline < 0 || poll === undefined) return;
    this.#dispatch(poll, JSON.parse(message.slice(newline + 1)) as ResultsSnapshot);
  }

  /** Re-reads every poll with listeners: what was published while no subscription was active. */
  async #resync(): Promise<void> {
    await Promise.all(
      [...this.#polls].map(async ([pollId, poll]) => {
        try {
          const current = await this.snapshot(pollId);
          if (current !== null) this.#dispatch(poll, current);
        } catch (error) {
          this.#fail(error instanceof Error ? error : new Error(String(error)));
        }
      }),
    );
  }

  #dispatch(poll: PollListeners, snapshot: ResultsSnapshot): void {
    if (poll.last !== null && !supersedes(snapshot, poll.last)) return;
    poll.last = snapshot;
    for (const listener of [...poll.listeners]) {
      try {
        listener(snapshot);
      } catch {
        // One subscriber's failure MUST NOT keep the others from their update.
      }
    }
  }
}
