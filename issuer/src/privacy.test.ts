/**
 * DESIGN.md promises 1 and 5 on disk and in logs: after issuance, neither the issuer's database
 * files nor any log line holds the blinded message or the blind signature, in any encoding. Only
 * SHA-256 of the blinded message is stored (and found, which shows the search works).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Poll, TokenClient, fromBase64, sha256, toBase64, toHex } from '@blindvote/crypto';
import { CLOSES_AT, harness } from './testing/harness.ts';

function encodings(bytes: Uint8Array): Buffer[] {
  const b64 = toBase64(bytes);
  return [
    Buffer.from(bytes),
    Buffer.from(b64),
    Buffer.from(Buffer.from(bytes).toString('base64url')),
    Buffer.from(toHex(bytes)),
    Buffer.from(toHex(bytes).toUpperCase()),
    // A fragment survives truncation in a message or a page boundary in a file.
    Buffer.from(bytes.subarray(100, 132)),
    Buffer.from(b64.slice(100, 140)),
    Buffer.from(toHex(bytes).slice(200, 264)),
  ];
}

test('privacy: no blinded message or blind signature in the database files or the logs after issuance', async () => {
  const lines: string[] = [];
  const h = await harness({ fastify: { logger: { level: 'trace', stream: { write: (line: string) => void lines.push(line) } } } });
  const manifest = await h.publishedPoll(['alice', 'bob']);
  const id = manifest.poll_id;
  const client = await TokenClient.create(Poll.fromJSON(manifest).token_key.spki, id);
  const alice = await h.voter('alice');
  const first = await client.blind();
  const second = await client.blind();
  const secrets: Uint8Array[] = [first.blindedMsg, second.blindedMsg];

  const issued = await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(first.blindedMsg) });
  assert.equal(issued.statusCode, 200);
  secrets.push(fromBase64(issued.json().blind_sig, 'blind_sig'));
  const replies = [
    await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(first.blindedMsg) }),
    await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(second.blindedMsg) }),
    await h.call('POST', `/v1/polls/${id}/tokens`, await h.voter('carol'), { blinded_msg: toBase64(second.blindedMsg) }),
    await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: toBase64(second.blindedMsg.subarray(1)) }),
    await h.call('POST', `/v1/polls/${id}/tokens`, alice, { blinded_msg: `${toBase64(second.blindedMsg)}!` }),
  ];
  assert.deepEqual(replies.map((r) => r.statusCode), [200, 409, 403, 400, 400]);
  h.clock.set(CLOSES_AT);
  const closed = await h.call('POST', `/v1/polls/${id}/tokens`, await h.voter('dave'), { blinded_msg: toBase64(second.blindedMsg) });
  assert.equal(closed.statusCode, 410);

  const errorBodies = Buffer.from([...replies.slice(1), closed].map((r) => r.body).join('\n'));
  const logs = Buffer.from(lines.join(''));
  assert.ok(lines.length > 20 && logs.includes('BV_TOKEN_CONFLICT') && logs.includes(`/v1/polls/${id}/tokens`), 'the logs were captured');
  const files = () => readdirSync(h.dir).map((f) => ({ name: f, bytes: readFileSync(join(h.dir, f)) }));
  const check = (where: string, haystack: Buffer) => {
    for (const secret of secrets) {
      for (const needle of encodings(secret)) assert.equal(haystack.includes(needle), false, `${where} holds ${needle.toString('latin1').slice(0, 16)}…`);
    }
  };
  check('an error reply', errorBodies);
  check('a log line', logs);
  const open = files();
  assert.ok(open.some((f) => f.name.endsWith('-wal')));
  for (const { name, bytes } of open) check(name, bytes);
  assert.ok(open.some((f) => f.bytes.includes(Buffer.from(sha256(first.blindedMsg)))), 'the stored hash is found: the search works');

  await h.store.close();
  for (const { name, bytes } of files()) check(`${name} (closed)`, bytes);
});
