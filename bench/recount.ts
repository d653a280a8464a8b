/**
 * The final recount: `audit` (@blindvote/verifier) of the whole board over HTTP (httpFetcher),
 * ballots/s, against raw RSA-PSS verify/s (node:crypto) of the same tokens in this process on
 * one core (the target), and for information on every core at once (the audit uses them all).
 */
import { constants, createPublicKey, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { concatBytes, tokenMessage } from '@blindvote/crypto';
import type { Token } from '@blindvote/crypto';
import { allPassed, audit, httpFetcher } from '@blindvote/verifier';
import type { BenchPoll } from './election.ts';
import { parallelRate } from './parallel.ts';
import { record } from './stats.ts';
import { pair, rateSync } from './timing.ts';

export async function recountRow(poll: BenchPoll, ballots: number, sample: readonly Token[], runs: number): Promise<void> {
  const publicKey = createPublicKey(poll.privateKey);
  const signed = sample.map((t) => ({ data: concatBytes(t.prefix, tokenMessage(poll.pollId, t.nonce)), sig: t.sig }));
  const { s, b } = await pair(
    async () => {
      const start = performance.now();
      const checks = await audit(httpFetcher(poll.board));
      const seconds = (performance.now() - start) / 1000;
      if (!allPassed(checks)) throw new Error(`recount: the audit failed: ${JSON.stringify(checks.filter((c) => !c.ok)).slice(0, 2000)}`);
      return ballots / seconds;
    },
    () => rateSync((i) => {
      const t = signed[i % signed.length]!;
      if (!verify('sha384', t.data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, t.sig)) throw new Error('bench: a token does not verify');
    }, 1),
    runs,
  );
  const name = `final recount (verifier audit over HTTP, all checks) on a ${ballots.toLocaleString('en')}-ballot board`;
  const threads = availableParallelism();
  const note = `the audit parses on its main thread and verifies tokens on libuv's pool: it uses up to all ${threads} cores`;
  record(name, 'ballots/s', s, { name: 'raw RSA-PSS verify (node:crypto, SHA-384, the same tokens), 1 core', b, target: 0.8 }, note);
  const all: number[] = [];
  for (let r = 0; r < runs; r++) all.push(await parallelRate({ op: 'pss-verify', key: publicKey, items: signed, seconds: 1 }, threads));
  record(`${name}, against every core`, 'ballots/s', s, { name: `raw RSA-PSS verify on ${threads} threads at once`, b: all, target: null }, note);
}
