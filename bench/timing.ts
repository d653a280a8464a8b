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

/** Interleaves subject and baseline RUNS times (so drift hits both); returns per-run rates of each. */
export async function pair(subject: () => Promise<number> | number, baseline: () => Promise<number> | number, runs = RUNS) {
  const s: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < runs; r++) {
    b.push(await baseline());
    s.push(await subject());
  }
  return { s, b };
}
