/**
 * The service's HTTP API, same-origin (all-in-one) except the ballot box, which may live on
 * another origin (`VITE_BALLOT_BOX_URL` at build time). Every failure becomes an ApiError whose
 * message says what happened and what to do: the UI shows it as is, never a blank screen.
 */
import { session } from './store.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Where ballots go: '' is this origin. MUST receive no credentials (DESIGN.md promise 5). */
export const BALLOT_BOX_URL: string = (import.meta as { env?: Record<string, string> }).env?.['VITE_BALLOT_BOX_URL'] ?? '';

export interface CallOptions {
  readonly body?: unknown;
  readonly csv?: string;
  /** Send the signed-in session's bearer token (default true). */
  readonly auth?: boolean;
  readonly bearer?: string;
}

function explain(status: number, code: string, message: string): string {
  if (status === 401) return `${message} — sign in again.`;
  if (status === 429) return `${message} — too many requests; wait a minute and try again.`;
  if (status >= 500) return `The service failed (${status}): ${message}. Try again in a moment; if it persists, tell the poll's organiser.`;
  return code === '' ? message : message;
}

/** Sends a request; resolves the JSON body of a 2xx, else throws ApiError. */
export async function call<T>(method: string, url: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  } else if (options.csv !== undefined) {
    headers['content-type'] = 'text/csv';
    body = options.csv;
  }
  const bearer = options.bearer ?? (options.auth === false ? undefined : session()?.token);
  if (bearer !== undefined) headers['authorization'] = `Bearer ${bearer}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body } : {}) });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The connection to the service failed. Check your network and try again.');
  }
  return read<T>(response);
}

export async function read<T>(response: Response): Promise<T> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!response.ok) {
    const err = (json ?? {}) as { code?: string; message?: string };
    const message = err.message ?? `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, err.code ?? '', explain(response.status, err.code ?? '', message));
  }
  return json as T;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Shapes of the replies the client reads (the OpenAPI document at /openapi.json has them all).

export type PollState = 'draft' | 'upcoming' | 'open' | 'closed';

export interface PollSummary {
  poll_id: string;
  title: string;
  state: PollState;
  opens_at: string;
  closes_at: string;
  results: 'live' | 'sealed';
  board: string | null;
}

export interface PollDetail extends PollSummary {
  description: string;
  options: { id: string; label: string }[];
  kind: 'single' | 'multi';
  max_choices: number;
  manifest?: unknown;
  eligible?: boolean;
  token_issued?: boolean;
}

export interface SessionReply {
  token: string;
  expires_at: string;
  account: string;
  admin: boolean;
}

export interface RollReply {
  size: number;
  commitment: string;
  errors: { row: number; value: string; error: string }[];
}

export interface ResultsSnapshot {
  poll_id: string;
  state: 'open' | 'closed' | 'tallied' | 'error';
  tree_size: number;
  ballots: number;
  ballots_counted: number | null;
  ballots_rejected: number | null;
  counts: Record<string, number> | null;
  final: {
    tally: { type: 'tally'; v: 1; poll_id: string; tree_size: number; root: string; counts: Record<string, number>; ballots_counted: number; ballots_rejected: number };
    verified: true;
    checkpoint: string;
  } | null;
  error?: string;
}
