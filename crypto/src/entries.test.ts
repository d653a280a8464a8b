/**
 * The v1 board entries (`entries.ts`, DESIGN.md "Wire formats, version 1").
 *
 * Fixtures: the token key is the RFC 9474 Appendix A key (test-vectors/rfc9474/rfc9474.json,
 * 4096 bits), DER-encoded here as an rsaEncryption SubjectPublicKeyInfo and cross-checked with
 * Node's parser; the board key is derived from a fixed Ed25519 seed. Everything is deterministic,
 * so the golden encodings below are exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { FormatError, fromHex, toBase64, utf8 } from './bytes.ts';
import { canonicalBytes } from './jcs.ts';
import { MAX_ENTRY_SIZE } from './tiles.ts';
import {
  Ballot,
  Close,
  Poll,
  Tally,
  checkTime,
  formatTime,
  parseEntry,
  timeMs,
} from './entries.ts';
import type { BallotFields, Entry, PollFields } from './entries.ts';
import { formatSignerKey, parseSignerKey } from './note.ts';
import { parseTokenKeySpki, tokenIdFor } from './token.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures

const RFC9474 = JSON.parse(
  readFileSync(new URL('../../test-vectors/rfc9474/rfc9474.json', import.meta.url), 'utf8'),
) as { vectors: { n: string; e: string; modulus_bits: number }[] };

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}
function tlv(tag: number, content: readonly number[]): number[] {
  return [tag, ...derLength(content.length), ...content];
}
function derInteger(magnitude: Uint8Array): number[] {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const v = [...magnitude.subarray(i)];
  return tlv(0x02, v[0]! & 0x80 ? [0, ...v] : v);
}
const RSA_ALG = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
function spkiOf(nTlv: readonly number[], eTlv: readonly number[], alg: readonly number[] = RSA_ALG): Uint8Array {
  return Uint8Array.from(tlv(0x30, [...alg, ...tlv(0x03, [0, ...tlv(0x30, [...nTlv, ...eTlv])])]));
}
function rsaSpki(n: Uint8Array, e: Uint8Array, alg: readonly number[] = RSA_ALG): Uint8Array {
  return spkiOf(derInteger(n), derInteger(e), alg);
}

const KEY = RFC9474.vectors[0]!;
const SPKI = rsaSpki(fromHex(KEY.n), fromHex(KEY.e));
const SIG_LENGTH = KEY.modulus_bits / 8;

const BOARD_SIGNER = parseSignerKey(formatSignerKey('vote.example/poll/budget-2025', new Uint8Array(32).fill(7)));
const BOARD_KEY = BOARD_SIGNER.verifierKey;

const POLL_FIELDS: PollFields = {
  poll_id: 'budget-2025',
  title: 'Participatory budget 2025',
  description: 'Pick up to two projects.\nResults are sealed until close.',
  ballot: {
    kind: 'multi',
    options: [
      { id: 'park', label: 'A new park' },
      { id: 'library', label: 'Library opening hours' },
      { id: 'bikes', label: 'Bike lanes' },
    ],
    max_choices: 2,
  },
  opens_at: '2025-03-01T08:00:00Z',
  closes_at: '2025-03-01T18:00:00Z',
  results: 'sealed',
  token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki: SPKI },
  board_key: BOARD_KEY,
  roll: { size: 5, commitment: new Uint8Array(32).fill(0xab) },
};

const BALLOT_FIELDS: BallotFields = {
  poll_id: 'budget-2025',
  token: { nonce: new Uint8Array(32).fill(1), prefix: new Uint8Array(32).fill(2), sig: new Uint8Array(SIG_LENGTH).fill(3) },
  choice: ['bikes', 'park'],
};

const CLOSE_FIELDS = { poll_id: 'budget-2025', closed_at: '2025-03-01T18:00:00Z', ballots: 3, issued: 5 };

const TALLY_FIELDS = {
  poll_id: 'budget-2025',
  tree_size: 5,
  root: new Uint8Array(32).fill(9),
  counts: { park: 2, library: 0, bikes: 2 },
  ballots_counted: 3,
  ballots_rejected: 0,
};

const poll = new Poll(POLL_FIELDS);
const ballot = new Ballot(BALLOT_FIELDS);
const close = new Close(CLOSE_FIELDS);
const tally = new Tally(TALLY_FIELDS);
const VALID: Entry[] = [poll, ballot, close, tally];

const text = (e: { serialize(): Uint8Array }) => new TextDecoder().decode(e.serialize());
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

// ---------------------------------------------------------------------------------------------
// Golden encodings and round trips

test('fixture: the DER SPKI built from the RFC 9474 key is what Node parses as that key', () => {
  const jwk = createPublicKey({ key: Buffer.from(SPKI), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  assert.equal(Buffer.from(jwk.n!, 'base64url').toString('hex'), KEY.n);
  assert.equal(parseTokenKeySpki(SPKI).modulusLength, 512);
});

test('close and tally: exact canonical encodings (golden)', () => {
  assert.equal(text(close), '{"ballots":3,"closed_at":"2025-03-01T18:00:00Z","issued":5,"poll_id":"budget-2025","type":"close","v":1}');
  assert.equal(
    text(tally),
    '{"ballots_counted":3,"ballots_rejected":0,"counts":{"bikes":2,"library":0,"park":2},"poll_id":"budget-2025",' +
      '"root":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=","tree_size":5,"type":"tally","v":1}',
  );
});

test('ballot: exact canonical encoding (golden)', () => {
  assert.equal(
    text(ballot),
    '{"choice":["bikes","park"],"poll_id":"budget-2025","token":{"nonce":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",' +
      '"prefix":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",' +
      `"sig":"${toBase64(new Uint8Array(512).fill(3))}"},"type":"ballot","v":1}`,
  );
});

test('poll: canonical encoding has the DESIGN.md fields, in RFC 8785 order', () => {
  const s = text(poll);
  assert.ok(s.startsWith('{"ballot":{"kind":"multi","max_choices":2,"options":[{"id":"park","label":"A new park"},'), s);
  assert.ok(s.endsWith(`"title":"Participatory budget 2025","token_key":{"spki":"${toBase64(SPKI)}","suite":"RSABSSA-SHA384-PSS-Randomized"},"type":"poll","v":1}`));
  assert.deepEqual(
    Object.keys(JSON.parse(s) as object),
    ['ballot', 'board_key', 'closes_at', 'description', 'opens_at', 'poll_id', 'results', 'roll', 'title', 'token_key', 'type', 'v'],
  );
});

test('every valid entry round-trips byte-exactly through deserialize and parseEntry', () => {
  for (const entry of VALID) {
    const bytes = entry.serialize();
    const again = parseEntry(bytes);
    assert.equal(again.type, entry.type);
    assert.deepEqual(again.serialize(), bytes);
    assert.deepEqual(again.toJSON(), entry.toJSON());
    const klass = { poll: Poll, ballot: Ballot, close: Close, tally: Tally }[entry.type];
    assert.ok(again instanceof klass);
    assert.deepEqual(klass.deserialize(bytes).serialize(), bytes);
    // serialize() hands out copies: mutating one does not change the entry.
    bytes[0] = 0;
    assert.equal(entry.serialize()[0], 0x7b);
  }
});

test('typed access: binary fields are bytes, objects are frozen, inputs are copied', () => {
  const p = Poll.deserialize(poll.serialize());
  assert.deepEqual(p.token_key.spki, SPKI);
  assert.equal(p.tokenSigLength, 512);
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.ballot) && Object.isFrozen(p.ballot.options));
  const b = Ballot.deserialize(ballot.serialize());
  assert.deepEqual(b.token.nonce, new Uint8Array(32).fill(1));
  assert.deepEqual(b.tokenId(), tokenIdFor('budget-2025', BALLOT_FIELDS.token));
  const nonce = new Uint8Array(32);
  const built = new Ballot({ ...BALLOT_FIELDS, token: { ...BALLOT_FIELDS.token, nonce } });
  nonce[0] = 1;
  assert.equal(built.token.nonce[0], 0);
  // Node Buffers too: their slice() is a view, so copying must not rely on it.
  const sig = Buffer.from(BALLOT_FIELDS.token.sig);
  const fromBuffer = new Ballot({ ...BALLOT_FIELDS, token: { ...BALLOT_FIELDS.token, sig } });
  const wire = Buffer.from(ballot.serialize());
  const parsed = parseEntry(wire);
  sig.fill(0);
  wire.fill(0x20);
  assert.deepEqual(fromBuffer.token.sig, BALLOT_FIELDS.token.sig);
  assert.deepEqual(parsed.serialize(), ballot.serialize());
  assert.ok(!Buffer.isBuffer(parsed.serialize()) && !Buffer.isBuffer(fromBuffer.token.sig));
  assert.equal(Tally.deserialize(tally.serialize()).counts['constructor'], undefined);
  assert.equal(timeMs(p.opens_at), Date.UTC(2025, 2, 1, 8));
  assert.ok(p.isOpenAt(Date.UTC(2025, 2, 1, 12)));
  assert.ok(!p.isOpenAt(new Date('2025-03-01T18:00:00Z')));
});

test('switching on the closed union', () => {
  const seen = VALID.map((e) => {
    const entry = parseEntry(e.serialize());
    switch (entry.type) {
      case 'poll':
        return entry.ballot.kind;
      case 'ballot':
        return entry.choice.join('+');
      case 'close':
        return entry.issued;
      case 'tally':
        return entry.ballots_counted;
    }
  });
  assert.deepEqual(seen, ['multi', 'bikes+park', 5, 3]);
});

// ---------------------------------------------------------------------------------------------
// Malformed entries: each rejected with a message naming the field

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const J = {
  poll: poll.toJSON() as Json,
  ballot: ballot.toJSON() as Json,
  close: close.toJSON() as Json,
  tally: tally.toJSON() as Json,
};

const b64 = (n: number, fill = 0) => toBase64(new Uint8Array(n).fill(fill));
const nodeSpki = (bits: number) =>
  new Uint8Array(generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'der' }));

const MALFORMED: [string, keyof typeof J, (o: Json) => void, string][] = [
  // poll
  ['unknown field', 'poll', (o) => (o['extra'] = 1), 'poll.extra: unknown field'],
  ['missing title', 'poll', (o) => delete o['title'], 'poll: missing field "title"'],
  ['missing roll.size', 'poll', (o) => delete o['roll'].size, 'poll.roll: missing field "size"'],
  ['version 2', 'poll', (o) => (o['v'] = 2), 'poll.v: unsupported version 2; this implementation reads only v1'],
  ['version "1"', 'poll', (o) => (o['v'] = '1'), 'poll.v: unsupported version "1"'],
  ['missing version', 'poll', (o) => delete o['v'], 'poll.v: missing'],
  ['poll_id upper case', 'poll', (o) => (o['poll_id'] = 'Budget'), 'poll.poll_id: "Budget" does not match [a-z0-9][a-z0-9-]{0,63}'],
  ['poll_id leading dash', 'poll', (o) => (o['poll_id'] = '-budget'), 'poll.poll_id: "-budget" does not match'],
  ['poll_id 65 chars', 'poll', (o) => (o['poll_id'] = 'a'.repeat(65)), 'poll.poll_id:'],
  ['poll_id a number', 'poll', (o) => (o['poll_id'] = 7), 'poll.poll_id: expected a string, got 7'],
  ['empty title', 'poll', (o) => (o['title'] = ''), 'poll.title: must not be empty'],
  ['title with a control character', 'poll', (o) => (o['title'] = 'a\u0007'), 'poll.title: control character not allowed'],
  ['title with a newline', 'poll', (o) => (o['title'] = 'a\nb'), 'poll.title: control character not allowed'],
  ['title too long', 'poll', (o) => (o['title'] = 'x'.repeat(201)), 'poll.title: 201 characters, at most 200'],
  ['description with CR', 'poll', (o) => (o['description'] = 'a\r\nb'), 'poll.description: control character not allowed'],
  ['ballot kind "ranked"', 'poll', (o) => (o['ballot'].kind = 'ranked'), 'poll.ballot.kind: expected "single" or "multi", got "ranked"'],
  ['one option', 'poll', (o) => o['ballot'].options.splice(1), 'poll.ballot.options: 1 options, expected 2..256'],
  ['options not an array', 'poll', (o) => (o['ballot'].options = {}), 'poll.ballot.options: expected an array'],
  ['duplicate option id', 'poll', (o) => (o['ballot'].options[1].id = 'park'), 'poll.ballot.options[1].id: duplicate option id "park"'],
  ['option id with upper case', 'poll', (o) => (o['ballot'].options[0].id = 'Park'), 'poll.ballot.options[0].id: "Park" does not match [a-z0-9][a-z0-9_-]{0,63}'],
  ['option with an unknown field', 'poll', (o) => (o['ballot'].options[2].color = 'red'), 'poll.ballot.options[2].color: unknown field'],
  ['option without label', 'poll', (o) => delete o['ballot'].options[0].label, 'poll.ballot.options[0]: missing field "label"'],
  ['empty label', 'poll', (o) => (o['ballot'].options[0].label = ''), 'poll.ballot.options[0].label: must not be empty'],
  ['single with max_choices 2', 'poll', (o) => (o['ballot'].kind = 'single'), 'poll.ballot.max_choices: must be 1 for a single-choice ballot, got 2'],
  ['max_choices 0', 'poll', (o) => (o['ballot'].max_choices = 0), 'poll.ballot.max_choices: must be 1..3 (the number of options), got 0'],
  ['max_choices above options', 'poll', (o) => (o['ballot'].max_choices = 4), 'poll.ballot.max_choices: must be 1..3'],
  ['max_choices 1.5', 'poll', (o) => (o['ballot'].max_choices = 1.5), 'poll.ballot.max_choices: expected a non-negative integer'],
  ['time with offset', 'poll', (o) => (o['opens_at'] = '2025-03-01T09:00:00+01:00'), 'poll.opens_at: "2025-03-01T09:00:00+01:00" is not an RFC 3339 UTC time'],
  ['time with fraction', 'poll', (o) => (o['opens_at'] = '2025-03-01T08:00:00.000Z'), 'poll.opens_at:'],
  ['time lower-case z', 'poll', (o) => (o['opens_at'] = '2025-03-01T08:00:00z'), 'poll.opens_at:'],
  ['date only', 'poll', (o) => (o['opens_at'] = '2025-03-01'), 'poll.opens_at:'],
  ['February 30', 'poll', (o) => (o['opens_at'] = '2025-02-30T08:00:00Z'), 'poll.opens_at: "2025-02-30T08:00:00Z" is not a valid date and time'],
  ['leap second', 'poll', (o) => (o['opens_at'] = '2016-12-31T23:59:60Z'), 'is not a valid date and time'],
  ['hour 24', 'poll', (o) => (o['closes_at'] = '2025-03-01T24:00:00Z'), 'poll.closes_at: "2025-03-01T24:00:00Z" is not a valid date'],
  ['closes before it opens', 'poll', (o) => (o['closes_at'] = '2025-03-01T07:59:59Z'), 'poll.closes_at: must be after opens_at'],
  ['closes when it opens', 'poll', (o) => (o['closes_at'] = o['opens_at']), 'poll.closes_at: must be after opens_at'],
  ['results "hidden"', 'poll', (o) => (o['results'] = 'hidden'), 'poll.results: expected "live" or "sealed", got "hidden"'],
  ['token suite', 'poll', (o) => (o['token_key'].suite = 'RSABSSA-SHA384-PSS-Deterministic'), 'poll.token_key.suite: expected "RSABSSA-SHA384-PSS-Randomized"'],
  ['spki not base64', 'poll', (o) => (o['token_key'].spki = 'MII@'), 'poll.token_key.spki: not standard padded base64'],
  ['spki unpadded base64', 'poll', (o) => (o['token_key'].spki = (o['token_key'].spki as string).replace(/=+$/, '')), 'poll.token_key.spki:'],
  ['spki garbage', 'poll', (o) => (o['token_key'].spki = b64(300, 0x04)), 'poll.token_key.spki: not a DER RSA SubjectPublicKeyInfo (SubjectPublicKeyInfo: expected tag 0x30)'],
  ['spki with trailing byte', 'poll', (o) => (o['token_key'].spki = toBase64(Uint8Array.from([...SPKI, 0]))), 'poll.token_key.spki: trailing bytes'],
  ['spki id-RSASSA-PSS', 'poll', (o) => (o['token_key'].spki = toBase64(rsaSpki(fromHex(KEY.n), fromHex(KEY.e), [0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a]))), 'poll.token_key.spki: algorithm MUST be rsaEncryption'],
  ['RSA 1024 bits', 'poll', (o) => (o['token_key'].spki = toBase64(nodeSpki(1024))), 'poll.token_key.spki: RSA modulus of 1024 bits, expected 2048..8192'],
  ['RSA even exponent', 'poll', (o) => (o['token_key'].spki = toBase64(rsaSpki(fromHex(KEY.n), Uint8Array.of(2)))), 'poll.token_key.spki: RSA public exponent MUST be 65537'],
  ['RSA non-minimal INTEGER', 'poll', (o) => (o['token_key'].spki = toBase64(spkiOf(derInteger(fromHex(KEY.n)), [0x02, 0x04, 0x00, 0x01, 0x00, 0x01]))), 'poll.token_key.spki: not a DER RSA SubjectPublicKeyInfo (publicExponent: non-minimal INTEGER)'],
  ['RSA negative modulus', 'poll', (o) => (o['token_key'].spki = toBase64(spkiOf(tlv(0x02, [...fromHex(KEY.n)]), derInteger(fromHex(KEY.e))))), 'poll.token_key.spki: not a DER RSA SubjectPublicKeyInfo (modulus: negative)'],
  ['RSA non-minimal length', 'poll', (o) => (o['token_key'].spki = toBase64(spkiOf(derInteger(fromHex(KEY.n)), [0x02, 0x81, 0x03, 0x01, 0x00, 0x01]))), 'poll.token_key.spki: not a DER RSA SubjectPublicKeyInfo (publicExponent: non-minimal length)'],
  ['board key malformed', 'poll', (o) => (o['board_key'] = 'vote.example+abcdef01+AAAA'), 'poll.board_key: not a C2SP verifier key'],
  ['board key with a wrong key id', 'poll', (o) => (o['board_key'] = (o['board_key'] as string).replace(/\+[0-9a-f]{8}\+/, '+00000000+')), 'poll.board_key: not a C2SP verifier key: verifier key: key ID does not match'],
  ['roll size negative', 'poll', (o) => (o['roll'].size = -1), 'poll.roll.size: expected a non-negative integer ≤ 2^53-1, got -1'],
  ['roll size 2^53', 'poll', (o) => (o['roll'].size = 2 ** 53), 'poll.roll.size: expected a non-negative integer'],
  ['roll commitment 31 bytes', 'poll', (o) => (o['roll'].commitment = b64(31)), 'poll.roll.commitment: expected 32 bytes, got 31'],
  ['too big for a tile bundle', 'poll', (o) => {
    o['ballot'].options = Array.from({ length: 256 }, (_, i) => ({ id: `o${i}`, label: '€'.repeat(200) }));
  }, 'entries are at most 65535'],

  // ballot
  ['ballot unknown field', 'ballot', (o) => (o['ip'] = '10.0.0.1'), 'ballot.ip: unknown field'],
  ['ballot missing choice', 'ballot', (o) => delete o['choice'], 'ballot: missing field "choice"'],
  ['empty choice', 'ballot', (o) => (o['choice'] = []), 'ballot.choice: must not be empty'],
  ['duplicate choice', 'ballot', (o) => (o['choice'] = ['park', 'park']), 'ballot.choice[1]: duplicate option id "park"'],
  ['unsorted choice', 'ballot', (o) => (o['choice'] = ['park', 'bikes']), 'ballot.choice[1]: ids must be in ascending order ("bikes" after "park")'],
  ['choice not strings', 'ballot', (o) => (o['choice'] = [1]), 'ballot.choice[0]: expected a string, got 1'],
  ['choice id pattern', 'ballot', (o) => (o['choice'] = ['Park']), 'ballot.choice[0]: "Park" does not match'],
  ['choice a string', 'ballot', (o) => (o['choice'] = 'park'), 'ballot.choice: expected an array, got "park"'],
  ['nonce 31 bytes', 'ballot', (o) => (o['token'].nonce = b64(31)), 'ballot.token.nonce: expected 32 bytes, got 31'],
  ['prefix 33 bytes', 'ballot', (o) => (o['token'].prefix = b64(33)), 'ballot.token.prefix: expected 32 bytes, got 33'],
  ['sig 100 bytes', 'ballot', (o) => (o['token'].sig = b64(100)), 'ballot.token.sig: 100 bytes, expected 256..1024'],
  ['sig 1025 bytes', 'ballot', (o) => (o['token'].sig = b64(1025)), 'ballot.token.sig: 1025 bytes'],
  ['nonce with stray bits', 'ballot', (o) => (o['token'].nonce = 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF='), 'ballot.token.nonce: non-canonical base64'],
  ['nonce base64url', 'ballot', (o) => (o['token'].nonce = b64(32, 0xfb).replaceAll('+', '-').replaceAll('/', '_')), 'ballot.token.nonce: not standard padded base64'],
  ['token missing prefix', 'ballot', (o) => delete o['token'].prefix, 'ballot.token: missing field "prefix"'],
  ['token extra field', 'ballot', (o) => (o['token'].kid = 'x'), 'ballot.token.kid: unknown field'],
  ['token null', 'ballot', (o) => (o['token'] = null), 'ballot.token: expected an object'],
  ['ballot poll_id', 'ballot', (o) => (o['poll_id'] = 'budget 2025'), 'ballot.poll_id: "budget 2025" does not match'],

  // close
  ['close ballots above issued', 'close', (o) => (o['ballots'] = 6), 'close.ballots: 6 exceeds issued (5)'],
  ['close issued float', 'close', (o) => (o['issued'] = 5.5), 'close.issued: expected a non-negative integer ≤ 2^53-1, got 5.5'],
  ['close closed_at', 'close', (o) => (o['closed_at'] = 'yesterday'), 'close.closed_at: "yesterday" is not an RFC 3339 UTC time'],
  ['close missing issued', 'close', (o) => delete o['issued'], 'close: missing field "issued"'],

  // tally
  ['tally root 33 bytes', 'tally', (o) => (o['root'] = b64(33)), 'tally.root: expected 32 bytes, got 33'],
  ['tally count key', 'tally', (o) => (o['counts'].Park = 0), 'tally.counts: key: "Park" does not match'],
  ['tally negative count', 'tally', (o) => (o['counts'].park = -2), 'tally.counts.park: expected a non-negative integer'],
  ['tally counts an array', 'tally', (o) => (o['counts'] = [1, 2]), 'tally.counts: expected an object'],
  ['tally one option', 'tally', (o) => (o['counts'] = { park: 3 }), 'tally.counts: 1 options, expected 2..256'],
  ['tally tree size', 'tally', (o) => (o['tree_size'] = 6), 'tally.tree_size: 6, but a board of poll + 3 counted + 0 rejected ballots + close has 5 entries'],

  // the union
  ['unknown type', 'ballot', (o) => (o['type'] = 'vote'), 'entry.type: unknown entry type "vote" (v1 has poll, ballot, close, tally)'],
  ['missing type', 'close', (o) => delete o['type'], 'entry: missing field "type"'],
  ['type not a string', 'close', (o) => (o['type'] = ['close']), 'entry.type: unknown entry type an array'],
  ['tally v2', 'tally', (o) => (o['v'] = 2), 'tally.v: unsupported version 2'],
];

for (const [name, type, mutate, fragment] of MALFORMED) {
  test(`rejects ${type}: ${name}`, () => {
    const o = clone(J[type]);
    mutate(o);
    const bytes = canonicalBytes(o);
    const check = (err: unknown) => {
      assert.ok(err instanceof FormatError, `not a FormatError: ${String(err)}`);
      assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
      return true;
    };
    assert.throws(() => parseEntry(bytes), check);
  });
}

test('the class deserializers name their own type when given another entry', () => {
  assert.throws(() => Ballot.deserialize(close.serialize()), /ballot\.type: expected "ballot", got "close"/);
  assert.throws(() => Poll.deserialize(utf8('[]')), /poll: expected an object/);
  assert.throws(() => parseEntry(utf8('[]')), /entry: expected a JSON object/);
  assert.throws(() => parseEntry(utf8('"poll"')), /entry: expected a JSON object/);
});

test('non-canonical encodings of valid entries are rejected', () => {
  for (const entry of VALID) {
    const json = entry.toJSON();
    assert.throws(() => parseEntry(utf8(JSON.stringify(json, null, 1))), /not canonical JSON \(RFC 8785\): insignificant whitespace/);
    assert.throws(() => parseEntry(utf8(JSON.stringify(json))), /not canonical JSON/); // insertion order ≠ sorted
    const s = new TextDecoder().decode(entry.serialize());
    assert.throws(() => parseEntry(utf8(s.replace('"v":1', '"v":1.0'))), /not canonical/);
    assert.throws(() => parseEntry(utf8(s.replace('{', '{"type":"x",'))), /duplicate key "type"/);
  }
});

test(`entries over ${MAX_ENTRY_SIZE} bytes are rejected before parsing`, () => {
  const big = new Uint8Array(MAX_ENTRY_SIZE + 1).fill(0x20);
  assert.throws(() => parseEntry(big), /entry: 65536 bytes, entries are at most 65535/);
  assert.throws(() => Poll.deserialize(big), /poll: 65536 bytes/);
});

test('constructors validate typed input too (a malformed object cannot exist)', () => {
  assert.throws(() => new Ballot({ ...BALLOT_FIELDS, token: { ...BALLOT_FIELDS.token, nonce: 'AA==' as unknown as Uint8Array } }), /ballot\.token\.nonce: expected bytes/);
  assert.throws(() => new Poll({ ...POLL_FIELDS, title: undefined as unknown as string }), /poll\.title: expected a string, got nothing/);
  assert.throws(() => new Poll({ ...POLL_FIELDS, title: 'a\ud800' }), /poll\.title: lone surrogate/);
  assert.throws(() => new Poll({ ...POLL_FIELDS, ballot: null as unknown as PollFields['ballot'] }), /poll\.ballot: expected an object/);
  assert.throws(() => new Tally({ ...TALLY_FIELDS, counts: { park: 1, 'bad id': 1 } }), /tally\.counts: key: "bad id"/);
  assert.throws(() => new Close({ ...CLOSE_FIELDS, ballots: Number.NaN }), /close\.ballots: expected a non-negative integer/);
});

// ---------------------------------------------------------------------------------------------
// Checks against the manifest

test('poll.checkChoice: single takes exactly one, multi 1..max_choices distinct known ids', () => {
  const single = new Poll({ ...POLL_FIELDS, ballot: { ...POLL_FIELDS.ballot, kind: 'single', max_choices: 1 } });
  single.checkChoice(['park']);
  assert.throws(() => single.checkChoice(['bikes', 'park']), /ballot\.choice: a single-choice ballot takes exactly one option, got 2/);
  assert.throws(() => single.checkChoice([]), /exactly one option, got 0/);
  poll.checkChoice(['library']);
  poll.checkChoice(['bikes', 'park']);
  assert.throws(() => poll.checkChoice([]), /ballot\.choice: 0 options chosen, this poll allows 1\.\.2/);
  assert.throws(() => poll.checkChoice(['bikes', 'library', 'park']), /3 options chosen, this poll allows 1\.\.2/);
  assert.throws(() => poll.checkChoice(['park', 'zoo']), /ballot\.choice\[1\]: unknown option id "zoo"/);
  assert.throws(() => poll.checkChoice(['park', 'park']), /ballot\.choice\[1\]: duplicate option id "park"/);
});

test('poll.checkBallot: poll id, choice and signature length', () => {
  poll.checkBallot(ballot);
  assert.throws(() => poll.checkBallot(new Ballot({ ...BALLOT_FIELDS, poll_id: 'other' })), /ballot\.poll_id: "other" is not this poll \("budget-2025"\)/);
  assert.throws(() => poll.checkBallot(new Ballot({ ...BALLOT_FIELDS, choice: ['zoo'] })), /ballot\.choice\[0\]: unknown option id "zoo"/);
  const short = new Ballot({ ...BALLOT_FIELDS, token: { ...BALLOT_FIELDS.token, sig: new Uint8Array(256) } });
  assert.throws(() => poll.checkBallot(short), /ballot\.token\.sig: 256 bytes, the poll's token key signs 512/);
});

test('poll.checkClose and poll.checkTally', () => {
  poll.checkClose(close);
  assert.throws(() => poll.checkClose(new Close({ ...CLOSE_FIELDS, issued: 6 })), /close\.issued: 6 tokens issued, the roll has 5 voters/);
  assert.throws(() => poll.checkClose(new Close({ ...CLOSE_FIELDS, closed_at: '2025-02-28T00:00:00Z' })), /close\.closed_at: before the poll's opens_at/);
  poll.checkTally(tally);
  const t = (counts: Record<string, number>, counted = 3) => new Tally({ ...TALLY_FIELDS, counts, ballots_counted: counted, tree_size: 2 + counted });
  assert.throws(() => poll.checkTally(t({ park: 2, bikes: 2 })), /tally\.counts: missing option "library"/);
  assert.throws(() => poll.checkTally(t({ park: 2, bikes: 2, library: 0, zoo: 0 })), /tally\.counts\.zoo: not an option of this poll/);
  assert.throws(() => poll.checkTally(t({ park: 4, bikes: 0, library: 0 })), /tally\.counts\.park: 4 exceeds ballots_counted \(3\)/);
  assert.throws(() => poll.checkTally(t({ park: 1, bikes: 1, library: 0 })), /sum 2 impossible for 3 ballots of 1\.\.2 choices/);
  assert.throws(() => poll.checkTally(t({ park: 3, bikes: 3, library: 1 })), /sum 7 impossible/);
  const single = new Poll({ ...POLL_FIELDS, ballot: { ...POLL_FIELDS.ballot, kind: 'single', max_choices: 1 } });
  single.checkTally(t({ park: 1, bikes: 2, library: 0 }));
  assert.throws(() => single.checkTally(t({ park: 1, bikes: 1, library: 0 })), /sum 2 differs from ballots_counted 3 on a single-choice ballot/);
  assert.throws(() => poll.checkTally(new Tally({ ...TALLY_FIELDS, poll_id: 'other' })), /tally\.poll_id: "other" is not this poll/);
});

test('parseTokenKeySpki agrees with Node on generated keys', () => {
  for (const bits of [2048, 3072]) {
    const spki = nodeSpki(bits);
    assert.equal(parseTokenKeySpki(spki).modulusLength, bits / 8);
  }
  // 2056 bits: a modulus whose byte length is not a multiple of 64.
  assert.equal(parseTokenKeySpki(nodeSpki(2056)).modulusLength, 257);
});

// ---------------------------------------------------------------------------------------------
// Properties

const optionIdArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}$/);
const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

test('property: generated valid ballots round-trip byte-exactly', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
      bytesArb(32),
      bytesArb(32),
      fc.integer({ min: 256, max: 1024 }).chain((n) => bytesArb(n)),
      fc.uniqueArray(optionIdArb, { minLength: 1, maxLength: 6 }),
      (poll_id, nonce, prefix, sig, ids) => {
        const b = new Ballot({ poll_id, token: { nonce, prefix, sig }, choice: [...ids].sort() });
        const bytes = b.serialize();
        const again = parseEntry(bytes);
        assert.ok(again instanceof Ballot);
        assert.deepEqual(again.serialize(), bytes);
        assert.deepEqual(again.token.sig, sig);
      },
    ),
    { numRuns: 200 },
  );
});

test('property: generated valid tallies and closes round-trip byte-exactly', () => {
  fc.assert(
    fc.property(
      fc.dictionary(optionIdArb, fc.nat(), { minKeys: 2, maxKeys: 8 }),
      fc.nat({ max: 2 ** 40 }),
      fc.nat({ max: 2 ** 40 }),
      bytesArb(32),
      fc.integer({ min: 0, max: 253402300799 }),
      (counts, counted, rejected, root, seconds) => {
        const t = new Tally({ poll_id: 'p', tree_size: 2 + counted + rejected, root, counts, ballots_counted: counted, ballots_rejected: rejected });
        assert.deepEqual(parseEntry(t.serialize()).serialize(), t.serialize());
        const closed_at = new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
        const c = new Close({ poll_id: 'p', closed_at, ballots: counted, issued: counted + rejected });
        assert.deepEqual(Close.deserialize(c.serialize()).serialize(), c.serialize());
      },
    ),
    { numRuns: 200 },
  );
});

// One byte string per entry: a mutated encoding is either rejected or is exactly what the entry it
// parses to serializes to. `accepted` counts the mutations that produced another valid entry, so
// the property is not vacuous.
const JSONISH = [...'0123456789abcdefxyzAZ+/="\\{}[]:, .-_eE\n', '\u00e9', '\u20ac'].map((c) => utf8(c));

const mutation = (len: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat({ max: len - 1 }), with: fc.constantFrom(...JSONISH) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: len }), with: fc.constantFrom(...JSONISH) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: len - 1 }), with: fc.constant(new Uint8Array()) }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat({ max: len - 1 }), with: fc.nat({ max: 7 }).map((b) => Uint8Array.of(1 << b)) }),
  );

function mutate(bytes: Uint8Array, m: { kind: string; at: number; with: Uint8Array }): Uint8Array {
  const a = [...bytes];
  if (m.kind === 'replace') a.splice(m.at, 1, ...m.with);
  if (m.kind === 'insert') a.splice(m.at, 0, ...m.with);
  if (m.kind === 'delete') a.splice(m.at, 1);
  if (m.kind === 'flip') a[m.at] = a[m.at]! ^ m.with[0]!;
  return Uint8Array.from(a);
}

for (const entry of VALID) {
  test(`property: mutations of a valid ${entry.type} are rejected or re-serialize to the same bytes`, () => {
    const original = entry.serialize();
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(mutation(original.length), { minLength: 1, maxLength: 3 }), (ms) => {
        let bytes = original;
        for (const m of ms) bytes = mutate(bytes, { ...m, at: Math.min(m.at, Math.max(0, bytes.length - 1)) });
        let parsed: Entry;
        try {
          parsed = parseEntry(bytes);
        } catch (err) {
          assert.ok(err instanceof FormatError, `not a FormatError: ${String(err)}`);
          return;
        }
        accepted++;
        assert.deepEqual(parsed.serialize(), bytes);
      }),
      { numRuns: 2000 },
    );
    assert.ok(accepted > 0, 'no mutation produced a valid entry: the property tested nothing');
  });
}

test('property: replacing any field with any JSON value gives a FormatError or a valid entry, never another error', () => {
  const paths: [keyof typeof J, string[]][] = [
    ['poll', ['poll_id']], ['poll', ['title']], ['poll', ['ballot', 'kind']], ['poll', ['ballot', 'options']],
    ['poll', ['ballot', 'options', '0']], ['poll', ['ballot', 'max_choices']], ['poll', ['token_key']],
    ['poll', ['token_key', 'spki']], ['poll', ['roll']], ['poll', ['board_key']], ['poll', ['ballot']],
    ['ballot', ['token']], ['ballot', ['choice']], ['ballot', ['choice', '0']], ['ballot', ['token', 'sig']],
    ['close', ['ballots']], ['close', ['closed_at']], ['tally', ['counts']], ['tally', ['counts', 'park']], ['tally', ['root']],
    ['tally', ['v']], ['ballot', ['type']],
  ];
  // Random JSON rarely fits a field, so half the replacements are the field's own value or a
  // value of its kind: both branches MUST occur or the property proved nothing.
  const sameKind = (old: unknown) =>
    typeof old === 'string' ? fc.constantFrom(old, 'b', 'park', 'bikes', 'x-1') : typeof old === 'number' ? fc.nat(10) : fc.constant(old);
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...paths).chain(([type, path]) => {
        let old: unknown = J[type];
        for (const k of path) old = (old as Json)[k];
        return fc.tuple(fc.constant([type, path] as const), fc.oneof(fc.jsonValue({ maxDepth: 3 }), sameKind(old)));
      }),
      ([[type, path], value]) => {
        const o = clone(J[type]);
        let at: Json = o;
        for (const k of path.slice(0, -1)) at = at[k] as Json;
        at[path[path.length - 1]!] = value;
        try {
          const parsed = parseEntry(canonicalBytes(o));
          assert.deepEqual(parsed.serialize(), canonicalBytes(o));
          accepted++;
        } catch (err) {
          assert.ok(err instanceof FormatError, `not a FormatError: ${String(err)}`);
          rejected++;
        }
      },
    ),
    { numRuns: 1000 },
  );
  assert.ok(accepted >= 50 && rejected >= 50, `accepted ${accepted}, rejected ${rejected}`);
});

test('formatTime writes the one time form checkTime accepts, dropping the fraction of a second', () => {
  assert.equal(formatTime(new Date('2026-03-01T18:00:00.999Z')), '2026-03-01T18:00:00Z');
  assert.equal(formatTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), '2026-01-02T03:04:05Z');
  assert.throws(() => formatTime(new Date(Number.NaN)), FormatError);
  assert.throws(() => formatTime(Number.POSITIVE_INFINITY), FormatError);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799999 }), (ms) => {
      const text = formatTime(ms);
      assert.equal(checkTime(text, 't'), text);
      assert.equal(timeMs(text), Math.floor(ms / 1000) * 1000);
    }),
  );
});

