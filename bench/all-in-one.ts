/**
 * The service rows, all-in-one (`blindvote serve` in a child process, bench/service.ts): cold
 * start, issuer tokens/s, ballots/s, latency at half the maximum, vote → live count, memory per
 * 100 k ballots, the final recount; then the distributed topology's row (bench/distributed.ts).
 */
import { availableParallelism } from 'node:os';
import { makeBallots } from './ballots-fixture.ts';
import { ballotRows, latencyRows } from './ballots-http.ts';
import { benchIdp, openPoll } from './election.ts';
import { issuerRow } from './issuer-http.ts';
import { liveRow } from './live.ts';
import { expectAllOk, runLoad } from './load.ts';
import { recountRow } from './recount.ts';
import { Service } from './service.ts';
import { recordAbsolute } from './stats.ts';
import { distributedRow } from './distributed.ts';
import { quick } from './timing.ts';

const SIZES = quick
  ? { starts: 2, issuerPerRun: 2000, issuerRuns: 3, ballotsPerRun: 2000, ballotRuns: 3, latencySeconds: 1.5, latencyRuns: 2, live: 40, liveRuns: 2, board: 0, recountRuns: 2 }
  : { starts: 6, issuerPerRun: 4000, issuerRuns: 5, ballotsPerRun: 15_000, ballotRuns: 5, latencySeconds: 5, latencyRuns: 5, live: 200, liveRuns: 5, board: 100_000, recountRuns: 3 };

export async function allInOneRows(): Promise<void> {
  const cores = `machine: ${availableParallelism()} cores, shared by the service (1 process: event loop + sqlite writer thread) and the generator (1 separate process)`;

  const starts: number[] = [];
  for (let i = 0; i < SIZES.starts; i++) {
    const s = await Service.start();
    starts.push(s.startMs);
    await s.stop();
  }
  let allInOneRates: number[] = [];
  const idp = await benchIdp();
  const service = await Service.start({ ...idp.env, BLINDVOTE_TRUST_PROXY: 'true', BLINDVOTE_RATE_LIMITS: 'true' });
  starts.push(service.startMs);
  recordAbsolute('all-in-one cold start (spawn → listening, fresh data directory)', 'ms', starts, {});
  try {
    const poll = await openPoll(service, 'bench', SIZES.issuerPerRun * SIZES.issuerRuns);
    await issuerRow(service.url, poll, idp, SIZES.issuerPerRun, SIZES.issuerRuns, cores);

    const rssBefore = service.rss();
    const { rate, rates, appended } = await ballotRows(service.url, poll, SIZES.ballotsPerRun, SIZES.ballotRuns, cores);
    allInOneRates = rates;
    let board = appended;
    board += await latencyRows(service.url, poll, rate / 2, SIZES.latencySeconds, SIZES.latencyRuns);
    board += await liveRow(service.url, poll, SIZES.live, 20, SIZES.liveRuns);
    if (board < SIZES.board) {
      const requests = makeBallots(poll.privateKey, poll.pollId, SIZES.board - board).map((b) => b.request);
      expectAllOk('filling the board', await runLoad({ mode: 'closed', url: service.url, connections: 128, requests }), requests.length);
      board = SIZES.board;
    }
    const grown = service.rss() - rssBefore;
    recordAbsolute(`service RSS growth per 100,000 ballots on the board (${board.toLocaleString('en')} appended, scaled)`, 'MiB', [(grown / board) * 100_000 / 2 ** 20], {},
      'resident set size of the service after the ballot rows minus before them; includes garbage not yet collected');

    const sample = makeBallots(poll.privateKey, poll.pollId, 256).map((b) => b.token);
    await recountRow(poll, board, sample, SIZES.recountRuns);
  } finally {
    await service.stop();
  }
  // The all-in-one service is stopped first: the distributed processes get the machine.
  await distributedRow(allInOneRates, SIZES.ballotsPerRun, SIZES.ballotRuns);
}
