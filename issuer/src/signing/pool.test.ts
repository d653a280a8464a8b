/**
 * SigningPool: BlindSign on threads gives exactly the event loop's signatures, keeps the error
 * classes the route maps to answers, drops forgotten keys, replaces a thread that died, refuses
 * when threads cannot start, and fails what is in flight on close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '@blindvote/crypto';
import { blindSign, generateTokenKey } from '@blindvote/crypto/issuer';
import { SigningPool } from './pool.ts';

const KEY = await generateTokenKey(2048);
const OTHER = await generateTokenKey(2048);
const message = (fill: number) => new Uint8Array(256).fill(fill); // 0x01..0x7f… is below any 2048-bit n with its top bit set

test('signatures from the threads equal blindSign on the calling thread, for several polls, round robin', async () => {
  const pool = new SigningPool({ threads: 2 });
  try {
    assert.equal(pool.size, 0, 'no thread before the first signature');
    await pool.sign('a', KEY.privateKey, message(99));
    assert.equal(pool.size, 1, 'one call, one thread: threads start as signing needs them');
    const jobs = Array.from({ length: 12 }, (_, i) => ({ poll: i % 3 === 0 ? 'b' : 'a', key: i % 3 === 0 ? OTHER : KEY, msg: message(i + 1) }));
    const sigs = await Promise.all(jobs.map((j) => pool.sign(j.poll, j.key.privateKey, j.msg)));
    sigs.forEach((sig, i) => assert.deepEqual(sig, blindSign(jobs[i]!.key.privateKey, jobs[i]!.msg), `job ${i}`));
    assert.equal(pool.size, 2, 'twelve calls at once: the second thread started and took its share');
  } finally {
    await pool.close();
  }
});

test('a message of the wrong length or not below n is a FormatError, and the pool goes on', async () => {
  const pool = new SigningPool({ threads: 1 });
  try {
    await assert.rejects(pool.sign('a', KEY.privateKey, new Uint8Array(255)), (e: Error) => e instanceof FormatError && /blinded_msg: expected 256 bytes/.test(e.message));
    await assert.rejects(pool.sign('a', KEY.privateKey, new Uint8Array(256).fill(0xff)), (e: Error) => e instanceof FormatError && /not less than the modulus/.test(e.message));
    assert.deepEqual(await pool.sign('a', KEY.privateKey, message(9)), blindSign(KEY.privateKey, message(9)));
  } finally {
    await pool.close();
  }
});

test('forget drops the key on every thread; the next request sends it again', async () => {
  const pool = new SigningPool({ threads: 2 });
  try {
    await Promise.all([pool.sign('a', KEY.privateKey, message(1)), pool.sign('a', KEY.privateKey, message(2))]);
    pool.forget('a');
    const sigs = await Promise.all([pool.sign('a', OTHER.privateKey, message(3)), pool.sign('a', OTHER.privateKey, message(4))]);
    assert.deepEqual(sigs, [blindSign(OTHER.privateKey, message(3)), blindSign(OTHER.privateKey, message(4))]);
  } finally {
    await pool.close();
  }
});

test('close fails the calls in flight and refuses new ones', async () => {
  const pool = new SigningPool({ threads: 1 });
  const pending = pool.sign('a', KEY.privateKey, message(5));
  await pool.close();
  await assert.rejects(pending, /signing: a BlindSign thread exited/);
  await assert.rejects(pool.sign('a', KEY.privateKey, message(6)), /signing: the pool is closed/);
});

test('a thread that dies fails its calls; the next call gets a new thread', async () => {
  const pool = new SigningPool({ threads: 1, worker: new URL('./testing/exits-on-sign.ts', import.meta.url) });
  try {
    await assert.rejects(pool.sign('a', KEY.privateKey, message(1)), /signing: a BlindSign thread exited/);
    // Not "could not start": it was ready, so the pool starts another (which dies the same way here).
    await assert.rejects(pool.sign('a', KEY.privateKey, message(2)), /signing: a BlindSign thread exited/);
  } finally {
    await pool.close();
  }
});

test('a thread whose code cannot load: that call fails, then the pool refuses every call, naming why', async () => {
  const pool = new SigningPool({ threads: 2, worker: new URL('./testing/cannot-load.ts', import.meta.url) });
  try {
    await assert.rejects(pool.sign('a', KEY.privateKey, message(1)), /cannot load/);
    await assert.rejects(pool.sign('a', KEY.privateKey, message(2)), /signing: a BlindSign thread could not start: .*cannot load/);
  } finally {
    await pool.close();
  }
});
