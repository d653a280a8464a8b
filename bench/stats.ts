/**
 * The bench's rows (the JSON fields issue 6 fixes), medians and percentiles, and the report:
 * a table on stdout and bench/results/<timestamp>.json (an array, one object per row).
 */
import { mkdirSync, writeFileSync } from 'node:fs';

export interface Row {
  name: string;
  value: number | null;
  unit: string;
  min: number | null;
  max: number | null;
  baseline_name: string | null;
  baseline_value: number | null;
  ratio: number | null;
  target: number | null;
  met: boolean | null;
  /** Printed with the figure (not written to the JSON): cores, what was not measured and why. */
  note?: string;
}

export const rows: Row[] = [];

/** Keeps a long run visibly alive: each row's name on stderr as it is measured. */
const measured = (name: string) => process.stderr.write(`measured: ${name}\n`);

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export interface Baseline {
  readonly name: string;
  readonly b: readonly number[];
  /** Least ratio subject/baseline that meets the target; null: for information. */
  readonly target: number | null;
}

/** A throughput row: the median of runs `s`, against the median of baseline runs `b`. */
export function record(name: string, unit: string, s: readonly number[], baseline?: Baseline, note?: string): void {
  const value = median(s);
  const baseValue = baseline ? median(baseline.b) : null;
  const ratio = baseValue ? value / baseValue : null;
  measured(name);
  rows.push({
    name, value, unit, min: Math.min(...s), max: Math.max(...s),
    baseline_name: baseline?.name ?? null, baseline_value: baseValue, ratio,
    target: baseline?.target ?? null,
    met: ratio === null || baseline?.target == null ? null : ratio >= baseline.target,
    ...(note !== undefined ? { note } : {}),
  });
}

/** A row with an absolute target: met iff value ≤ `atMost` (latencies), or ≥ `atLeast`. */
export function recordAbsolute(name: string, unit: string, s: readonly number[], bound: { atMost?: number; atLeast?: number }, note?: string): void {
  const value = median(s);
  measured(name);
  const target = bound.atMost ?? bound.atLeast ?? null;
  const met = bound.atMost !== undefined ? value <= bound.atMost : bound.atLeast !== undefined ? value >= bound.atLeast : null;
  rows.push({
    name, value, unit, min: Math.min(...s), max: Math.max(...s),
    baseline_name: null, baseline_value: null, ratio: null, target, met,
    ...(note !== undefined ? { note } : {}),
  });
}

/** A row that could not be measured: value null, and why in its note (the rest of the run goes on). */
export function recordFailure(name: string, unit: string, error: unknown): void {
  measured(`${name} (FAILED)`);
  rows.push({
    name, value: null, unit, min: null, max: null, baseline_name: null, baseline_value: null, ratio: null, target: null, met: null,
    note: `not measured: ${error instanceof Error ? error.message : String(error)}`,
  });
}

const fmt = (x: number | null) => (x === null ? 'null' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2));

/** Prints the table and writes the JSON file; returns its path. */
export function report(title: string): string {
  console.log(`\n${title}\n`);
  for (const r of rows) {
    console.log(`${r.name}\n  ${fmt(r.value)} ${r.unit}${r.min === null ? '' : `  [${fmt(r.min)} … ${fmt(r.max)}]`}`);
    if (r.baseline_name !== null) {
      console.log(`  baseline: ${r.baseline_name}: ${fmt(r.baseline_value)}/s`);
      console.log(`  ratio ${fmt(r.ratio)}${r.target === null ? ' (for information)' : ` (target ≥ ${r.target}) ${r.met ? 'met' : 'NOT MET'}`}`);
    } else if (r.target !== null) {
      console.log(`  target ${r.target} ${r.unit}: ${r.met ? 'met' : 'NOT MET'}`);
    }
    if (r.note !== undefined) console.log(`  note: ${r.note}`);
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  // Exactly the fields issue 6 names: notes are printed, not stored.
  writeFileSync(file, JSON.stringify(rows.map(({ note: _note, ...row }) => row), null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  return file;
}
