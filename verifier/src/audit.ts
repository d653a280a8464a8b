/**
 * The full audit of a board (DESIGN.md promise 6, "anyone can recount"): replays a poll's whole
 * log from its C2SP tlog-tiles layout and checks everything DESIGN.md "Wire formats, version 1"
 * says about it, reporting every check (Belenios style), never only the first failure.
 *
 * What is checked, and against which spec:
 *   checkpoint            the signed note parses (C2SP signed-note, tlog-checkpoint)
 *   board-key             which key is trusted: given out of band, or (weaker, and said so) the
 *                         manifest's own `board_key`, which proves only self-consistency
 *   checkpoint-signature  the checkpoint verifies under that key (Ed25519, C2SP signed-note)
 *   checkpoint-origin     origin = the expected one (given, or the board URL without its scheme)
 *                         and of the form `<host>/poll/<manifest poll_id>` (DESIGN.md)
 *   entries               every entry bundle (tlog-tiles) is read: exactly `size` entries
 *   hash-tiles            every stored hash tile equals the tree recomputed from the entries
 *   root                  the RFC 9162 root of the entries equals the checkpoint's root
 *   manifest              entry 0 is a valid `poll` manifest (and carries the trusted board key)
 *   entry-format          every later entry is a canonical v1 entry (`parseEntry`)
 *   entry-order           poll, ballots, at most one close, then at most one tally, nothing else
 *   ballots               every ballot is for this poll with a valid choice (`Poll.checkBallot`)
 *   token-signatures      every ballot's token verifies under the manifest's key (RFC 9474)
 *   token-reuse           no token id appears twice (DESIGN.md promise 2; the indexes are evidence)
 *   close                 ballots = ballot entries before it, ballots ≤ issued ≤ roll size
 *   tally-commitment      the tally's tree_size/root are the board's up to and including close
 *   tally-counts          the tally equals the recount (each option's difference is evidence)
 *
 * The recount is crypto's `Recount`, the one rule the tallier counts with too: a ballot counts iff
 * it comes before the close entry, passes `Poll.checkBallot`, its token verifies, and no EARLIER
 * ballot on the board carries the same token id. Every other entry between the manifest and the
 * close is a rejected ballot, so `ballots_rejected` = (close index − 1) − `ballots_counted`.
 *
 * Trust: the checkpoint is verified, but the audit goes on against its claimed size and root even
 * when the signature fails, so that the report names what else is wrong. Nothing fetched is
 * trusted until these checks pass.
 *
 * Memory: bundles are streamed (a few fetched ahead), hash tiles are compared as soon as the
 * recomputed tree completes them; kept are the token ids (hex), the counts, one recomputed tile
 * per tile level, and at most MAX_EVIDENCE_ITEMS evidence items per check.
 */
import {
  Checkpoint,
  Close,
  CompactRange,
  HASH_SIZE,
  Poll,
  Recount,
  TILE_HEIGHT,
  TILE_WIDTH,
  Tally,
  TokenVerifier,
  VerifierKey,
  decodeBundle,
  equalBytes,
  leafHash,
  openCheckpoint,
  parseEntry,
  parseNote,
  tilePath,
  toHex,
} from '@blindvote/crypto';
import type { Entry } from '@blindvote/crypto';
import type { Check } from './checks.ts';
import { EvidenceList, errorMessage, fail, indexList, pass } from './checks.ts';
import type { BoardFetcher } from './fetch.ts';

export const AUDIT_CHECKS = [
  'checkpoint',
  'board-key',
  'checkpoint-signature',
  'checkpoint-origin',
  'entries',
  'hash-tiles',
  'root',
  'manifest',
  'entry-format',
  'entry-order',
  'ballots',
  'token-signatures',
  'token-reuse',
  'close',
  'tally-commitment',
  'tally-counts',
] as const;
export type AuditCheckName = (typeof AUDIT_CHECKS)[number];

export interface AuditProgress {
  /** Entries read so far. */
  readonly entries: number;
  /** The checkpoint's tree size. */
  readonly size: number;
  readonly bundles: number;
  readonly totalBundles: number;
}

export interface AuditOptions {
  /**
   * The board's C2SP verifier key, obtained out of band (from the organisers, a witness, a
   * newspaper). Without it the manifest's own `board_key` is used, and the `board-key` check says
   * that this proves only that the board is self-consistent.
   */
  readonly boardKey?: string;
  /** The expected checkpoint origin; default: the fetcher's (an HTTP board's URL without scheme). */
  readonly origin?: string;
  /** Called after every bundle. */
  readonly onProgress?: (progress: AuditProgress) => void;
  /** Bundles fetched ahead of the one being checked (default 4). */
  readonly prefetch?: number;
}

type Fetched = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly error: string };

/**
 * Bundles in a row that may fail to be read (or be short) before the audit stops reading: a checkpoint can
 * claim any size up to 2^53 − 1, and a board that serves nothing MUST NOT keep the audit busy.
 */
export const MAX_UNREADABLE_RUN = 16;

/**
 * Token checks in flight while later bundles are parsed: they run on the platform's thread pool
 * (`offThread`), so parsing and verifying overlap on every core; the bound keeps memory flat.
 */
const MAX_UNSETTLED = 4 * TILE_WIDTH;

/**
 * Audits the board behind `fetcher`. Resolves with every check in AUDIT_CHECKS order; never
 * rejects because of what the board serves (unreadable or malformed resources are failed checks).
 */
export async function audit(fetcher: BoardFetcher, options: AuditOptions = {}): Promise<Check[]> {
  const results = new Map<AuditCheckName, Check>();
  const set = (c: Check) => results.set(c.check as AuditCheckName, c);
  const report = () => AUDIT_CHECKS.flatMap((name) => results.get(name) ?? []);

  let note: string;
  try {
    note = await fetcher.checkpoint();
  } catch (err) {
    set(fail('checkpoint', `cannot read the checkpoint: ${errorMessage(err)}`));
    return report();
  }
  let claimed: Checkpoint;
  try {
    claimed = Checkpoint.parse(parseNote(note).text);
  } catch (err) {
    set(fail('checkpoint', `malformed checkpoint: ${errorMessage(err)}`, { checkpoint: note }));
    return report();
  }
  set(pass('checkpoint', `origin ${claimed.origin}, size ${claimed.size}, root ${toHex(claimed.root)} (as claimed; see checkpoint-signature)`));

  let givenKey: VerifierKey | undefined;
  if (options.boardKey !== undefined) {
    try {
      givenKey = new VerifierKey(options.boardKey);
      set(pass('board-key', `given out of band: ${givenKey.id}`));
    } catch (err) {
      set(fail('board-key', `the board key given is not a C2SP verifier key: ${errorMessage(err)}`));
    }
  }

  const replay = new Replay(fetcher, claimed.size);
  await replay.run(options.prefetch ?? 4, options.onProgress);
  const poll = replay.manifest;

  // Trust: the given key, else the manifest's.
  let key = givenKey;
  if (options.boardKey === undefined) {
    if (poll === null) {
      set(fail('board-key', 'no board key: none was given and there is no valid manifest to take one from'));
    } else {
      key = new VerifierKey(poll.board_key);
      set(
        pass(
          'board-key',
          `taken from the board's own manifest (entry 0): ${key.id}. A key taken from the board itself proves only ` +
            'that the board is self-consistent; pass the key obtained out of band (--board-key) to prove it is the board that was published',
        ),
      );
    }
  }
  if (key === undefined) {
    set(fail('checkpoint-signature', 'not checked: no usable board key'));
  } else {
    try {
      openCheckpoint(note, [key]);
      set(pass('checkpoint-signature', `signed by ${key.id}`));
    } catch (err) {
      set(fail('checkpoint-signature', `${errorMessage(err)}: the checkpoint is not signed by ${key.id}`, { checkpoint: note, board_key: key.text }));
    }
  }

  set(originCheck(claimed.origin, options.origin, fetcher.origin, poll));
  for (const c of replay.treeChecks(claimed)) set(c);
  set(replay.manifestCheck(givenKey));
  for (const c of replay.entryChecks()) set(c);
  return report();
}

function originCheck(origin: string, given: string | undefined, implied: string | undefined, poll: Poll | null): Check {
  const problems: string[] = [];
  const expected = given ?? implied;
  if (expected !== undefined && origin !== expected) {
    problems.push(
      given !== undefined
        ? `the checkpoint's origin is ${JSON.stringify(origin)}, expected ${JSON.stringify(given)} (as given)`
        : `the checkpoint's origin is ${JSON.stringify(origin)}, but the board URL gives ${JSON.stringify(implied)}; if this is a mirror, pass the board's origin (--origin)`,
    );
  }
  if (poll !== null) {
    const suffix = `/poll/${poll.poll_id}`;
    if (!origin.endsWith(suffix) || origin.length === suffix.length) {
      problems.push(`the origin ${JSON.stringify(origin)} is not <host>${suffix}, the manifest's poll`);
    }
  }
  if (problems.length > 0) return fail('checkpoint-origin', problems.join('; '), { origin, expected: expected ?? null });
  if (expected === undefined && poll === null) return fail('checkpoint-origin', `not checked: no expected origin and no manifest to check ${JSON.stringify(origin)} against`);
  return pass('checkpoint-origin', `${origin}${expected === undefined ? ` (ends in /poll/${poll!.poll_id}; no expected origin given)` : ''}`);
}

interface TileMismatch {
  readonly tile: string;
  readonly level: number;
  readonly index: number;
  readonly entry?: number;
  readonly stored: string;
  readonly recomputed: string;
}

/** The streaming state of one audit. */
class Replay {
  readonly #fetcher: BoardFetcher;
  readonly size: number;
  readonly totalBundles: number;

  // The tree, recomputed; `gap` is the first entry that could not be read (the tree stops there).
  readonly #range = new CompactRange();
  gap: number | null = null;
  entriesRead = 0;
  /** Bundles in a row that could not be read. */
  #unreadableRun = 0;
  readonly bundleProblems = new EvidenceList<{ bundle: number; error: string }>();

  // Hash tiles: per tile level, the index of the tile being filled and its recomputed hashes.
  readonly #tileIndex: number[] = [];
  readonly #tileHashes: Uint8Array[][] = [];
  #pending: Promise<void>[] = [];
  tilesCompared = 0;
  readonly tileMismatches = new EvidenceList<TileMismatch>();
  readonly tileErrors = new EvidenceList<{ tile: string; error: string }>();

  // Entries.
  manifest: Poll | null = null;
  manifestError: string | null = null;
  #verifier: Promise<TokenVerifier> | null = null;
  verifierError: string | null = null;
  /** The recount of the ballots; null without a valid manifest. */
  #recount: Recount | null = null;
  readonly formatErrors = new EvidenceList<{ index: number; error: string }>();
  readonly orderErrors = new EvidenceList<{ index: number; error: string }>();
  readonly ballotErrors = new EvidenceList<{ index: number; error: string }>();
  /** Filled as checks finish on the thread pool, so kept in entry order. */
  readonly tokenFailures = new EvidenceList<{ index: number; token_id: string; error: string }>((a, b) => a.index - b.index);
  ballots = 0;
  ballotsBeforeClose = 0;
  close: { index: number; entry: Close; root: Uint8Array | null; ballotsBefore: number } | null = null;
  tally: { index: number; entry: Tally } | null = null;

  constructor(fetcher: BoardFetcher, size: number) {
    this.#fetcher = fetcher;
    this.size = size;
    this.totalBundles = Math.ceil(size / TILE_WIDTH);
  }

  async run(prefetch: number, onProgress: AuditOptions['onProgress']): Promise<void> {
    const ahead = Math.max(1, Math.floor(prefetch));
    const inflight = new Map<number, Promise<Fetched>>();
    const start = (b: number) => {
      if (b >= this.totalBundles || inflight.has(b)) return;
      inflight.set(
        b,
        this.#fetcher.bundle(b, this.#width(b)).then(
          (bytes): Fetched => ({ ok: true, bytes }),
          (err): Fetched => ({ ok: false, error: errorMessage(err) }),
        ),
      );
    };
    for (let b = 0; b < this.totalBundles; b++) {
      for (let k = b; k <= b + ahead; k++) start(k);
      const fetched = await inflight.get(b)!;
      inflight.delete(b);
      this.#bundle(b, fetched);
      await this.#recount?.settle(MAX_UNSETTLED);
      await Promise.all(this.#pending.splice(0));
      onProgress?.({ entries: this.entriesRead, size: this.size, bundles: b + 1, totalBundles: this.totalBundles });
      if (this.#unreadableRun >= MAX_UNREADABLE_RUN && b + 1 < this.totalBundles) {
        this.bundleProblems.add({
          bundle: b + 1,
          error: `stopped reading: ${MAX_UNREADABLE_RUN} bundles in a row could not be read (or were incomplete); bundles ${b + 1}..${this.totalBundles - 1} were not tried`,
        });
        break;
      }
    }
    if (this.gap === null) this.#flushPartialTiles();
    await this.#recount?.settle();
    await Promise.all(this.#pending.splice(0));
    // Settles verifierError even when there was no ballot to verify.
    await this.#verifier?.catch(() => {});
  }

  #width(b: number): number {
    return Math.min(TILE_WIDTH, this.size - b * TILE_WIDTH);
  }

  #bundle(b: number, fetched: Fetched): void {
    const first = b * TILE_WIDTH;
    const width = this.#width(b);
    let entries: Uint8Array[];
    this.#unreadableRun++;
    if (!fetched.ok) {
      this.bundleProblems.add({ bundle: b, error: fetched.error });
      this.gap ??= first;
      return;
    }
    try {
      entries = decodeBundle(fetched.bytes);
    } catch (err) {
      this.bundleProblems.add({ bundle: b, error: `${errorMessage(err)} (entries ${first}..${first + width - 1})` });
      this.gap ??= first;
      return;
    }
    // Only a complete bundle ends a run: a board serving one-entry bundles for a huge claimed
    // size MUST NOT keep the audit busy either.
    if (entries.length >= width) this.#unreadableRun = 0;
    if (entries.length < width) {
      // Read what is there as a prefix; the hash tiles say whether anything shifted.
      this.bundleProblems.add({ bundle: b, error: `${entries.length} entries, the checkpoint needs ${width} (entries ${first + entries.length}..${first + width - 1} missing)` });
    } else if (entries.length > width && entries.length !== TILE_WIDTH) {
      // A full bundle (256) is the partial one's tlog-tiles fallback; anything else is malformed.
      this.bundleProblems.add({ bundle: b, error: `${entries.length} entries in a bundle of width ${width}` });
    }
    const n = Math.min(width, entries.length);
    for (let j = 0; j < n; j++) this.#entry(first + j, entries[j]!);
    if (n < width) this.gap ??= first + n;
  }

  #entry(index: number, bytes: Uint8Array): void {
    this.entriesRead++;
    if (this.gap === null) {
      this.#range.append(leafHash(bytes), (level, nodeIndex, hash) => this.#node(level, nodeIndex, hash));
    }
    if (index === 0) {
      this.#manifestEntry(bytes);
      return;
    }
    if (this.tally !== null) this.orderErrors.add({ index, error: `an entry after the tally (entry ${this.tally.index}), which must be the last` });
    let entry: Entry;
    try {
      entry = parseEntry(bytes, `entry ${index}`);
    } catch (err) {
      this.formatErrors.add({ index, error: errorMessage(err) });
      this.#recount?.add(index, null);
      return;
    }
    this.#recount?.add(index, entry);
    switch (entry.type) {
      case 'poll':
        this.orderErrors.add({ index, error: 'a second poll manifest (only entry 0 is the manifest)' });
        break;
      case 'ballot':
        this.ballots++;
        if (this.close === null) this.ballotsBeforeClose++;
        else this.orderErrors.add({ index, error: `a ballot after the close entry (entry ${this.close.index})` });
        break;
      case 'close':
        if (this.close !== null) {
          this.orderErrors.add({ index, error: `a second close entry (the first is entry ${this.close.index})` });
        } else {
          this.close = { index, entry, root: this.gap === null ? this.#range.root() : null, ballotsBefore: this.ballotsBeforeClose };
        }
        break;
      case 'tally':
        if (this.close === null) this.orderErrors.add({ index, error: 'a tally before the close entry' });
        else if (this.tally !== null) this.orderErrors.add({ index, error: `a second tally (the first is entry ${this.tally.index})` });
        else this.tally = { index, entry };
        break;
    }
  }

  #manifestEntry(bytes: Uint8Array): void {
    try {
      const entry = parseEntry(bytes, 'entry 0');
      if (!(entry instanceof Poll)) throw new Error(`entry 0 is a ${entry.type} entry, not the poll manifest`);
      this.manifest = entry;
      this.#verifier = TokenVerifier.fromPoll(entry, { offThread: true });
      this.#verifier.catch((err: unknown) => {
        this.verifierError = `the manifest's token key cannot be imported: ${errorMessage(err)}`;
      });
      // Signature problems are reported only while the key imports (token-signatures says so otherwise).
      this.#recount = new Recount(entry, this.#verifier, {
        onProblem: ({ index, problem, token_id, error }) => {
          if (problem === 'invalid-ballot') this.ballotErrors.add({ index, error });
          else this.tokenFailures.add({ index, token_id, error });
        },
      });
    } catch (err) {
      this.manifestError = errorMessage(err);
    }
  }

  // ---- hash tiles ----

  #node(level: number, _index: number, hash: Uint8Array): void {
    if (level % TILE_HEIGHT !== 0) return;
    const L = level / TILE_HEIGHT;
    const hashes = (this.#tileHashes[L] ??= []);
    this.#tileIndex[L] ??= 0;
    hashes.push(hash);
    if (hashes.length === TILE_WIDTH) {
      this.#compareTile(L, this.#tileIndex[L]!, hashes);
      this.#tileHashes[L] = [];
      this.#tileIndex[L]!++;
    }
  }

  #flushPartialTiles(): void {
    this.#tileHashes.forEach((hashes, L) => {
      if (hashes.length > 0) this.#compareTile(L, this.#tileIndex[L]!, hashes);
    });
  }

  #compareTile(level: number, index: number, hashes: readonly Uint8Array[]): void {
    const width = hashes.length;
    const path = tilePath(level, index, width === TILE_WIDTH ? undefined : width);
    this.#pending.push(
      this.#fetcher.tile(level, index, width).then(
        (bytes) => {
          if (bytes.length % HASH_SIZE !== 0 || bytes.length < width * HASH_SIZE || bytes.length > TILE_WIDTH * HASH_SIZE) {
            this.tileErrors.add({ tile: path, error: `${bytes.length} bytes, expected ${width}..${TILE_WIDTH} hashes of ${HASH_SIZE} bytes` });
            return;
          }
          this.tilesCompared++;
          hashes.forEach((h, j) => {
            const stored = bytes.subarray(j * HASH_SIZE, (j + 1) * HASH_SIZE);
            if (equalBytes(stored, h)) return;
            const node = index * TILE_WIDTH + j;
            this.tileMismatches.add({
              tile: path,
              level: level * TILE_HEIGHT,
              index: node,
              ...(level === 0 ? { entry: node } : {}),
              stored: toHex(stored),
              recomputed: toHex(h),
            });
          });
        },
        (err: unknown) => {
          this.tileErrors.add({ tile: path, error: errorMessage(err) });
        },
      ),
    );
  }

  // ---- checks ----

  /** entries, hash-tiles, root. */
  treeChecks(claimed: Checkpoint): Check[] {
    const out: Check[] = [];
    const bundles = `${this.totalBundles} bundle${this.totalBundles === 1 ? '' : 's'}`;
    if (this.bundleProblems.empty) out.push(pass('entries', `read all ${this.size} entries in ${bundles}`));
    else {
      const first = this.bundleProblems.items[0]!;
      out.push(
        fail(
          'entries',
          `${this.size - this.entriesRead} of ${this.size} entries missing or unreadable, ${this.bundleProblems.count} bad bundle(s); first: bundle ${first.bundle}: ${first.error}`,
          { bundles: this.bundleProblems.toJSON() },
        ),
      );
    }

    const gapNote = this.gap === null ? '' : `; the tree could be recomputed only up to entry ${this.gap} (the rest was not read)`;
    if (!this.tileMismatches.empty || !this.tileErrors.empty) {
      const m = this.tileMismatches.items[0];
      const e = this.tileErrors.items[0];
      const parts: string[] = [];
      if (m !== undefined) {
        parts.push(
          `${this.tileMismatches.count} stored hash(es) differ from the tree recomputed from the entries; first: ${m.tile} ` +
            (m.entry !== undefined ? `(entry ${m.entry}: the entry or its stored leaf hash was altered)` : `(node ${m.level}/${m.index})`),
        );
      }
      if (e !== undefined) parts.push(`${this.tileErrors.count} tile(s) unreadable; first: ${e.tile}: ${e.error}`);
      out.push(fail('hash-tiles', parts.join('; ') + gapNote, { mismatches: this.tileMismatches.toJSON(), unreadable: this.tileErrors.toJSON() }));
    } else if (this.gap !== null) {
      out.push(fail('hash-tiles', `${this.tilesCompared} tile(s) match, but not every tile was checked${gapNote}`));
    } else {
      out.push(pass('hash-tiles', this.size === 0 ? 'empty tree: no tiles' : `${this.tilesCompared} hash tile(s) match the tree recomputed from the entries`));
    }

    if (this.gap !== null) {
      out.push(fail('root', `not recomputed: entries from ${this.gap} on could not be read`));
    } else {
      const root = this.#range.root();
      out.push(
        equalBytes(root, claimed.root)
          ? pass('root', `the ${this.size} entries hash to the checkpoint's root ${toHex(root)}`)
          : fail('root', `the ${this.size} entries hash to ${toHex(root)}, the checkpoint says ${toHex(claimed.root)}`, {
              size: this.size,
              checkpoint_root: toHex(claimed.root),
              recomputed_root: toHex(root),
            }),
      );
    }
    return out;
  }

  manifestCheck(givenKey: VerifierKey | undefined): Check {
    const poll = this.manifest;
    if (poll === null) {
      if (this.manifestError !== null) return fail('manifest', `entry 0 is not a valid poll manifest: ${this.manifestError}`);
      return fail('manifest', this.size === 0 ? 'the board is empty: no manifest (entry 0)' : 'entry 0 could not be read');
    }
    if (givenKey !== undefined && poll.board_key !== givenKey.text) {
      return fail('manifest', `the manifest's board_key ${JSON.stringify(poll.board_key)} is not the key given (${givenKey.id})`, {
        manifest_board_key: poll.board_key,
        given_board_key: givenKey.text,
      });
    }
    if (this.verifierError !== null) return fail('manifest', this.verifierError);
    const b = poll.ballot;
    return pass(
      'manifest',
      `poll ${JSON.stringify(poll.poll_id)} (${JSON.stringify(poll.title)}): ${b.kind} choice of ${b.options.length} options` +
        `${b.kind === 'multi' ? ` (up to ${b.max_choices})` : ''}, results ${poll.results}, roll of ${poll.roll.size}`,
    );
  }

  /** entry-format … tally-counts. */
  entryChecks(): Check[] {
    const out: Check[] = [];
    const list = <T extends { index: number; error: string }>(name: string, what: string, l: EvidenceList<T>, okDetail: string) => {
      if (l.empty) out.push(pass(name, okDetail));
      else {
        const first = l.items[0]!;
        out.push(fail(name, `${what} at ${indexList(['entry', 'entries'], l.items.map((x) => x.index), l.count)}; first: ${first.error}`, l.toJSON()));
      }
    };
    const later = Math.max(0, this.entriesRead - 1);
    list('entry-format', 'not a v1 entry', this.formatErrors, `the ${later} entries after the manifest are canonical v1 entries`);
    const shape = `poll, ${this.ballots} ballot(s)${this.close === null ? ' (not closed)' : ', close'}${this.tally === null ? '' : ', tally'}`;
    list('entry-order', 'out of order', this.orderErrors, `${shape}, in order`);

    const poll = this.manifest;
    const noManifest = 'not checked: no valid manifest (entry 0)';
    if (poll === null) {
      out.push(fail('ballots', noManifest), fail('token-signatures', noManifest));
    } else {
      list('ballots', 'invalid ballot', this.ballotErrors, `${this.ballots} ballot(s), each for poll ${JSON.stringify(poll.poll_id)} with a valid choice`);
      if (this.verifierError !== null) out.push(fail('token-signatures', `not checked: ${this.verifierError}`));
      else list('token-signatures', 'token signature invalid', this.tokenFailures, `${this.ballots} token(s) verify under the manifest's token key`);
    }

    const recount = this.#recount;
    if (recount === null) out.push(fail('token-reuse', noManifest));
    else if (recount.reused.size === 0) out.push(pass('token-reuse', `${recount.distinctTokens} distinct token id(s), none used twice`));
    else {
      const items = [...recount.reused].slice(0, 100).map(([token_id, indexes]) => ({ token_id, indexes: [...indexes] }));
      const first = items[0]!;
      out.push(
        fail(
          'token-reuse',
          `${recount.reused.size} token id(s) used more than once; first: ${first.token_id} by ${indexList(['entry', 'entries'], first.indexes)} (only the first counts)`,
          { count: recount.reused.size, items },
        ),
      );
    }

    out.push(this.#closeCheck());
    out.push(...this.#tallyChecks());
    return out;
  }

  #closeCheck(): Check {
    const close = this.close;
    if (close === null) return pass('close', `no close entry: the poll is open (${this.ballots} ballot(s) so far)`);
    const c = close.entry;
    const problems: string[] = [];
    if (this.manifest === null) problems.push('issued ≤ roll size not checked: no valid manifest');
    else {
      try {
        this.manifest.checkClose(c, 'close');
      } catch (err) {
        problems.push(errorMessage(err));
      }
    }
    if (c.ballots !== close.ballotsBefore) {
      problems.push(`the close entry says ${c.ballots} ballot(s), the board has ${close.ballotsBefore} ballot entries before it`);
    }
    const evidence = { index: close.index, ballots: c.ballots, ballots_on_board: close.ballotsBefore, issued: c.issued, roll_size: this.manifest?.roll.size ?? null };
    if (problems.length > 0) return fail('close', `entry ${close.index}: ${problems.join('; ')}`, evidence);
    return pass('close', `entry ${close.index}, closed at ${c.closed_at}: ${c.ballots} ballot(s) ≤ ${c.issued} token(s) issued ≤ roll of ${this.manifest!.roll.size}`);
  }

  #tallyChecks(): Check[] {
    const tally = this.tally;
    if (tally === null) {
      const detail = this.close === null ? 'no tally: the poll is not closed' : 'no tally published yet';
      return [pass('tally-commitment', detail), pass('tally-counts', detail)];
    }
    const close = this.close!;
    const t = tally.entry;
    const out: Check[] = [];

    const size = close.index + 1;
    if (t.tree_size !== size) {
      out.push(fail('tally-commitment', `the tally commits to a tree of ${t.tree_size} entries, the board up to its close entry has ${size}`, { tally_tree_size: t.tree_size, board_tree_size: size }));
    } else if (close.root === null) {
      out.push(fail('tally-commitment', `not checked: the board up to entry ${close.index} could not be read`));
    } else if (!equalBytes(close.root, t.root)) {
      out.push(
        fail('tally-commitment', `the tally's root ${toHex(t.root)} is not the board's root up to the close entry, ${toHex(close.root)}`, {
          tree_size: size,
          tally_root: toHex(t.root),
          board_root: toHex(close.root),
        }),
      );
    } else {
      out.push(pass('tally-commitment', `tree_size ${size} and root ${toHex(t.root)}: the board up to and including the close entry`));
    }

    const poll = this.manifest;
    const recount = this.#recount;
    if (poll === null || recount === null || this.verifierError !== null) {
      out.push(fail('tally-counts', 'not recounted: no valid manifest'));
      return out;
    }
    if (this.gap !== null && this.gap <= close.index) {
      out.push(fail('tally-counts', `not recounted: entries from ${this.gap} on, before the close entry, could not be read`));
      return out;
    }
    const problems: string[] = [];
    try {
      poll.checkTally(t, 'tally');
    } catch (err) {
      problems.push(errorMessage(err));
    }
    const recounted = recount.counts();
    const counted = recount.counted;
    const counts: Record<string, { tally: number | null; recount: number; difference: number | null }> = {};
    const ids = new Set([...poll.ballot.options.map((o) => o.id), ...Object.keys(t.counts)]);
    for (const id of ids) {
      const claimed = Object.hasOwn(t.counts, id) ? t.counts[id]! : null;
      const n = Object.hasOwn(recounted, id) ? recounted[id]! : 0;
      counts[id] = { tally: claimed, recount: n, difference: claimed === null ? null : claimed - n };
      if (claimed !== n) problems.push(`${JSON.stringify(id)}: tally ${claimed ?? 'missing'}, recount ${n}`);
    }
    const rejected = close.index - 1 - counted;
    if (t.ballots_counted !== counted) problems.push(`ballots_counted: tally ${t.ballots_counted}, recount ${counted}`);
    if (t.ballots_rejected !== rejected) problems.push(`ballots_rejected: tally ${t.ballots_rejected}, recount ${rejected}`);
    const evidence = {
      index: tally.index,
      counts,
      ballots_counted: { tally: t.ballots_counted, recount: counted },
      ballots_rejected: { tally: t.ballots_rejected, recount: rejected },
    };
    if (problems.length > 0) out.push(fail('tally-counts', `the tally (entry ${tally.index}) differs from the recount: ${problems.join('; ')}`, evidence));
    else {
      const summary = poll.ballot.options.map((o) => `${o.id} ${recounted[o.id]}`).join(', ');
      out.push(pass('tally-counts', `the recount matches the tally: ${summary} (${counted} counted, ${rejected} rejected)`));
    }
    return out;
  }
}
