import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseRollCsv, parseRollList, rollCommitment } from './roll.ts';

test('roll commitment: SHA-256("blindvote/roll/v1" 0x00 salt 0x00 JSON of the sorted ids), recomputed independently', () => {
  const salt = new Uint8Array(32).fill(7);
  const expected = createHash('sha256')
    .update('blindvote/roll/v1\x00')
    .update(salt)
    .update('\x00["alice","bob","idp:u-1"]')
    .digest();
  assert.deepEqual(Buffer.from(rollCommitment(salt, ['alice', 'bob', 'idp:u-1'])), expected);
  assert.notDeepEqual(rollCommitment(new Uint8Array(32), ['alice']), rollCommitment(salt, ['alice']), 'salted');
});

test('roll list: ids sorted and distinct; invalid ids and duplicates reported by 1-based row, values as sent', () => {
  const parsed = parseRollList(['bob', 'alice', 'Bob', ' carol', 'bob', 'idp:u-1', 'idp:', 'x:y', 'idp:a b']);
  assert.deepEqual(parsed.accountIds, ['alice', 'bob', 'idp:u-1']);
  assert.deepEqual(parsed.errors.map((e) => [e.row, e.value]), [[3, 'Bob'], [4, ' carol'], [5, 'bob'], [7, 'idp:'], [8, 'x:y'], [9, 'idp:a b']]);
  assert.equal(parsed.errors[2]!.error, 'duplicate of row 1');
  assert.match(parsed.errors[0]!.error, /not an account id/);
  assert.match(parsed.errors[3]!.error, /identity-provider/);
  const long = parseRollList(['x'.repeat(5000)]).errors[0]!;
  assert.equal(long.value.length, 101, 'long values are cut in reports');
});

test('roll CSV: optional header, CRLF, quotes, blank lines and a BOM; one column only', () => {
  const csv = '\uFEFFaccount\r\nalice\r\n\r\n "bob" \r\n"idp:u-1"\r\ncarol,extra\r\n"da""ve"\r\nalice\r\n';
  const parsed = parseRollCsv(csv);
  assert.deepEqual(parsed.accountIds, ['alice', 'bob', 'idp:u-1']);
  assert.deepEqual(parsed.errors.map((e) => [e.row, e.value, e.error.slice(0, 20)]), [
    [6, 'carol,extra', 'expected one column:'],
    [7, 'da"ve', 'not an account id: a'],
    [8, 'alice', 'duplicate of row 2'],
  ]);
  assert.deepEqual(parseRollCsv('alice\nbob').accountIds, ['alice', 'bob'], 'no header, no final newline');
  assert.deepEqual(parseRollCsv('zed\naccount\n').accountIds, ['account', 'zed'], '"account" is a header only on line 1');
  assert.deepEqual(parseRollCsv(''), { accountIds: [], errors: [] });
});
