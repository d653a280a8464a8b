/**
 * Reading a board: the three resources of a C2SP tlog-tiles log (https://c2sp.org/tlog-tiles),
 * through small fetcher functions (as Tessera's client), so that the same audit, receipt and
 * monitor code runs over HTTP and over an exported directory (`bulletin-board/src/export.ts`).
 *
 *     <prefix>/checkpoint                  signed note (C2SP tlog-checkpoint), ≤ MAX_NOTE_SIZE
 *     <prefix>/tile/<L>/<N>[.p/<W>]        hash tile, ≤ 256 hashes = 8192 bytes
 *     <prefix>/tile/entries/<N>[.p/<W>]    entry bundle, ≤ W entries of ≤ 65535 bytes + 2
 *
 * Contracts:
 *   - Paths come only from crypto's `tilePath` / `entriesPath` (one spelling per resource).
 *   - A partial tile or bundle (`.p/<W>`) that is not found (HTTP 404, no such file) is fetched
 *     again as the full tile: tlog-tiles lets a log delete partial tiles once they are full, and
 *     a full tile holds the partial one as its prefix. Callers MUST therefore accept a result
 *     wider than they asked for and read only its first W hashes / entries.
 *   - Every response is size-capped BEFORE it is buffered (Content-Length, then a counting
 *     reader; `stat` for files): a hostile board cannot exhaust memory.
 *   - Failures are `BoardFetchError`s naming the URL or file and, for HTTP, the status. Nothing
 *     fetched here is trusted: it is evidence until a signature or proof checks it.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { MAX_ENTRY_SIZE, MAX_NOTE_SIZE, TILE_WIDTH, entriesPath, tilePath } from '@blindvote/crypto';

/** Largest hash tile: 256 hashes of 32 bytes. */
export const MAX_TILE_SIZE = TILE_WIDTH * 32;
/** Largest encoded entry: its 2-byte length prefix and at most 65535 bytes. */
export const MAX_ENCODED_ENTRY_SIZE = 2 + MAX_ENTRY_SIZE;
/** Redirects followed for one HTTP request (within the board's origin only). */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Default time allowed for one HTTP request, headers and body. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A board's resources, fetched. Each function is independent (Tessera: one fetcher per resource). */
export interface BoardFetcher {
  /** Where the board is read from (a URL prefix or a directory), for messages. */
  readonly location: string;
  /**
   * The checkpoint origin the location implies, when it implies one: for an HTTP board, the prefix
   * URL without its scheme (DESIGN.md "Checkpoint origin"). Undefined for a directory.
   */
  readonly origin: string | undefined;
  /** The signed checkpoint note, as text. */
  checkpoint(): Promise<string>;
  /** Hash tile (level, index) at `width` (1..256): the partial tile, or the full one if that is all there is. */
  tile(level: number, index: number, width: number): Promise<Uint8Array>;
  /** Entry bundle `index` at `width` (1..256): the partial bundle, or the full one if that is all there is. */
  bundle(index: number, width: number): Promise<Uint8Array>;
}

/** A resource that could not be read: which one, and why. */
export class BoardFetchError extends Error {
  override name = 'BoardFetchError';
  /** The URL or file path. */
  readonly resource: string;
  /** The HTTP status, when a response came back. */
  readonly status: number | undefined;
  /** True when the resource does not exist (HTTP 404, no such file). */
  readonly notFound: boolean;

  constructor(resource: string, message: string, options: { status?: number; notFound?: boolean; cause?: unknown } = {}) {
    super(`${resource}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.resource = resource;
    this.status = options.status;
    this.notFound = options.notFound ?? false;
  }
}

function checkWidth(width: number): number {
  if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new RangeError(`width ${String(width)} is not in 1..${TILE_WIDTH}`);
  }
  return width;
}

/** The path of a tile or bundle at `width` (a full tile has no `.p/` suffix). */
const partial = (width: number): number | undefined => (width === TILE_WIDTH ? undefined : width);

/**
 * Shared by both fetchers: read `path(width)` with cap `limit(width)`; if it is partial and not
 * found, read the full resource instead.
 */
async function withFallback(
  read: (path: string, limit: number) => Promise<Uint8Array>,
  path: (width: number | undefined) => string,
  limit: (width: number) => number,
  width: number,
): Promise<Uint8Array> {
  checkWidth(width);
  try {
    return await read(path(partial(width)), limit(width));
  } catch (err) {
    if (width === TILE_WIDTH || !(err instanceof BoardFetchError) || !err.notFound) throw err;
    return read(path(undefined), limit(TILE_WIDTH));
  }
}

const tileLimit = (): number => MAX_TILE_SIZE;
const bundleLimit = (width: number): number => width * MAX_ENCODED_ENTRY_SIZE;

function noteText(bytes: Uint8Array, resource: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new BoardFetchError(resource, 'checkpoint is not valid UTF-8');
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpFetcherOptions {
  /** Per request, headers and body (default 30 s). */
  readonly timeoutMs?: number;
}

/**
 * Normalises a board prefix URL: http(s) only, no credentials, query or fragment; trailing
 * slashes dropped. Throws RangeError with a message fit for a user otherwise.
 */
export function boardUrl(prefix: string): URL {
  let url: URL;
  try {
    url = new URL(prefix);
  } catch {
    throw new RangeError(`not a URL: ${JSON.stringify(prefix)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`${prefix}: the board URL must be http or https`);
  if (url.username !== '' || url.password !== '') throw new RangeError(`${prefix}: the board URL must not carry credentials`);
  if (url.search !== '' || url.hash !== '') throw new RangeError(`${prefix}: the board URL must not have a query or fragment`);
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/**
 * Reads a board over HTTP(S) under `prefixUrl` (e.g. `https://vote.example/poll/budget-2025`)
 * with the global `fetch`. Redirects are followed within the board's origin only (at most
 * MAX_REDIRECTS); any status but 200 is an error (404 marked
 * `notFound`, which triggers the full-tile fallback).
 */
export function httpFetcher(prefixUrl: string, options: HttpFetcherOptions = {}): BoardFetcher {
  const base = boardUrl(prefixUrl);
  const prefix = base.href.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const read = async (path: string, limit: number): Promise<Uint8Array> => {
    const url = `${prefix}/${path}`;
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response;
    let at = url;
    for (let hops = 0; ; hops++) {
      try {
        res = await fetch(at, { signal, redirect: 'manual' });
      } catch (err) {
        throw new BoardFetchError(url, signal.aborted ? `no response within ${timeoutMs} ms` : `request failed: ${causeMessage(err)}`, { cause: err });
      }
      if (!REDIRECTS.has(res.status)) break;
      // Redirects are followed only within the board's own origin (scheme, host, port): a board
      // MUST NOT send the verifier to other hosts (internal addresses, plain http) or round in circles.
      await res.body?.cancel().catch(() => {});
      const location = res.headers.get('location');
      let next: URL | undefined;
      try {
        next = location === null ? undefined : new URL(location, at);
      } catch {
        next = undefined;
      }
      if (next === undefined) throw new BoardFetchError(url, `HTTP ${res.status} redirect without a valid Location`, { status: res.status });
      if (next.origin !== base.origin) {
        throw new BoardFetchError(url, `HTTP ${res.status} redirect to another origin (${next.origin}), not followed: a board is read from ${base.origin} only`, { status: res.status });
      }
      if (hops >= MAX_REDIRECTS) throw new BoardFetchError(url, `more than ${MAX_REDIRECTS} redirects`, { status: res.status });
      at = next.href;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const notFound = res.status === 404;
      throw new BoardFetchError(url, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, { status: res.status, notFound });
    }
    const declared = res.headers.get('content-length');
    if (declared !== null && Number(declared) > limit) {
      await res.body?.cancel().catch(() => {});
      throw new BoardFetchError(url, `response of ${declared} bytes, at most ${limit} expected`, { status: res.status });
    }
    try {
      return await readCapped(res, limit, url);
    } catch (err) {
      if (err instanceof BoardFetchError) throw err;
      throw new BoardFetchError(url, signal.aborted ? `body not received within ${timeoutMs} ms` : `reading the body failed: ${causeMessage(err)}`, { cause: err });
    }
  };

  return {
    location: prefix,
    origin: prefix.slice(base.protocol.length + 2),
    checkpoint: async () => noteText(await read('checkpoint', MAX_NOTE_SIZE), `${prefix}/checkpoint`),
    tile: (level, index, width) => withFallback(read, (w) => tilePath(level, index, w), tileLimit, width),
    bundle: (index, width) => withFallback(read, (w) => entriesPath(index, w), bundleLimit, width),
  };
}

/** The body, refusing (and cancelling) once it passes `limit` bytes. */
async function readCapped(res: Response, limit: number, url: string): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BoardFetchError(url, `response larger than ${limit} bytes`, { status: res.status });
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function causeMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  // undici reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND…) in `cause`.
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}

// ---------------------------------------------------------------------------------------------
// Directory

/**
 * Reads a board exported as a static tlog-tiles directory (`exportLog`, or a mirror). A missing
 * file is `notFound`; a file above the cap is refused before it is read.
 */
export function dirFetcher(path: string): BoardFetcher {
  const root = isAbsolute(path) ? path : resolve(path);

  const read = async (rel: string, limit: number): Promise<Uint8Array> => {
    const file = join(root, rel);
    let handle;
    try {
      // O_NONBLOCK: opening a FIFO (or a device) planted in a mirror MUST NOT block; fstat below refuses it.
      handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const notFound = code === 'ENOENT' || code === 'ENOTDIR';
      throw new BoardFetchError(file, notFound ? 'no such file' : `cannot open: ${causeMessage(err)}`, { notFound, cause: err });
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new BoardFetchError(file, 'not a regular file');
      if (info.size > limit) throw new BoardFetchError(file, `${info.size} bytes, at most ${limit} expected`);
      const out = new Uint8Array(info.size);
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await handle.read(out, at, out.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === out.length ? out : out.subarray(0, at);
    } catch (err) {
      if (err instanceof BoardFetchError) throw err;
      throw new BoardFetchError(file, `cannot read: ${causeMessage(err)}`, { cause: err });
    } finally {
      await handle.close();
    }
  };

  return {
    location: root,
    origin: undefined,
    checkpoint: async () => noteText(await read('checkpoint', MAX_NOTE_SIZE), join(root, 'checkpoint')),
    tile: (level, index, width) => withFallback(read, (w) => tilePath(level, index, w), tileLimit, width),
    bundle: (index, width) => withFallback(read, (w) => entriesPath(index, w), bundleLimit, width),
  };
}

/**
 * The fetcher for what a user typed: an http(s) URL, or an existing directory. Throws RangeError
 * with a message saying what to fix otherwise.
 */
export async function openBoard(location: string, options: HttpFetcherOptions = {}): Promise<BoardFetcher> {
  if (/^https?:\/\//i.test(location)) return httpFetcher(location, options);
  let info;
  try {
    info = await stat(location);
  } catch {
    throw new RangeError(`${location}: neither an http(s) URL nor an existing directory`);
  }
  if (!info.isDirectory()) throw new RangeError(`${location}: not a directory (give the board's URL or an exported tlog-tiles directory)`);
  return dirFetcher(location);
}
