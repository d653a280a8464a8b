/**
 * A small client of the service's public HTTP API, shared by `simulate`, the end-to-end tests
 * and the bench: JSON calls with precise errors, a bounded-concurrency pool, and the admin's
 * "create, roll, publish" sequence.
 */
import { Poll, formatTime } from '@blindvote/crypto';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(method: string, path: string, status: number, message: string) {
    super(`${method} ${path}: ${status} ${message}`);
    this.status = status;
  }
}

/** A small JSON client for the service's API. */
export class Api {
  readonly base: string;
  constructor(base: string) {
    this.base = base.replace(/\/+$/, '');
  }

  async call<T = any>(method: string, path: string, options: { body?: unknown; token?: string; text?: string; contentType?: string } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    } else if (options.text !== undefined) {
      headers['content-type'] = options.contentType ?? 'text/plain';
      body = options.text;
    }
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    const response = await fetch(`${this.base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), credentials: 'omit' } as RequestInit);
    const text = await response.text();
    let json: any = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!response.ok) throw new ApiError(method, path, response.status, json?.message ?? text.slice(0, 200));
    return json as T;
  }

  async login(username: string, password: string): Promise<string> {
    const session = await this.call<{ token: string }>('POST', '/v1/sessions', { body: { username, password } });
    return session.token;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; collects errors instead of stopping. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>, errors: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        if (errors.length < 100) errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 202 answer to a ballot (distributed mode): durable, not yet on the board. */
export interface AcceptanceJSON {
  readonly v: 1;
  readonly poll_id: string;
  readonly leaf_hash: string;
  readonly accepted_at: string;
  readonly max_merge_delay: number;
  /** Signed note (crypto's Acceptance). */
  readonly acceptance: string;
  /** Path of the receipt exchange. */
  readonly receipt: string;
}

/**
 * Casts a ballot and returns its receipt JSON. A 202 (signed acceptance: durable, not yet decided
 * by the board) is followed by resubmitting the identical ballot once a second until the board
 * decided: its receipt, or the refusal with its evidence (409 naming the entry that spent the
 * token, 410 after the close), thrown as ApiError. `onAccepted` sees each acceptance first (the
 * voter's signed evidence if the board never decides within the promised merge delay).
 */
export async function castBallot(api: Api, ballot: { toJSON(): unknown }, onAccepted?: (acceptance: AcceptanceJSON) => void): Promise<any> {
  let deadline = Infinity;
  for (;;) {
    const answer = await api.call('POST', '/v1/ballots', { body: ballot.toJSON() });
    if (typeof answer?.acceptance !== 'string') return answer;
    const accepted = answer as AcceptanceJSON;
    onAccepted?.(accepted);
    if (deadline === Infinity) deadline = Date.now() + (accepted.max_merge_delay + 5) * 1000;
    if (Date.now() > deadline) throw new ApiError('POST', '/v1/ballots', 202, `accepted but not decided by the board within ${accepted.max_merge_delay} s; keep the signed acceptance as evidence`);
    await sleep(1000);
  }
}

/** Waits until the tallier reports the poll tallied (or `timeoutMs` passes). */
export async function awaitTally(api: Api, pollId: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const results = await api.call('GET', `/v1/results/${pollId}`);
    if (results.state === 'tallied' || results.state === 'error') return results;
    if (Date.now() > deadline) throw new Error(`poll ${pollId}: no tally after ${timeoutMs} ms (state ${results.state})`);
    await sleep(100);
  }
}

export interface PollSpec {
  readonly poll_id: string;
  readonly title: string;
  readonly description?: string;
  readonly options: readonly { readonly id: string; readonly label: string }[];
  readonly kind: 'single' | 'multi';
  readonly max_choices: number;
  /** How long the poll stays open from one second ago (default one hour). */
  readonly openForMs?: number;
  readonly results?: 'live' | 'sealed';
}

/** As the admin: creates the poll (open from one second ago), sets its roll, publishes it. */
export async function publishPoll(api: Api, admin: string, spec: PollSpec, accounts: readonly string[]): Promise<{ poll: Poll; board: string }> {
  const now = Date.now();
  const { openForMs = 3600_000, results = 'live', description = '', ...fields } = spec;
  await api.call('POST', '/v1/polls', {
    token: admin,
    body: { ...fields, description, opens_at: formatTime(now - 1000), closes_at: formatTime(now + openForMs), results },
  });
  const roll = await api.call('PUT', `/v1/polls/${spec.poll_id}/roll`, { token: admin, text: ['account', ...accounts].join('\n'), contentType: 'text/csv' });
  if (roll.errors.length > 0) throw new Error(`poll ${spec.poll_id}: the roll refused ${roll.errors.length} row(s), e.g. ${JSON.stringify(roll.errors[0])}`);
  await api.call('POST', `/v1/polls/${spec.poll_id}/publish`, { token: admin });
  const info = await api.call('GET', `/v1/polls/${spec.poll_id}`);
  return { poll: Poll.fromJSON(info.manifest), board: info.board };
}
