/**
 * The final recount: `audit` (@blindvote/verifier) of the whole board over HTTP (httpFetcher),
 * ballots/s, against raw RSA-PSS verify/s (node:crypto) of the same tokens on as many threads at
 * once as the audit verifies on (libuv's pool, at most one per core; as the issuer row's baseline
 * signs on as many threads as the service), and for information on one core.
 */
import { constants, createPublicKey, verify } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { concatBytes, tokenMessage } from '@blindvote/crypto';
import type { Token } from '@blindvote/crypto';
import { allPassed, audit, httpFetcher } from '@blindvote/verifier';
import type { BenchPoll } from './election.ts';
import { parallelRate } from './parallel.ts';
import { record } from './stats.ts';
import { interleave, rateSync } from './timing.ts';

export async function recountRow(poll: BenchPoll, ballots: number, sample: readonly Token[], runs: number): Promise<void> {
  const publicKey = createPublicKey(poll.privateKey);
  const signed = sample.map((t) => ({ data: concatBytes(t.prefix, tokenMessage(poll.pollId, t.nonce)), sig: t.sig }));
  // The audit verifies on libuv's pool (UV_THREADPOOL_SIZE threads, 4 by default): the baseline
  // verifies on as many threads as that pool can use on this machine, no more.
  const threads = Math.min(availableParallelism(), Number(process.env['UV_THREADPOOL_SIZE'] ?? 4) || 4);
  const { one, all, s } = await interleave({
    one: () => rateSync((i) => {
      const t = signed[i % signed.length]!;
      if (!verify('sha384', t.data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, t.sig)) throw new Error('bench: a token does not verify');
    }, 1),
    all: () => parallelRate({ op: 'pss-verify', key: publicKey, items: signed, seconds: 1 }, threads),
    s: async () => {
      const start = performance.now();
      const checks = await audit(httpFetcher(poll.board));
      const seconds = (performance.now() - start) / 1000;
      if (!allPassed(checks)) throw new Error(`recount: the audit failed: ${JSON.stringify(checks.filter((c) => !c.ok)).slice(0, 2000)}`);
      return ballots / seconds;
    },
  }, runs);
  const name = `final recount (verifier audit over HTTP, all checks) on a ${ballots.toLocaleString('en')}-ballot board`;
  const note = `the audit parses on its main thread and verifies tokens on libuv's pool: ${threads} threads verify at once on this machine`;
  record(name, 'ballots/s', s, { name: `raw RSA-PSS verify (node:crypto, SHA-384, the same tokens) on ${threads} threads at once, as the audit verifies`, b: all, target: 0.8 }, note);
  record(`${name}, against one core`, 'ballots/s', s, { name: 'raw RSA-PSS verify, 1 core', b: one, target: null }, note);
}
