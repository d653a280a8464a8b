/** How long and how often the bench measures (`--quick` for a run under two minutes). */
export const quick = process.argv.includes('--quick');
export const RUNS = quick ? 3 : 7;
export const SECONDS = quick ? 0.5 : 1.5;

/** Operations per second of a synchronous op, over ~SECONDS. */
export function rateSync(op: (i: number) => void, seconds = SECONDS): number {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    for (let k = 0; k < 64; k++) op(n++);
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * Runs every measurement once per round, `runs` rounds, in the order given (so drift hits all
 * alike); returns each one's per-round rates under its name.
 */
export async function interleave<K extends string>(measurements: Record<K, () => Promise<number> | number>, runs = RUNS): Promise<Record<K, number[]>> {
  const names = Object.keys(measurements) as K[];
  const rates = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < runs; r++) {
    for (const name of names) rates[name].push(await measurements[name]());
  }
  return rates;
}
