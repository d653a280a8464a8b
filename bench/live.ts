/**
 * Vote → live count visible: ballots posted one at a time on a schedule while a WebSocket client
 * follows /v1/results/<id>/ws; a ballot is visible once a pushed snapshot's tree_size (the
 * verified checkpoint the counts are over) exceeds its receipt's leaf_index. Latency is from the
 * POST being sent to that snapshot arriving.
 */
import WebSocket from 'ws';
import { makeBallots } from './ballots-fixture.ts';
import type { BenchPoll } from './election.ts';
import { percentile, recordAbsolute } from './stats.ts';

async function oneRun(url: string, poll: BenchPoll, n: number, intervalMs: number): Promise<number[]> {
  const ballots = makeBallots(poll.privateKey, poll.pollId, n);
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/results/${poll.pollId}/ws`);
  let treeSize = 0;
  const pending = new Map<number, number>(); // leaf_index → send time
  const latencies: number[] = [];
  const seen = (now: number) => {
    for (const [leaf, sent] of pending) {
      if (leaf < treeSize) {
        latencies.push(now - sent);
        pending.delete(leaf);
      }
    }
  };
  ws.on('message', (data) => {
    treeSize = Math.max(treeSize, (JSON.parse(String(data)) as { tree_size: number }).tree_size);
    seen(performance.now());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const posts: Promise<void>[] = [];
  for (const ballot of ballots) {
    const sent = performance.now();
    posts.push((async () => {
      const response = await fetch(`${url}/v1/ballots`, { method: 'POST', headers: ballot.request.headers, body: ballot.request.body });
      if (!response.ok) throw new Error(`live count: ballot answered ${response.status}: ${await response.text()}`);
      const receipt = (await response.json()) as { leaf_index: number };
      pending.set(receipt.leaf_index, sent);
      seen(performance.now());
    })());
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await Promise.all(posts);
  const deadline = performance.now() + 10_000;
  while (pending.size > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  ws.close();
  if (pending.size > 0) throw new Error(`live count: ${pending.size} ballots not visible on the WebSocket after 10 s`);
  return latencies;
}

/** Returns ballots appended. */
export async function liveRow(url: string, poll: BenchPoll, n: number, intervalMs: number, runs: number): Promise<number> {
  const p99: number[] = [];
  for (let r = 0; r < runs; r++) p99.push(percentile(await oneRun(url, poll, n, intervalMs), 99));
  recordAbsolute(`vote → live count visible on a WebSocket client, p99 (${n} ballots, one every ${intervalMs} ms)`, 'ms', p99, { atMost: 1000 }, 'goal 250 ms');
  return n * runs;
}
