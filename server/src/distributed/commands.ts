/**
 * Board commands: how the distributed mode's components ask the one writer of a poll's log (the
 * sequencer) to append. Every write — a ballot (ballot box), a manifest or a close (issuer), a
 * tally (tallier) — is a record on the commands topic keyed by poll id, so one partition holds
 * a poll's writes in the order they were made (a close lands after every ballot produced before
 * it). The sequencer answers on the requester's Redis channel once its batch has committed.
 *
 * Contracts:
 * - A command is durable once `send` resolved on the producer (acks=all); from then on it will
 *   be applied, exactly once in effect (the board's unique constraints make redelivery
 *   harmless), whether or not its reply arrives.
 * - `request` resolves with the reply, or null when none came within the wait: the outcome is
 *   then unknown to the caller but the command is durable (a ballot box answers 202).
 * - Nothing about a voter crosses here: commands carry entries, poll ids, counts and times.
 */
import { randomUUID } from 'node:crypto';
import { fromBase64, toBase64 } from '@blindvote/crypto';
import type { Redis } from 'ioredis';
import type { BusProducer } from './bus.ts';

export type CommandKind = 'ballot' | 'publish' | 'close' | 'tally';

export interface Command {
  readonly id: string;
  /** The requester's reply channel suffix. */
  readonly reply_to: string;
  readonly kind: CommandKind;
  readonly poll_id: string;
  /** Canonical entry bytes (ballot, manifest, tally); absent for close. */
  readonly entry?: Uint8Array;
  /** close: the issuer's count of tokens handed out. */
  readonly issued?: number;
  /** close: RFC 3339 UTC. */
  readonly closed_at?: string;
}

export type Reply =
  | {
      readonly id: string;
      readonly status: 'appended' | 'duplicate';
      readonly leaf_index: number;
      readonly leaf_hash: Uint8Array;
      readonly checkpoint: string;
      readonly inclusion_proof: readonly Uint8Array[];
    }
  | { readonly id: string; readonly status: 'spent'; readonly index: number }
  | { readonly id: string; readonly status: 'closed' }
  | { readonly id: string; readonly status: 'ok' }
  | { readonly id: string; readonly status: 'refused'; readonly reason: 'rejected' | 'conflict' | 'unknown_poll'; readonly message: string };

export function encodeCommand(command: Command): Uint8Array {
  const { entry, ...rest } = command;
  return Buffer.from(JSON.stringify(entry === undefined ? rest : { ...rest, entry: toBase64(entry) }));
}

export function decodeCommand(bytes: Uint8Array): Command {
  const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const kind = json['kind'];
  if (typeof json['id'] !== 'string' || typeof json['reply_to'] !== 'string' || typeof json['poll_id'] !== 'string') throw new Error('board command: id, reply_to and poll_id must be strings');
  if (kind !== 'ballot' && kind !== 'publish' && kind !== 'close' && kind !== 'tally') throw new Error(`board command: unknown kind ${JSON.stringify(kind)}`);
  if (kind !== 'close' && typeof json['entry'] !== 'string') throw new Error(`board command: a ${kind} carries its entry`);
  if (kind === 'close' && (typeof json['issued'] !== 'number' || typeof json['closed_at'] !== 'string')) throw new Error('board command: a close carries issued and closed_at');
  return {
    id: json['id'],
    reply_to: json['reply_to'],
    kind,
    poll_id: json['poll_id'],
    ...(typeof json['entry'] === 'string' ? { entry: fromBase64(json['entry'], 'board command entry') } : {}),
    ...(typeof json['issued'] === 'number' ? { issued: json['issued'] } : {}),
    ...(typeof json['closed_at'] === 'string' ? { closed_at: json['closed_at'] } : {}),
  };
}

export function encodeReply(reply: Reply): string {
  if (reply.status === 'appended' || reply.status === 'duplicate') {
    return JSON.stringify({ ...reply, leaf_hash: toBase64(reply.leaf_hash), inclusion_proof: reply.inclusion_proof.map(toBase64) });
  }
  return JSON.stringify(reply);
}

export function decodeReply(text: string): Reply {
  const json = JSON.parse(text) as Record<string, unknown> & Reply;
  if (json.status === 'appended' || json.status === 'duplicate') {
    return {
      ...json,
      leaf_hash: fromBase64(json['leaf_hash'], 'reply leaf_hash', 32),
      inclusion_proof: (json['inclusion_proof'] as unknown[]).map((h) => fromBase64(h, 'reply inclusion_proof', 32)),
    };
  }
  return json;
}

/** Names in Redis and Kafka, made from one configurable prefix per deployment. */
export interface Names {
  /** Board writes in, keyed by poll id: ballots (ballot boxes), manifests and closes (issuer), tallies (talliers). */
  readonly commandsTopic: string;
  /** What the sequencer committed, keyed by poll id: one record per batch per poll (poll id, new size). */
  readonly entriesTopic: string;
  readonly sequencerGroup: string;
  readonly tallierGroup: string;
  replyChannel(instance: string): string;
}

export function names(kafkaPrefix: string, redisPrefix: string): Names {
  return {
    commandsTopic: `${kafkaPrefix}board-commands`,
    entriesTopic: `${kafkaPrefix}board-entries`,
    sequencerGroup: `${kafkaPrefix}sequencer`,
    tallierGroup: `${kafkaPrefix}tallier`,
    replyChannel: (instance) => `${redisPrefix}replies:${instance}`,
  };
}

/** Sends commands and waits for their replies on this process's own Redis channel. */
export class BoardClient {
  readonly #producer: BusProducer;
  readonly #subscriber: Redis;
  readonly #names: Names;
  readonly #instance = randomUUID();
  readonly #waiting = new Map<string, (reply: Reply) => void>();
  #subscribed: Promise<unknown> | null = null;

  readonly #onSent: (records: number) => void;

  /** `subscriber` MUST be a connection of its own (Redis puts it in subscriber mode). `onSent` counts produced commands (metrics). */
  constructor(producer: BusProducer, subscriber: Redis, names: Names, onSent: (records: number) => void = () => {}) {
    this.#onSent = onSent;
    this.#producer = producer;
    this.#subscriber = subscriber;
    this.#names = names;
    subscriber.on('message', (_channel: string, message: string) => {
      let reply: Reply;
      try {
        reply = decodeReply(message);
      } catch {
        return;
      }
      this.#waiting.get(reply.id)?.(reply);
    });
  }

  /** Produces the command (durable when this resolves) and waits up to `waitMs` for its reply. */
  async request(command: Omit<Command, 'id' | 'reply_to'>, waitMs: number): Promise<Reply | null> {
    // A failed subscription is tried again by the next request (Redis may be back by then).
    this.#subscribed ??= this.#subscriber.subscribe(this.#names.replyChannel(this.#instance)).catch((err: unknown) => {
      this.#subscribed = null;
      throw new Error(`board commands: cannot subscribe to replies in Redis (${(err as Error).message}); nothing was sent, retry`, { cause: err });
    });
    await this.#subscribed;
    const id = randomUUID();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = new Promise<Reply | null>((resolve) => {
      this.#waiting.set(id, resolve);
      timer = setTimeout(() => resolve(null), waitMs);
    });
    try {
      await this.#producer.send(this.#names.commandsTopic, [{ key: command.poll_id, value: encodeCommand({ ...command, id, reply_to: this.#instance }) }]);
      this.#onSent(1);
      return await reply;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(id);
    }
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}
