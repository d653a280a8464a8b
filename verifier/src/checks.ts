/**
 * The result type of every verifier command: a list of named checks (Belenios style), each
 * passed or failed with a detail a person can read and, on failure, the evidence a person can
 * take elsewhere (notes, hashes, indexes). A verifier never stops at the first failure: every
 * check it can run is run and reported, so the report names what was tampered with, not only
 * its first consequence.
 *
 * Contracts: `check` names are stable kebab-case identifiers (scripts match on them); `evidence`
 * is plain JSON (strings, numbers, arrays, objects: hashes in hex, notes as text), so that
 * `--json` output is the evidence itself. A run passes iff it has at least one check and every
 * check is ok.
 */

export interface Check {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly evidence?: unknown;
}

/** True iff there is at least one check and every check passed. */
export function allPassed(checks: readonly Check[]): boolean {
  return checks.length > 0 && checks.every((c) => c.ok);
}

export function pass(check: string, detail: string): Check {
  return { check, ok: true, detail };
}

export function fail(check: string, detail: string, evidence?: unknown): Check {
  return evidence === undefined ? { check, ok: false, detail } : { check, ok: false, detail, evidence };
}

/** The message of anything thrown, without a stack. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Most items kept in one evidence list; the total is always reported beside it. */
export const MAX_EVIDENCE_ITEMS = 100;

/**
 * An evidence list that keeps MAX_EVIDENCE_ITEMS items and counts the rest: the first added, or
 * with `order`, the lowest in that order, kept sorted (for items that arrive out of order, such
 * as token checks finishing on a thread pool: the same board then gives the same report).
 */
export class EvidenceList<T> {
  readonly items: T[] = [];
  count = 0;
  readonly #order: ((a: T, b: T) => number) | undefined;

  constructor(order?: (a: T, b: T) => number) {
    this.#order = order;
  }

  add(item: T): void {
    this.count++;
    const order = this.#order;
    if (order === undefined) {
      if (this.items.length < MAX_EVIDENCE_ITEMS) this.items.push(item);
      return;
    }
    let at = this.items.length;
    while (at > 0 && order(this.items[at - 1]!, item) > 0) at--;
    if (at >= MAX_EVIDENCE_ITEMS) return;
    this.items.splice(at, 0, item);
    if (this.items.length > MAX_EVIDENCE_ITEMS) this.items.pop();
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** `{ count, items }`, with `omitted` when the list was capped. */
  toJSON(): { count: number; items: T[]; omitted?: number } {
    const omitted = this.count - this.items.length;
    return omitted > 0 ? { count: this.count, items: this.items, omitted } : { count: this.count, items: this.items };
  }
}

/** "entry 3", "entries 3, 7, 9" or "entries 3, 7, 9 and 42 more" for details. */
export function indexList(noun: [string, string], indexes: readonly number[], total = indexes.length, shown = 10): string {
  const head = indexes.slice(0, shown).join(', ');
  const more = total - Math.min(shown, indexes.length);
  return `${total === 1 ? noun[0] : noun[1]} ${head}${more > 0 ? ` and ${more} more` : ''}`;
}
