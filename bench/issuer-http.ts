/**
 * Issuer tokens/s over HTTP (POST /v1/polls/:id/tokens: JWT auth, per-IP and per-account rate
 * limits ON, BlindSign, durable issuance row) against raw RSASP1 (privateDecrypt, no padding) on
 * as many threads as the service signs on (its SigningPool: one per core), all at once.
 *
 * One token per voter (the per-account limit allows no more); each request from another client
 * address (X-Forwarded-For, BLINDVOTE_TRUST_PROXY=true), so the per-IP limit stays on without
 * throttling the one generator. Blinded messages are random integers below the modulus: the
 * issuer cannot tell them from blinded tokens, and client blinding is not the issuer's cost.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { toBase64 } from '@blindvote/crypto';
import type { BenchPoll, Idp } from './election.ts';
import { expectAllOk, runLoad } from './load.ts';
import type { LoadRequest } from './load.ts';
import { record } from './stats.ts';
import { parallelRate } from './parallel.ts';
import { interleave } from './timing.ts';

/** A random integer below a modulus whose top bit is set, as many bytes as the modulus. */
function blindedBelow(bytes: number): Uint8Array {
  const m = new Uint8Array(randomBytes(bytes));
  m[0] = m[0]! & 0x7f;
  return m;
}

const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export async function issuerRow(url: string, poll: BenchPoll, idp: Idp, perRun: number, runs: number, cores: string): Promise<void> {
  const bytes = (poll.privateKey.asymmetricKeyDetails!.modulusLength! + 7) >> 3;
  if (perRun * runs > poll.voters) throw new Error('bench: more token requests than voters on the roll');
  const requests: LoadRequest[] = [];
  for (let i = 0; i < perRun * runs; i++) {
    requests.push({
      method: 'POST',
      path: `/v1/polls/${poll.pollId}/tokens`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await idp.token(`voter-${i}`)}`, 'x-forwarded-for': address(i) },
      body: JSON.stringify({ blinded_msg: toBase64(blindedBelow(bytes)) }),
    });
  }
  const raw = Array.from({ length: 64 }, () => blindedBelow(bytes));
  const threads = availableParallelism();
  let run = 0;
  const { s, b } = await interleave({
    b: () => parallelRate({ op: 'rsasp1', key: poll.privateKey, items: raw.map((data) => ({ data })), seconds: 1 }, threads),
    s: async () => {
      const chunk = requests.slice(run * perRun, ++run * perRun);
      const result = await runLoad({ mode: 'closed', url, connections: 32, requests: chunk });
      expectAllOk('issuer tokens', result, chunk.length);
      return result.rate;
    },
  }, runs);
  record(`issuer tokens over HTTP (auth + rate limits on, ${perRun} voters a run, 1 token each)`, 'tokens/s', s, {
    name: `raw native BlindSign (privateDecrypt RSA_NO_PADDING) on ${threads} threads at once, as the service signs`, b, target: 0.8,
  }, `${cores}; the service signs on ${threads} threads (BLINDVOTE_SIGNING_THREADS=0: one per core); every request from its own X-Forwarded-For address (trust proxy on), so per-IP limits are on but do not throttle the one generator`);
}
