/**
 * c2sp.org/signed-note against `test-vectors/c2sp-signed-note/signed_note.json` (values extracted
 * from golang/mod, C2SP, transparency-dev/formats and serverless-log; commits in its `source`).
 * Every entry of every note-level section is exercised and each section's size is asserted, so an
 * emptied or renamed section fails. Checkpoint sections are in c2sp-tlog-checkpoint.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { sha256 } from '#platform';
import * as browserPlatform from './platform/browser.ts';
import { FormatError, concatBytes, fromHex, fromUtf8, toBase64, toHex, utf8 } from './bytes.ts';
import {
  MAX_NOTE_SIGNATURES,
  NoteSigner,
  NoteVerificationError,
  VerifierKey,
  addSignatures,
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  isValidKeyName,
  noteKeyId,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from './note.ts';
import type { NoteSignature } from './note.ts';
import { Checkpoint, openCheckpoint } from './checkpoint.ts';

// ───────────────────────────── vector file ─────────────────────────────

interface SigExpect { name: string; key_id: string; sig_b64: string }
interface NoteVector {
  id: string;
  note: string | null;
  note_hex: string | null;
  note_is_invalid_utf8?: boolean;
  signed_text?: string;
  verifier_keys: string[];
  expect: { ok: boolean; error?: string; verified?: SigExpect[]; unverified?: SigExpect[] };
  construct?: { text: string; separator: string; sig_line: string; repeat: number };
}
interface Vectors {
  verifier_keys: { vkey: string; valid: boolean; name?: string; key_id?: string; public_key_hex?: string; reason?: string }[];
  verifier_key_mangling_rule: { base_vkey: string; also_for_signer_key: { base_skey: string } };
  key_id_derivation: {
    name: string; signature_type: string; public_key_hex: string; preimage_hex: string;
    sha256_of_preimage: string; key_id: string; from_vkey: string;
  }[];
  signer_keys: { skey: string | null; name: string; key_id: string; ed25519_seed_hex: string; matching_vkey: string }[];
  key_lookup: { trusted: string[]; cases: { name: string; key_id: string; expect: string }[] };
  notes: NoteVector[];
  sign_vectors: {
    id: string; skey?: string; text?: string; want_note: string;
    signer_seed_hex?: string; signer_name?: string; input_note?: string; verifier_keys_for_input?: string[];
  }[];
  parse_only_examples: {
    id: string; note: string;
    parse_expect: { text: string; signatures: { name: string; key_id: string }[] };
  }[];
  other_algorithms: { items: { vkey: string; type: string; note_valid?: string }[] };
}

const V = JSON.parse(
  readFileSync(new URL('../../test-vectors/c2sp-signed-note/signed_note.json', import.meta.url), 'utf8'),
) as Vectors;

const validKeys = V.verifier_keys.filter((k) => k.valid);
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';

// ───────────────────────────── helpers ─────────────────────────────

function sigView(s: NoteSignature): SigExpect {
  return { name: s.name, key_id: toHex(s.keyId), sig_b64: toBase64(concatBytes(s.keyId, s.signature)) };
}

function line(name: string, keyIdHex: string, signature: Uint8Array): string {
  return `\u2014 ${name} ${toBase64(concatBytes(fromHex(keyIdHex), signature))}\n`;
}

/** Maps the vector file's upstream error strings to our error types; fails on an unknown string. */
function assertRejects(fn: () => unknown, expected: string): void {
  if (expected.startsWith('malformed note')) {
    assert.throws(fn, FormatError);
  } else if (expected.startsWith('invalid signature for key ')) {
    const key = expected.slice('invalid signature for key '.length);
    assert.throws(fn, (e) => e instanceof NoteVerificationError && e.code === 'invalid-signature' && e.key === key);
  } else if (expected.startsWith('note has no verifiable signatures')) {
    assert.throws(fn, (e) => e instanceof NoteVerificationError && e.code === 'unverified');
  } else if (expected.startsWith('ambiguous key ')) {
    const key = expected.slice('ambiguous key '.length).split(' ')[0];
    assert.throws(fn, (e) => e instanceof NoteVerificationError && e.code === 'ambiguous-key' && e.key === key);
  } else {
    assert.fail(`no mapping for expected error ${JSON.stringify(expected)}`);
  }
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return assert.fail('expected an exception');
}

function noteBytes(n: NoteVector): Uint8Array {
  if (n.note_hex !== null) return fromHex(n.note_hex);
  const c = n.construct;
  assert.ok(c, `${n.id}: neither note_hex nor construct`);
  return utf8(c.text + c.separator + c.sig_line.repeat(c.repeat));
}

// ───────────────────────────── section sizes ─────────────────────────────

test('vector file: every note-level section is present with its documented size', () => {
  assert.equal(V.verifier_keys.length, 20);
  assert.equal(validKeys.length, 15);
  assert.equal(V.key_id_derivation.length, 15);
  assert.equal(V.signer_keys.length, 9);
  assert.equal(V.key_lookup.cases.length, 4);
  assert.equal(V.notes.length, 18);
  assert.equal(V.notes.filter((n) => n.construct !== undefined).length, 2);
  assert.equal(V.sign_vectors.length, 2);
  assert.equal(V.parse_only_examples.length, 2);
  assert.equal(V.other_algorithms.items.length, 4);
  assert.equal(V.verifier_key_mangling_rule.base_vkey, PETER_VKEY);
});

// ───────────────────────────── keys ─────────────────────────────

test('verifier_keys: 15 valid keys parse to their name, key ID and public key, and format back', () => {
  let n = 0;
  for (const k of validKeys) {
    const v = parseVerifierKey(k.vkey);
    assert.equal(v.name, k.name, k.vkey);
    assert.equal(toHex(v.keyId), k.key_id, k.vkey);
    assert.equal(toHex(v.publicKey), k.public_key_hex, k.vkey);
    assert.equal(v.text, k.vkey);
    assert.equal(v.id, `${k.name}+${k.key_id}`);
    assert.equal(formatVerifierKey(v.name, v.publicKey), k.vkey);
    n++;
  }
  assert.equal(n, 15);
});

test('verifier_keys: 5 invalid keys are rejected with FormatError', () => {
  let n = 0;
  for (const k of V.verifier_keys.filter((x) => !x.valid)) {
    assert.throws(() => parseVerifierKey(k.vkey), FormatError, `${k.vkey} (${k.reason})`);
    n++;
  }
  assert.equal(n, 5);
});

function mangle(base: string, parse: (s: string) => unknown): number {
  let n = 0;
  for (let i = 0; i < base.length; i++) {
    for (let j = i + 1; j <= base.length; j++) {
      if (i === 0 && j === base.length) continue;
      const s = base.slice(i, j);
      assert.throws(() => parse(s), FormatError, `substring [${i}:${j}] ${s}`);
      n++;
    }
  }
  for (let i = 0; i < base.length; i++) {
    const s = base.slice(0, i) + String.fromCharCode(base.charCodeAt(i) + 1) + base.slice(i + 1);
    assert.throws(() => parse(s), FormatError, `increment at ${i}: ${s}`);
    n++;
  }
  return n;
}

test('verifier_key_mangling_rule: every proper substring and single-byte increment of the vkey is rejected', () => {
  const base = V.verifier_key_mangling_rule.base_vkey;
  parseVerifierKey(base);
  const L = base.length;
  assert.equal(mangle(base, parseVerifierKey), (L * (L + 1)) / 2 - 1 + L);
});

test('verifier_key_mangling_rule: the same manglings of the signer key are rejected', () => {
  const base = V.verifier_key_mangling_rule.also_for_signer_key.base_skey;
  parseSignerKey(base);
  const L = base.length;
  assert.equal(mangle(base, parseSignerKey), (L * (L + 1)) / 2 - 1 + L);
});

test('key_id_derivation: preimage, SHA-256 and key ID match for all 15 entries', () => {
  let n = 0;
  for (const k of V.key_id_derivation) {
    assert.equal(k.signature_type, '01');
    const pk = fromHex(k.public_key_hex);
    const preimage = concatBytes(utf8(k.name), Uint8Array.of(0x0a, 0x01), pk);
    assert.equal(toHex(preimage), k.preimage_hex, k.name);
    assert.equal(toHex(sha256(preimage)), k.sha256_of_preimage, k.name);
    assert.equal(toHex(noteKeyId(k.name, pk)), k.key_id, k.name);
    assert.equal(toHex(parseVerifierKey(k.from_vkey).keyId), k.key_id, k.name);
    n++;
  }
  assert.equal(n, 15);
});

test('signer_keys: all 9 seeds give their key ID and matching verifier key', () => {
  let n = 0;
  for (const k of V.signer_keys) {
    const seed = fromHex(k.ed25519_seed_hex);
    const skey = formatSignerKey(k.name, seed);
    if (k.skey !== null) assert.equal(skey, k.skey, k.name);
    const parsed = parseSignerKey(skey);
    assert.equal(parsed.name, k.name);
    assert.equal(toHex(parsed.keyId), k.key_id);
    assert.deepEqual(parsed.seed, seed);
    assert.equal(parsed.verifierKey, k.matching_vkey);
    const signer = new NoteSigner(k.skey ?? skey);
    assert.equal(signer.verifierKey, k.matching_vkey);
    assert.equal(signer.id, `${k.name}+${k.key_id}`);
    assert.deepEqual(new NoteSigner(parsed).publicKey, parseVerifierKey(k.matching_vkey).publicKey);
    n++;
  }
  assert.equal(n, 9);
});

test('key_lookup: a signature is matched by the (name, key ID) pair only; duplicates in the trusted list are ambiguous', () => {
  const peter = V.notes.find((x) => x.id === 'golang-mod/peter-only');
  const both = V.notes.find((x) => x.id === 'golang-mod/peter+enoch/verifiers-both');
  assert.ok(peter?.note && both?.note);
  const text = parseNote(peter.note).text;
  const sigs = new Map(parseNote(both.note).signatures.map((s) => [s.name, s.signature]));
  let n = 0;
  for (const c of V.key_lookup.cases) {
    const sig = sigs.get(c.name) ?? sigs.get('PeterNeumann');
    assert.ok(sig);
    const note = `${text}\n${line(c.name, c.key_id, sig)}`;
    const open = () => openNote(note, V.key_lookup.trusted);
    if (c.expect === 'found') {
      assert.equal(open().verifiedBy[0]?.id, `${c.name}+${c.key_id}`);
    } else if (c.expect.startsWith('unknown key ')) {
      assert.equal(c.expect, `unknown key ${c.name}+${c.key_id}`);
      const e = caught(open);
      assert.ok(e instanceof NoteVerificationError && e.code === 'unverified');
      assert.deepEqual(e.unverified.map(sigView).map((s) => `${s.name}+${s.key_id}`), [`${c.name}+${c.key_id}`]);
    } else {
      assertRejects(open, c.expect);
    }
    n++;
  }
  assert.equal(n, 4);
});

test('keys: name rules, canonical spelling, points', () => {
  const pk = parseVerifierKey(PETER_VKEY).publicKey;
  for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u2003b', 'a\u3000b', 'a\u0001b', 'a\ud800b']) {
    assert.equal(isValidKeyName(bad), false, JSON.stringify(bad));
    assert.throws(() => formatVerifierKey(bad, pk), FormatError);
  }
  for (const good of ['a', 'example.com/log', 'é/ü', '\u{1F5F3}', 'x—y']) assert.equal(isValidKeyName(good), true, good);
  // Uppercase hex key IDs name the same key with another spelling: refused.
  assert.throws(() => parseVerifierKey(PETER_VKEY.replace('c74f20a3', 'C74F20A3')), FormatError);
  // Non-canonical base64 (stray low bits in the last character) is refused.
  assert.throws(() => parseVerifierKey(PETER_VKEY.replace(/W$/, 'X')), FormatError);
  // A point that does not decode, and a small-order point, cannot be keys.
  const notOnCurve = fromHex('02' + '00'.repeat(31));
  assert.throws(() => formatVerifierKey('x', notOnCurve), FormatError);
  const identity = fromHex('01' + '00'.repeat(31));
  assert.throws(() => formatVerifierKey('x', identity), FormatError);
  assert.throws(() => parseSignerKey(PETER_VKEY), FormatError);
  assert.throws(() => parseVerifierKey('PRIVATE+KEY+' + PETER_VKEY), FormatError);
  const { signerKey, verifierKey } = generateSignerKey('blindvote.example/poll/p1');
  assert.equal(new NoteSigner(signerKey).verifierKey, verifierKey);
  assert.notEqual(generateSignerKey('blindvote.example/poll/p1').signerKey, signerKey);
  assert.ok(!String(new NoteSigner(signerKey)).includes(signerKey.split('+')[4] ?? '?'));
});

// ───────────────────────────── notes ─────────────────────────────

test('notes: all 18 entries give the expected verdict, signatures and text (bytes exactly as in note_hex)', () => {
  const seen = { ok: 0, failed: 0, constructed: 0 };
  for (const n of V.notes) {
    const bytes = noteBytes(n);
    if (n.note !== null) assert.deepEqual(bytes, utf8(n.note), `${n.id}: note and note_hex differ`);
    if (n.note_is_invalid_utf8 === true) assert.throws(() => fromUtf8(bytes, 'x'), FormatError);
    if (n.construct !== undefined) seen.constructed++;
    const inputs: (string | Uint8Array)[] = n.note !== null ? [bytes, n.note] : [bytes];
    for (const input of inputs) {
      const open = () => openNote(input, n.verifier_keys);
      if (n.expect.ok) {
        const r = open();
        if (n.signed_text !== undefined) assert.equal(r.text, n.signed_text, n.id);
        assert.deepEqual(r.signatures.map(sigView), n.expect.verified, n.id);
        assert.deepEqual(r.verifiedBy.map((k) => k.id), n.expect.verified?.map((s) => `${s.name}+${s.key_id}`), n.id);
        if (n.expect.unverified !== undefined) assert.deepEqual(r.unverified.map(sigView), n.expect.unverified, n.id);
      } else {
        assert.ok(n.expect.error, n.id);
        assertRejects(open, n.expect.error);
        if (n.expect.unverified !== undefined) {
          const e = caught(open);
          assert.ok(e instanceof NoteVerificationError);
          assert.deepEqual(e.unverified.map(sigView), n.expect.unverified, n.id);
        }
        // Structure alone decides "malformed"; the others parse.
        if (n.expect.error.startsWith('malformed')) assert.throws(() => parseNote(input), FormatError, n.id);
        else parseNote(input);
      }
    }
    if (n.expect.ok) seen.ok++;
    else seen.failed++;
  }
  assert.deepEqual(seen, { ok: 6, failed: 12, constructed: 2 });
});

test('notes: exactly 100 signature lines are accepted, 101 are not', () => {
  const c = V.notes.find((x) => x.id === 'golang-mod/too-many-signatures')?.construct;
  assert.ok(c);
  const note = (k: number) => c.text + c.separator + c.sig_line.repeat(k);
  assert.equal(MAX_NOTE_SIGNATURES, 100);
  assert.equal(openNote(note(100), [PETER_VKEY]).verifiedBy.length, 1);
  assert.throws(() => openNote(note(101), [PETER_VKEY]), FormatError);
});

test('sign_vectors: deterministic Ed25519 reproduces both upstream notes byte for byte', () => {
  const [first, second] = V.sign_vectors;
  assert.ok(first?.skey && first.text !== undefined && second?.input_note && second.signer_seed_hex && second.signer_name);
  assert.equal(V.sign_vectors.length, 2);

  const peter = new NoteSigner(first.skey);
  assert.equal(signNote(first.text, [peter]), first.want_note);
  assert.equal(signNote(utf8(first.text), [peter]), first.want_note);
  // Re-signing replaces an existing (here bad) signature by the same key, as upstream.
  const bad = `${first.text}\n${line(peter.name, toHex(peter.keyId), new Uint8Array(64))}`;
  assert.equal(addSignatures(bad, [peter]), first.want_note);

  openNote(second.input_note, second.verifier_keys_for_input ?? []);
  const enoch = new NoteSigner(formatSignerKey(second.signer_name, fromHex(second.signer_seed_hex)));
  const cosigned = addSignatures(second.input_note, [enoch]);
  assert.equal(cosigned, second.want_note);
  assert.deepEqual(openNote(cosigned, [PETER_VKEY, enoch.verifierKey]).verifiedBy.map((k) => k.name), ['PeterNeumann', 'EnochRoot']);
});

test('parse_only_examples: both C2SP examples parse (text split at the LAST empty line) and verify under no known key', () => {
  let n = 0;
  for (const x of V.parse_only_examples) {
    const p = parseNote(x.note);
    assert.equal(p.text, x.parse_expect.text, x.id);
    assert.deepEqual(p.signatures.map((s) => ({ name: s.name, key_id: toHex(s.keyId) })), x.parse_expect.signatures, x.id);
    assert.throws(
      () => openNote(x.note, validKeys.map((k) => k.vkey)),
      (e) => e instanceof NoteVerificationError && e.code === 'unverified',
      x.id,
    );
    n++;
  }
  assert.equal(n, 2);
});

test('other_algorithms: non-Ed25519 verifier keys are refused; their signature lines are ignored as unknown', () => {
  let keys = 0;
  let notes = 0;
  for (const item of V.other_algorithms.items) {
    assert.throws(() => parseVerifierKey(item.vkey), /unsupported signature type/, item.vkey);
    keys++;
    if (item.note_valid !== undefined) {
      assert.equal(parseNote(item.note_valid).signatures.length, 1);
      const e = caught(() => openNote(item.note_valid ?? '', validKeys.map((k) => k.vkey)));
      assert.ok(e instanceof NoteVerificationError && e.code === 'unverified' && e.unverified.length === 1);
      notes++;
    }
  }
  assert.deepEqual({ keys, notes }, { keys: 4, notes: 2 });
});

test('notes: structural edge cases', () => {
  const peter = new NoteSigner('PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz');
  const note = signNote('hi\n', [peter]);
  const sigLine = note.slice('hi\n\n'.length);
  assert.equal(openNote(note, [PETER_VKEY]).text, 'hi\n');
  for (const bad of [
    note.replace('\u2014', '-'), // ASCII hyphen instead of em dash
    note.replace('\u2014 ', '\u2014'), // no space after the dash
    note.replace('PeterNeumann ', 'PeterNeumann  '), // empty field
    note.replace('\n\n', '\r\n\r\n'), // CR is a control character
    note + '\n', // trailing empty line
    note.replace(/=\n$/, '\n'), // unpadded base64
    'hi\n\n\u2014 PeterNeumann AAAAAA==\n', // signature shorter than 5 bytes
    'hi\n' + sigLine, // no empty line
    '\n' + sigLine, // no text... and no separator
    'hi\ud800\n\n' + sigLine, // lone surrogate in a string
  ]) {
    assert.throws(() => openNote(bad, [PETER_VKEY]), FormatError, JSON.stringify(bad));
  }
  // Empty text is not a text ending in newline; "\n" is.
  assert.throws(() => signNote('', [peter]), FormatError);
  assert.equal(openNote(signNote('\n', [peter]), [PETER_VKEY]).text, '\n');
  assert.throws(() => signNote('no newline', [peter]), FormatError);
  assert.throws(() => signNote('tab\there\n', [peter]), FormatError);
  assert.throws(() => signNote('x\n', []), FormatError);
  assert.throws(() => signNote('x\n', [peter, peter]), FormatError);
  // A second, different signature by the same trusted key is dropped unchecked (upstream Open).
  const twice = note + line(peter.name, toHex(peter.keyId), new Uint8Array(64));
  assert.equal(openNote(twice, [PETER_VKEY]).signatures.length, 1);
  // ...but when the bad one comes first, it is the one checked, and the note is refused.
  const badFirst = `hi\n\n${line(peter.name, toHex(peter.keyId), new Uint8Array(64))}${sigLine}`;
  assertRejects(() => openNote(badFirst, [PETER_VKEY]), 'invalid signature for key PeterNeumann+c74f20a3');
  // Verifier strings are validated at the door.
  assert.throws(() => openNote(note, ['not a key']), FormatError);
  assert.ok(openNote(note, [new VerifierKey(PETER_VKEY)]).verifiedBy[0] instanceof VerifierKey);
});

// ───────────────────────────── properties ─────────────────────────────

const nameArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter(isValidKeyName);
const textArb = fc
  .string({ unit: 'binary', maxLength: 120 })
  .map((s) => s.replace(/[\u0000-\u0009\u000b-\u001f]/g, '').replace(/[\ud800-\udfff]/g, '') + '\n');
const signerArb = fc
  .record({ name: nameArb, seed: fc.uint8Array({ minLength: 32, maxLength: 32 }) })
  .map(({ name, seed }) => new NoteSigner(formatSignerKey(name, seed)));

test('property: keys round-trip through their string forms', () => {
  fc.assert(
    fc.property(signerArb, (s) => {
      const v = parseVerifierKey(s.verifierKey);
      assert.equal(formatVerifierKey(v.name, v.publicKey), s.verifierKey);
      assert.deepEqual(v.keyId, s.keyId);
    }),
  );
});

test('property: sign then open round-trips the text and names every signer, in order', () => {
  fc.assert(
    fc.property(textArb, fc.uniqueArray(signerArb, { minLength: 1, maxLength: 4, selector: (s) => s.id }), (text, signers) => {
      const note = signNote(text, signers);
      const opened = openNote(note, signers.map((s) => s.verifierKey));
      assert.equal(opened.text, text);
      assert.deepEqual(opened.verifiedBy.map((k) => k.text), signers.map((s) => s.verifierKey));
      // Any one trusted signer suffices; the others are reported as unverified.
      const last = signers[signers.length - 1]!;
      const one = openNote(note, [last.verifierKey]);
      assert.deepEqual([one.verifiedBy.length, one.unverified.length], [1, signers.length - 1]);
      assert.equal(parseNote(note).text, text);
    }),
  );
});

test('property: any single-byte change of a signed note fails to open', () => {
  fc.assert(
    fc.property(textArb, signerArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (text, signer, at, delta) => {
      const bytes = utf8(signNote(text, [signer]));
      const i = at % bytes.length;
      bytes[i] = (bytes[i]! + delta) & 0xff;
      assert.throws(
        () => openNote(bytes, [signer.verifierKey]),
        (e) => e instanceof FormatError || e instanceof NoteVerificationError,
      );
    }),
    { numRuns: 500 },
  );
});

test('property: arbitrary bytes never crash the parser (only FormatError)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (junk, withTail) => {
      const input = withTail ? concatBytes(junk, utf8('\n\n\u2014 a AAAAAAA=\n')) : junk;
      try {
        parseNote(input);
      } catch (e) {
        assert.ok(e instanceof FormatError, String(e));
      }
    }),
  );
});

test('strict RFC 8032: a ZIP-215-only signature (non-canonical R) and a malleated S + L are refused', () => {
  const seed = new Uint8Array(32).fill(7);
  const signer = new NoteSigner(formatSignerKey('strict', seed));
  const text = 'strict\n';
  const message = utf8(text);
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
  const L = ed25519.Point.Fn.ORDER;
  const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const fromLe = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
  // R = the order-4 point (sqrt(-1), 0), encoded with y = p (non-canonical); S = k·a, so the
  // cofactored equation [8]SB = [8]R + [8]kA holds and only the encoding check can refuse it.
  const p = 2n ** 255n - 19n;
  const R = le(p);
  const k = fromLe(sha512(concatBytes(R, pointBytes, message))) % L;
  const forged = concatBytes(R, le((k * scalar) % L));
  assert.equal(ed25519.verify(forged, message, pointBytes, { zip215: true }), true, 'the forgery is ZIP-215-valid');
  const note = (sig: Uint8Array) => `${text}\n${line(signer.name, toHex(signer.keyId), sig)}`;
  assertRejects(() => openNote(note(forged), [signer.verifierKey]), 'invalid signature for key strict+' + toHex(signer.keyId));
  // S + L: the same signature with an unreduced scalar.
  const good = signer.sign(message);
  const malleated = concatBytes(good.subarray(0, 32), le(fromLe(good.subarray(32)) + L));
  assert.equal(openNote(note(good), [signer.verifierKey]).verifiedBy.length, 1);
  assertRejects(() => openNote(note(malleated), [signer.verifierKey]), 'invalid signature for key strict+' + toHex(signer.keyId));
});

// ───────────────── Ed25519: agreement with cofactorless verifiers ─────────────────

const Point = ed25519.Point;
const ORDER_L = Point.Fn.ORDER;
const le32 = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLe = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
/** A point of order 8; its multiples 0..7 are the whole small-order subgroup. */
const T8 = Point.fromBytes(fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'), true);
const TORSION = Array.from({ length: 8 }, (_, i) => (i === 0 ? Point.ZERO : T8.multiplyUnsafe(BigInt(i))));

/** OpenSSL's RFC 8032 verification: cofactorless, [S]B = R + [k]A, R compared as bytes. */
function opensslVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const spki = concatBytes(fromHex('302a300506032b6570032100'), publicKey);
  return nodeVerify(null, message, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), signature);
}

/** Ed25519 by hand with secret scalar `a`, nonce `r` and a chosen torsion component on R (and A). */
function craft(a: bigint, r: bigint, message: Uint8Array, rTorsion = Point.ZERO, aTorsion = Point.ZERO) {
  const publicKey = Point.BASE.multiply(a).add(aTorsion).toBytes();
  const R = (r === 0n ? Point.ZERO : Point.BASE.multiply(r)).add(rTorsion).toBytes();
  const k = fromLe(sha512(concatBytes(R, publicKey, message))) % ORDER_L;
  return { publicKey, signature: concatBytes(R, le32((r + k * a) % ORDER_L)) };
}

/**
 * Our verdict: the key must be accepted as a verifier key, then the signature must verify. The
 * browser platform's verifier (noble, cofactored, with its own strictness checks) MUST agree with
 * the one VerifierKey uses here (OpenSSL's, with the checks node.ts adds), on every crafted case.
 */
function ours(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  let key: VerifierKey;
  try {
    key = new VerifierKey(formatVerifierKey('x', publicKey));
  } catch (e) {
    assert.ok(e instanceof FormatError);
    return false;
  }
  const verdict = key.verify(message, signature);
  assert.equal(browserPlatform.ed25519Verifier(publicKey).verify(message, signature), verdict, `browser and node platforms differ: ${toHex(publicKey)} ${toHex(signature)}`);
  return verdict;
}

test('Ed25519 agrees with node:crypto (OpenSSL, cofactorless) on honest, tampered and adversarial signatures', () => {
  let accepted = 0;
  let rejected = 0;
  const check = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, allowStricter = false) => {
    const mine = ours(publicKey, message, signature);
    const theirs = opensslVerify(publicKey, message, signature);
    // Nothing accepted here may be rejected by a cofactorless verifier, ever.
    if (mine) assert.equal(theirs, true, `accepted here, rejected by OpenSSL: ${toHex(publicKey)} ${toHex(signature)}`);
    if (!allowStricter) assert.equal(mine, theirs, `verdicts differ: ${toHex(publicKey)} ${toHex(signature)}`);
    if (mine) accepted++;
    else rejected++;
  };
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(63),
      fc.integer({ min: 1, max: 255 }),
      (seed, message, at, xor) => {
        const publicKey = ed25519.getPublicKey(seed);
        const signature = ed25519.sign(message, seed);
        check(publicKey, message, signature);
        const tampered = signature.slice();
        tampered[at]! ^= xor;
        check(publicKey, message, tampered);
      },
    ),
    { numRuns: 200 },
  );
  const message = utf8('board.example/poll/x\n5\n' + toBase64(new Uint8Array(32).fill(9)) + '\n');
  for (const [i, T] of TORSION.entries()) {
    const a = 123456789n + BigInt(i);
    // Mixed-order R (order-8 component) with an honest key: the cofactored equation alone holds.
    const mixedR = craft(a, 42n + BigInt(i), message, T);
    if (i > 0) assert.equal(ed25519.verify(mixedR.signature, message, mixedR.publicKey, { zip215: false }), true);
    check(mixedR.publicKey, message, mixedR.signature);
    // Small-order R (r = 0). R = identity satisfies [S]B = R + [k]A and OpenSSL accepts it; it is
    // refused here on purpose (libsodium refuses small-order R too): stricter, never looser.
    const smallR = craft(a, 0n, message, T);
    check(smallR.publicKey, message, smallR.signature, i === 0);
    // Mixed-order key: refused as a key, whatever the signature; OpenSSL accepts when 8 | k·ord(T).
    const mixedA = craft(a, 7n + BigInt(i), message, Point.ZERO, T);
    check(mixedA.publicKey, message, mixedA.signature, i > 0);
    if (i > 0) assert.throws(() => formatVerifierKey('x', mixedA.publicKey), /small-order component/);
  }
  assert.ok(accepted >= 200 && rejected >= 200, `accepted ${accepted}, rejected ${rejected}`);
});

test("reviewer's demos: an order-8 component in R or in the key is refused by openNote and openCheckpoint", () => {
  const origin = 'board.example/poll/x';
  const text = new Checkpoint({ origin, size: 5, root: new Uint8Array(32).fill(9) }).format();
  const message = utf8(text);
  const T = TORSION[1]!;
  // An honest generated key, a signature whose R has an order-8 component.
  const seed = new Uint8Array(32).fill(3);
  const signer = new NoteSigner(formatSignerKey(origin, seed));
  const { scalar } = ed25519.utils.getExtendedPublicKey(seed);
  const { publicKey, signature } = craft(scalar, 42n, message, T);
  assert.deepEqual(publicKey, signer.publicKey);
  assert.equal(ed25519.verify(signature, message, publicKey, { zip215: false }), true, 'cofactored noble accepts');
  assert.equal(opensslVerify(publicKey, message, signature), false, 'OpenSSL rejects');
  const note = `${text}\n${line(origin, toHex(signer.keyId), signature)}`;
  assert.throws(() => openNote(note, [signer.verifierKey]), (e) => e instanceof NoteVerificationError && e.code === 'invalid-signature');
  assert.throws(() => openCheckpoint(note, [signer.verifierKey], origin), NoteVerificationError);
  // A key with an order-8 component, in every form a key can take.
  const mixed = craft(123456789n, 987654321n, message, Point.ZERO, T);
  const keyId = toHex(noteKeyId(origin, mixed.publicKey));
  const vkey = `${origin}+${keyId}+${toBase64(concatBytes(Uint8Array.of(1), mixed.publicKey))}`;
  assert.throws(() => formatVerifierKey(origin, mixed.publicKey), FormatError);
  assert.throws(() => parseVerifierKey(vkey), FormatError);
  assert.throws(() => openNote(`${text}\n${line(origin, keyId, mixed.signature)}`, [vkey]), FormatError);
});
