/**
 * `npm run bench [-- --quick]`: blindvote's speed as ratios against baselines measured in the
 * same run on the same machine (so figures mean something anywhere). Each figure is the median
 * of several runs, subject and baseline interleaved so drift hits both. Prints a table and
 * writes bench/results/<timestamp>.json (one object per row: name, value, unit, min, max,
 * baseline_name, baseline_value, ratio, target, met). Results: docs/performance.md.
 *
 * Needs PostgreSQL for the sequencer rows (bench/sequencer.ts).
 */
import { allInOneRows } from './all-in-one.ts';
import { primitiveRows } from './primitives.ts';
import { sequencerRows } from './sequencer.ts';
import { report } from './stats.ts';
import { quick, RUNS } from './timing.ts';

await primitiveRows();
await sequencerRows();
await allInOneRows();
report(`blindvote bench (${quick ? 'quick' : 'full'}: median of ${RUNS} runs for in-process rows; service rows say their sizes)`);
