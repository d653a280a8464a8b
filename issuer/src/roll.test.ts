import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { fromBase64 } from '@blindvote/crypto';
import { rollCommitment } from './polls/roll.ts';
import { harness, pollBody } from './testing/harness.ts';

test('roll: a JSON list is saved with its valid ids; bad rows come back; the commitment opens with the stored salt', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  const res = await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['bob', 'alice', 'bob', 'Nope', 'idp:u-1'] });
  assert.equal(res.statusCode, 200, res.body);
  const { size, commitment, errors } = res.json();
  assert.equal(size, 3);
  assert.deepEqual(errors.map((e: { row: number; value: string }) => [e.row, e.value]), [[3, 'bob'], [4, 'Nope']]);
  assert.equal(await h.store.onRoll('p1', 'idp:u-1'), true);
  assert.equal(await h.store.onRoll('p1', 'Nope'), false);
  const poll = (await h.store.poll('p1'))!;
  assert.deepEqual(poll.roll, { size: 3, commitment: fromBase64(commitment, 'commitment') });

  // Opening the commitment, as the issuer would for an auditor: the ids and the kept salt.
  const sqlite = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite');
  const db: DatabaseSync = new sqlite.DatabaseSync(join(h.dir, 'issuer.db'), { readOnly: true });
  try {
    const { roll_salt } = db.prepare("SELECT roll_salt FROM polls WHERE poll_id = 'p1'").get() as { roll_salt: Uint8Array };
    assert.deepEqual(rollCommitment(roll_salt, ['alice', 'bob', 'idp:u-1']), poll.roll!.commitment);
  } finally {
    db.close();
  }

  const again = await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice', 'bob', 'idp:u-1'] });
  assert.notEqual(again.json().commitment, commitment, 'a fresh salt per import');
  const manifest = await h.call('POST', '/v1/polls/p1/publish', admin);
  assert.deepEqual(manifest.json().roll, { size: 3, commitment: again.json().commitment });
});

test('roll: text/csv with a header; per-row errors; dry_run saves nothing', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  const csv = 'account\nalice\nbob\nbad name\nalice\n';
  const preview = await h.call('PUT', '/v1/polls/p1/roll?dry_run=true', admin, csv, { 'content-type': 'text/csv' });
  assert.equal(preview.statusCode, 200, preview.body);
  assert.equal(preview.json().size, 2);
  assert.deepEqual(preview.json().errors.map((e: { row: number }) => e.row), [4, 5]);
  assert.equal((await h.store.poll('p1'))?.roll, null, 'dry run');
  assert.equal(await h.store.onRoll('p1', 'alice'), false);

  const saved = await h.call('PUT', '/v1/polls/p1/roll', admin, csv, { 'content-type': 'text/csv; charset=utf-8' });
  assert.equal(saved.json().size, 2);
  assert.equal(await h.store.onRoll('p1', 'alice'), true);
  assert.equal((await h.store.poll('p1'))?.roll?.size, 2);

  const plain = await h.call('PUT', '/v1/polls/p1/roll', admin, csv, { 'content-type': 'text/plain' });
  assert.equal(plain.statusCode, 415);
  const both = await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['alice'], all_accounts: true });
  assert.equal(both.statusCode, 400);
  const notTrue = await h.call('PUT', '/v1/polls/p1/roll', admin, { all_accounts: false });
  assert.equal(notTrue.statusCode, 400);
  assert.equal((await h.store.poll('p1'))?.roll?.size, 2, 'refused imports change nothing');
});

test('roll: all_accounts snapshots the registered accounts now; rolls change only on drafts', async () => {
  const h = await harness();
  const admin = await h.admin();
  await h.voter('alice');
  await h.voter('bob');
  await h.call('POST', '/v1/polls', admin, pollBody('p1'));
  const res = await h.call('PUT', '/v1/polls/p1/roll', admin, { all_accounts: true });
  assert.deepEqual([res.json().size, res.json().errors], [3, []]);
  await h.voter('carol');
  assert.equal(await h.store.onRoll('p1', 'bob'), true);
  assert.equal(await h.store.onRoll('p1', 'carol'), false, 'a snapshot, not a rule');

  assert.equal((await h.call('PUT', '/v1/polls/nope/roll', admin, { voters: ['alice'] })).statusCode, 404);
  await h.call('POST', '/v1/polls/p1/publish', admin);
  const late = await h.call('PUT', '/v1/polls/p1/roll', admin, { voters: ['carol'] });
  assert.deepEqual([late.statusCode, late.json().code], [409, 'BV_POLL_NOT_EDITABLE']);
  const lateDry = await h.call('PUT', '/v1/polls/p1/roll?dry_run=true', admin, { voters: ['carol'] });
  assert.equal(lateDry.statusCode, 409);
  assert.equal(await h.store.onRoll('p1', 'carol'), false);
});
