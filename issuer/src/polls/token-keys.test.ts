/**
 * TokenKeys: a poll closed while one of its tokens is being signed leaves no key behind, neither
 * here nor on the signing threads (the store stands in with its one method TokenKeys reads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blindSign, exportTokenPrivateKey, generateTokenKey } from '@blindvote/crypto/issuer';
import { SigningPool } from '../signing/pool.ts';
import type { IssuerStore } from '../store.ts';
import { TokenKeys } from './token-keys.ts';

const FIRST = await generateTokenKey(2048);
const SECOND = await generateTokenKey(2048);
const message = new Uint8Array(256).fill(7);

test('forget during a sign: the key that sign fetched is dropped again, here and on the thread', async () => {
  let stored = FIRST.privateKey;
  const store = { tokenKey: async () => exportTokenPrivateKey(stored) } as unknown as IssuerStore;
  const pool = new SigningPool({ threads: 1 });
  try {
    const keys = new TokenKeys(store, pool);
    const racing = keys.sign('p', message); // fetches the key, then signs on the thread
    keys.forget('p'); // the poll closes meanwhile
    assert.deepEqual(await racing, blindSign(FIRST.privateKey, message));
    // Had any copy of FIRST survived (in TokenKeys or on the thread), this would sign with it.
    stored = SECOND.privateKey;
    assert.deepEqual(await keys.sign('p', message), blindSign(SECOND.privateKey, message));
  } finally {
    await pool.close();
  }
});
