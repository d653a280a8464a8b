/**
 * RFC 8785 (JSON Canonicalization Scheme) and blindvote's strict JSON parsers (`jcs.ts`).
 *
 * Known answers, source RFC 8785 (https://www.rfc-editor.org/rfc/rfc8785):
 *   - §3.2.2 input and §3.2.3 output ("numbers", "string", "literals" example);
 *   - §3.2.3 property sorting example (UTF-16 code-unit order);
 *   - Appendix B, number serialization samples (IEEE 754 bit patterns → expected text).
 * They are small enough to sit here; the rest are properties (fast-check) and rejections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError, fromHex, utf8 } from './bytes.ts';
import { MAX_DEPTH, canonicalBytes, canonicalJson, parseCanonicalJson, parseJsonStrict } from './jcs.ts';

const bytes = (s: string) => utf8(s);

// ---------------------------------------------------------------------------------------------
// RFC 8785 known answers

const RFC8785_3_2_2_INPUT = `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
  "literals": [null, true, false]
}`;
const RFC8785_3_2_3_OUTPUT = `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA'B\\"\\\\\\\\\\"/"}`;

test('RFC 8785 §3.2.2 input canonicalizes to the §3.2.3 output', () => {
  assert.equal(canonicalJson(JSON.parse(RFC8785_3_2_2_INPUT)), RFC8785_3_2_3_OUTPUT);
  assert.equal(canonicalJson(parseJsonStrict(RFC8785_3_2_2_INPUT)), RFC8785_3_2_3_OUTPUT);
});

test('RFC 8785 §3.2.3 output is accepted as canonical; the §3.2.2 input is not', () => {
  const value = parseCanonicalJson(bytes(RFC8785_3_2_3_OUTPUT));
  assert.deepEqual(value, JSON.parse(RFC8785_3_2_2_INPUT));
  assert.throws(() => parseCanonicalJson(bytes(RFC8785_3_2_2_INPUT)), /not canonical JSON \(RFC 8785\): insignificant whitespace/);
});

test('RFC 8785 §3.2.4: the canonical output as UTF-8 bytes', () => {
  // "€" is the only non-ASCII character: E2 82 AC.
  const out = canonicalBytes(JSON.parse(RFC8785_3_2_2_INPUT));
  assert.equal(out.length, RFC8785_3_2_3_OUTPUT.length + 2);
  const euro = out.indexOf(0xe2);
  assert.deepEqual([...out.subarray(euro, euro + 3)], [0xe2, 0x82, 0xac]);
});

test('RFC 8785 §3.2.3 sorting example: keys in UTF-16 code-unit order', () => {
  const input = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  const keys = Object.keys(JSON.parse(canonicalJson(input)) as object);
  // JSON.parse puts the integer-like key "1" first regardless; check the text order instead.
  const text = canonicalJson(input);
  const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => text.indexOf(JSON.stringify(k)));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.equal(keys.length, 7);
  assert.equal(
    text,
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  assert.deepEqual(parseCanonicalJson(bytes(text)), input);
});

// RFC 8785 Appendix B: IEEE 754 double (hex) → ES6 Number serialization.
const APPENDIX_B: [string, string | null][] = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'], // minus zero
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['7fffffffffffffff', null], // NaN
  ['7ff0000000000000', null], // Infinity
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];

test('RFC 8785 Appendix B number serialization samples', () => {
  for (const [hex, expected] of APPENDIX_B) {
    const n = new DataView(fromHex(hex).buffer).getFloat64(0);
    if (expected === null) {
      assert.throws(() => canonicalJson(n), FormatError, hex);
      assert.throws(() => canonicalJson([n]), /value\[0\]: .* is not a JSON number/, hex);
      continue;
    }
    assert.equal(canonicalJson(n), expected, hex);
    assert.equal(canonicalJson({ n }), `{"n":${expected}}`, hex);
    // The canonical text parses back to the same double and is accepted as canonical.
    assert.ok(Object.is(parseCanonicalJson(bytes(expected)), Object.is(n, -0) ? 0 : n), hex);
  }
});

// ---------------------------------------------------------------------------------------------
// parseCanonicalJson rejections

const NOT_CANONICAL: [string, string, RegExp][] = [
  ['whitespace after {', '{ "a":1}', /insignificant whitespace; at offset 1/],
  ['whitespace before :', '{"a" :1}', /insignificant whitespace/],
  ['trailing newline', '{"a":1}\n', /insignificant whitespace/],
  ['leading space', ' 1', /insignificant whitespace/],
  ['wrong key order', '{"b":1,"a":2}', /not canonical JSON \(RFC 8785\): at offset 2/],
  ['code-unit key order (not code point)', '{"\uff61":1,"\ud83d\ude00":2}', /not canonical/],
  ['trailing zero', '[1.0]', /not canonical/],
  ['exponent', '[1e2]', /not canonical/],
  ['upper-case exponent', '[1E+30]', /not canonical/],
  ['minus zero', '[-0]', /not canonical/],
  ['integer above 2^53 (rounds)', '[9007199254740993]', /not canonical/],
  ['escaped ASCII', '["\\u0061"]', /not canonical/],
  ['escaped solidus', '["\\/"]', /not canonical/],
  ['upper-case hex escape', '["\\u000F"]', /not canonical/],
  ['\\u escape for \\n', '["\\u000a"]', /not canonical/],
  ['escaped non-ASCII', '["\\u20ac"]', /not canonical/],
];

for (const [name, text, message] of NOT_CANONICAL) {
  test(`parseCanonicalJson rejects ${name}`, () => {
    assert.throws(() => parseCanonicalJson(bytes(text), 'x'), (err: unknown) => err instanceof FormatError && message.test(err.message));
  });
}

const NOT_JSON: [string, string, RegExp][] = [
  ['duplicate keys', '{"a":1,"a":2}', /x: duplicate key "a"/],
  ['duplicate keys spelled differently', '{"a":1,"\\u0061":2}', /x: duplicate key "a"/],
  ['nested duplicate keys', '{"a":[{"b":1,"b":1}]}', /x\.a\[0\]: duplicate key "b"/],
  ['lone high surrogate', '["\\ud800"]', /x\[0\]: lone surrogate/],
  ['lone low surrogate', '{"k":"a\\udc00"}', /x\.k: lone surrogate/],
  ['reversed surrogate pair', '["\\ude00\\ud83d"]', /lone surrogate/],
  ['lone surrogate in a key', '{"\\ud800":1}', /lone surrogate/],
  ['trailing comma', '[1,]', /unexpected character/],
  ['single quotes', "['a']", /unexpected character/],
  ['raw control character', '["a\tb"]', /unescaped control character/],
  ['leading zero', '[01]', /invalid number/],
  ['leading plus', '[+1]', /unexpected character/],
  ['bare dot', '[.5]', /unexpected character/],
  ['NaN', '[NaN]', /unexpected character/],
  ['trailing data', '{}{}', /trailing data/],
  ['empty input', '', /unexpected end/],
  ['unterminated string', '["abc', /unterminated string/],
  ['bad escape', '["\\x41"]', /invalid escape/],
  ['short \\u escape', '["\\u12"]', /invalid \\u escape/],
  ['comment', '[1/*c*/]', /expected ',' or '\]'/],
];

for (const [name, text, message] of NOT_JSON) {
  test(`both parsers reject ${name}`, () => {
    const check = (err: unknown) => err instanceof FormatError && message.test(err.message);
    assert.throws(() => parseCanonicalJson(bytes(text), 'x'), check);
    assert.throws(() => parseJsonStrict(text, 'x'), check);
  });
}

test('parseCanonicalJson rejects invalid UTF-8 and a byte order mark', () => {
  const cases: [string, number[]][] = [
    ['invalid byte FF', [0x22, 0xff, 0x22]],
    ['overlong "/" (C0 AF)', [0x22, 0xc0, 0xaf, 0x22]],
    ['UTF-8-encoded surrogate (ED A0 80)', [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ['truncated sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['code point above U+10FFFF (F4 90 80 80)', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]],
  ];
  for (const [name, b] of cases) {
    assert.throws(() => parseCanonicalJson(Uint8Array.from(b), 'x'), /x: invalid UTF-8/, name);
  }
  assert.throws(() => parseCanonicalJson(Uint8Array.from([0xef, 0xbb, 0xbf, 0x31]), 'x'), /unexpected character .* \(U\+FEFF\)/);
  assert.deepEqual(parseCanonicalJson(Uint8Array.from([0x22, 0xe2, 0x82, 0xac, 0x22])), '€');
});

test(`nesting: ${MAX_DEPTH} levels accepted, ${MAX_DEPTH + 1} rejected by both parsers and by canonicalJson`, () => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  assert.doesNotThrow(() => parseCanonicalJson(bytes(nest(MAX_DEPTH))));
  assert.throws(() => parseCanonicalJson(bytes(nest(MAX_DEPTH + 1)), 'x'), /nesting deeper than 32/);
  assert.throws(() => parseJsonStrict(nest(MAX_DEPTH + 1), 'x'), /nesting deeper than 32/);
  const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  assert.doesNotThrow(() => parseJsonStrict(objects(MAX_DEPTH)));
  assert.throws(() => parseJsonStrict(objects(MAX_DEPTH + 1)), /nesting deeper than 32/);
  let deep: unknown = 1;
  for (let i = 0; i < MAX_DEPTH + 1; i++) deep = [deep];
  assert.throws(() => canonicalJson(deep), /nesting deeper than 32/);
});

test('the depth limit: unterminated and well-formed 10^6-deep documents and a valid 33-deep one are FormatErrors, no stack overflow', () => {
  const unterminated = '['.repeat(1_000_000);
  assert.throws(() => parseJsonStrict(unterminated, 'x'), (err: unknown) => err instanceof FormatError && /nesting deeper/.test(err.message));
  assert.throws(() => parseCanonicalJson(bytes(unterminated), 'x'), FormatError);
  // Well-formed (so the canonical fast path's JSON.parse accepts it): the depth check still refuses.
  for (const depth of [MAX_DEPTH + 1, 1_000_000]) {
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    assert.throws(() => parseJsonStrict(nested, 'x'), /nesting deeper/);
    assert.throws(() => parseCanonicalJson(bytes(nested), 'x'), /nesting deeper/);
  }
  const deepest = '['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH);
  assert.deepEqual(parseCanonicalJson(bytes(deepest), 'x'), JSON.parse(deepest));
});

// ---------------------------------------------------------------------------------------------
// canonicalJson rejects values that are not JSON

test('canonicalJson rejects non-JSON values, naming the path', () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /value: undefined is not a JSON value/],
    [{ a: undefined }, /value\.a: undefined is not a JSON value/],
    [[1, () => 1], /value\[1\]: function is not a JSON value/],
    [{ n: 1n }, /value\.n: bigint is not a JSON value/],
    [{ s: Symbol('s') }, /value\.s: symbol/],
    [{ x: NaN }, /value\.x: NaN is not a JSON number/],
    [[Infinity], /value\[0\]: Infinity/],
    [{ d: new Date(0) }, /value\.d: not a plain object \(Date\)/],
    [new Map(), /not a plain object \(Map\)/],
    [{ toJSON: () => 1 }, /value\.toJSON: function/],
    [{ s: 'a\ud800' }, /value\.s: lone surrogate/],
    [{ ['\udc00']: 1 }, /value: key: lone surrogate/],
    // eslint-disable-next-line no-sparse-arrays
    [[1, , 3], /value\[1\]: hole in sparse array/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => canonicalJson(value), (err: unknown) => err instanceof FormatError && message.test(err.message), String(message));
  }
  assert.equal(canonicalJson(Object.assign(Object.create(null), { b: 1, a: [true, null] })), '{"a":[true,null],"b":1}');
});

test('parseJsonStrict: whitespace and key order are free, values are those of JSON.parse', () => {
  assert.deepEqual(parseJsonStrict(' {\n "b" : [ 1 , 2.50 ] ,\t"a":"\\u0061" }\r\n'), { b: [1, 2.5], a: 'a' });
  assert.equal(parseJsonStrict('"\\ud83d\\ude00"'), '😀');
  assert.deepEqual(parseJsonStrict('{"__proto__":1}'), JSON.parse('{"__proto__":1}'));
  assert.throws(() => parseJsonStrict(1 as unknown as string, 'r'), /r: expected a string/);
});

// ---------------------------------------------------------------------------------------------
// Properties

const jsonValue = fc.jsonValue({ maxDepth: 6, stringUnit: 'binary' });

test('property: parseCanonicalJson(canonicalBytes(v)) equals v and re-serializes to the same bytes', () => {
  fc.assert(
    fc.property(jsonValue, (v) => {
      const b = canonicalBytes(v);
      const back = parseCanonicalJson(b);
      assert.deepEqual(back, JSON.parse(JSON.stringify(v)));
      assert.deepEqual(canonicalBytes(back), b);
    }),
    { numRuns: 500 },
  );
});

test('property: any pretty-printing is accepted by parseJsonStrict and canonicalizes to the same text', () => {
  fc.assert(
    fc.property(jsonValue, fc.constantFrom(0, 1, 2, '\t'), (v, indent) => {
      const pretty = JSON.stringify(v, null, indent);
      assert.equal(canonicalJson(parseJsonStrict(pretty)), canonicalJson(v));
    }),
    { numRuns: 300 },
  );
});

test('property: parseCanonicalJson accepts only the canonical text of what it returns', () => {
  const text = fc.oneof(
    jsonValue.map((v) => JSON.stringify(v, null, 1)),
    jsonValue.map((v) => JSON.stringify(v)),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(text, (t) => {
      let value: unknown;
      try {
        value = parseCanonicalJson(bytes(t));
      } catch (err) {
        assert.ok(err instanceof FormatError, String(err));
        rejected++;
        return;
      }
      accepted++;
      assert.equal(canonicalJson(value), t);
    }),
    { numRuns: 500 },
  );
  // Both branches MUST be exercised, or the property proved nothing (JSON.stringify of scalars,
  // empty containers and sorted one-key objects is canonical, pretty-printed containers are not).
  assert.ok(accepted >= 25 && rejected >= 25, `accepted ${accepted}, rejected ${rejected}`);
});

/** Bytes near JSON: random bytes, strings over JSON's alphabet, and canonical texts with one byte changed. */
const nearJson = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.array(fc.constantFrom(...'{}[]",:-.0123456789eEtruefalsn \\u'), { maxLength: 16 }).map((cs) => bytes(cs.join(''))),
  fc.tuple(jsonValue, fc.nat(), fc.nat(255)).map(([v, at, b]) => {
    const out = canonicalBytes(v).slice();
    out[at % out.length] = b;
    return out;
  }),
);

test('property: bytes near JSON are rejected with FormatError or are canonical JSON', () => {
  let accepted = 0;
  fc.assert(
    fc.property(nearJson, (b) => {
      let v: unknown;
      try {
        v = parseCanonicalJson(b);
      } catch (err) {
        assert.ok(err instanceof FormatError, String(err));
        return;
      }
      accepted++;
      assert.deepEqual(canonicalBytes(v), b);
    }),
    { numRuns: 1000 },
  );
  assert.ok(accepted >= 5, `only ${accepted} of 1000 inputs were accepted: the property tested almost nothing`);
});

test('property: duplicate keys are rejected at any depth, whatever the values', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 8 }), jsonValue, jsonValue, fc.nat({ max: 5 }), (key, a, b, depth) => {
      let doc = `{${JSON.stringify(key)}:${JSON.stringify(a)},${JSON.stringify(key)}:${JSON.stringify(b)}}`;
      for (let i = 0; i < depth; i++) doc = `[${doc}]`;
      assert.throws(() => parseJsonStrict(doc), /duplicate key/);
      assert.throws(() => parseCanonicalJson(bytes(doc)), /duplicate key/);
    }),
    { numRuns: 200 },
  );
});
