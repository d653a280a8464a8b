import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acceptance } from './acceptance.ts';
import { FormatError } from './bytes.ts';
import { generateSignerKey, NoteSigner, NoteVerificationError } from './note.ts';

const keys = generateSignerKey('vote.example/acceptance');
const other = generateSignerKey('vote.example/acceptance');
const fields = { poll_id: 'budget-2026', leaf_hash: new Uint8Array(32).fill(7), accepted_at: '2026-11-21T10:00:00Z', max_merge_delay: 60 };

test('an acceptance signs, opens under the key and round-trips its fields', () => {
  const note = new Acceptance(fields).sign(new NoteSigner(keys.signerKey));
  const opened = Acceptance.open(note, keys.verifierKey);
  assert.deepEqual({ ...opened, leaf_hash: [...opened.leaf_hash] }, { ...fields, leaf_hash: [...fields.leaf_hash] });
  assert.match(note, /^blindvote\/acceptance\/v1\nbudget-2026\nBwcH.*=\n2026-11-21T10:00:00Z\n60\n\n— vote\.example\/acceptance /);
});

test('an acceptance under another key, or altered, does not open', () => {
  const note = new Acceptance(fields).sign(new NoteSigner(keys.signerKey));
  assert.throws(() => Acceptance.open(note, other.verifierKey), NoteVerificationError);
  assert.throws(() => Acceptance.open(note.replace('\n60\n', '\n61\n'), keys.verifierKey), NoteVerificationError);
});

test('malformed acceptances are refused with what is wrong', () => {
  assert.throws(() => new Acceptance({ ...fields, poll_id: 'Budget' }), /acceptance\.poll_id/);
  assert.throws(() => new Acceptance({ ...fields, leaf_hash: new Uint8Array(31) }), /acceptance\.leaf_hash: expected 32 bytes/);
  assert.throws(() => new Acceptance({ ...fields, accepted_at: 'yesterday' }), /acceptance\.accepted_at/);
  assert.throws(() => new Acceptance({ ...fields, max_merge_delay: -1 }), /max_merge_delay/);
  assert.throws(() => Acceptance.parse('blindvote/acceptance/v2\nx\n'), FormatError);
  assert.throws(() => Acceptance.parse(new Acceptance(fields).text().replace('\n60\n', '\n6e1\n')), /whole seconds/);
});
