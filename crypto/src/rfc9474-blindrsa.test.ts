/**
 * RFC 9474 (RSA blind signatures) known answers and blindvote's token flow.
 *
 * Vectors: test-vectors/rfc9474/rfc9474.json — RFC 9474 Appendix A as printed in the authors'
 * draft-14 (cfrg/draft-irtf-cfrg-blind-signatures@63ec6de), plus blindrsa-ts's differing 4th
 * vector (`alternate_vectors`, another blinding factor, internally consistent). All share one
 * 4096-bit key. Blind is reproduced with a fixed RNG: `crypto.getRandomValues` is stubbed to hand
 * out the vector's msg_prefix, salt and r = inv^-1 mod n in the order blindrsa-ts draws them, as
 * blindrsa-ts's own test does (it has no other hook for salt or r).
 */
import { before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject, JsonWebKey } from 'node:crypto';
import fc from 'fast-check';
import { BlindRSA, getSuiteByName } from '@cloudflare/blindrsa-ts';
import * as nodePlatform from './platform/node.ts';
import * as browserPlatform from './platform/browser.ts';
import { FormatError, concatBytes, fromHex, toHex, utf8 } from './bytes.ts';
import {
  BlindingState,
  POLL_ID_PATTERN,
  Token,
  TokenClient,
  TokenFinalizeError,
  TokenVerifier,
  checkPollId,
  parseTokenKeySpki,
  tokenId,
  tokenIdFor,
  tokenMessage,
  verifyToken,
} from './token.ts';
import {
  SigningFailureError,
  TokenKeyError,
  blindSign,
  exportTokenPrivateKey,
  generateTokenKey,
  importTokenPrivateKey,
  tokenKeySpki,
} from './blindsign-node.ts';
import type { TokenKeyPair } from './blindsign-node.ts';

// ---------------------------------------------------------------------------------------------
// Vectors

interface Vector {
  name: string;
  randomized: boolean;
  salt_length: number;
  modulus_bits: number;
  p: string;
  q: string;
  n: string;
  e: string;
  d: string;
  msg: string;
  msg_prefix: string;
  prepared_msg: string;
  salt: string;
  encoded_msg: string;
  inv: string;
  blinded_msg: string;
  blind_sig: string;
  sig: string;
}
type AlternateVector = Pick<Vector, 'name' | 'inv' | 'blinded_msg' | 'blind_sig' | 'sig' | 'encoded_msg'>;

const file = JSON.parse(readFileSync(new URL('../../test-vectors/rfc9474/rfc9474.json', import.meta.url), 'utf8')) as {
  vectors: Vector[];
  alternate_vectors: AlternateVector[];
};

const big = (hex: string): bigint => BigInt('0x' + hex);
const b64u = (x: bigint): string => Buffer.from(x.toString(16).padStart(2 * Math.ceil(x.toString(16).length / 2), '0'), 'hex').toString('base64url');
const toBytes = (x: bigint, len: number): Uint8Array => fromHex(x.toString(16).padStart(2 * len, '0'));
const fromBytes = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + toHex(b)));

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
  }
  return result;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  assert.equal(oldR, 1n, 'not invertible');
  return ((oldS % m) + m) % m;
}

/** Keys of a vector: a native private KeyObject (with CRT parameters), SPKI, WebCrypto public key. */
async function vectorKeys(v: Vector): Promise<{ privateKey: KeyObject; spki: Uint8Array; cryptoKey: CryptoKey }> {
  const [p, q, d] = [big(v.p), big(v.q), big(v.d)];
  const jwk: JsonWebKey = {
    kty: 'RSA',
    n: b64u(big(v.n)),
    e: b64u(big(v.e)),
    d: b64u(d),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(d % (p - 1n)),
    dq: b64u(d % (q - 1n)),
    qi: b64u(modInverse(q, p)),
  };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  const cryptoKey = await crypto.subtle.importKey('spki', spki, { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify']);
  return { privateKey, spki, cryptoKey };
}

/** Stubs `crypto.getRandomValues` for the test's duration: hands out `draws` in order, checking each size. */
function fixRandom(t: TestContext, draws: Uint8Array[]): () => number {
  const queue = [...draws];
  t.mock.method(globalThis.crypto, 'getRandomValues', <T extends ArrayBufferView | null>(array: T): T => {
    assert.ok(array instanceof Uint8Array);
    const next = queue.shift();
    assert.ok(next !== undefined, 'unexpected extra draw from the RNG');
    assert.equal(array.byteLength, next.length, 'RNG draw of an unexpected size');
    array.set(next);
    return array;
  });
  return () => queue.length;
}

const cases: { label: string; v: Vector }[] = [];
for (const v of file.vectors) cases.push({ label: v.name, v });
for (const alt of file.alternate_vectors) {
  const base = file.vectors.find((v) => v.name === alt.name);
  assert.ok(base, `alternate vector ${alt.name} has no base vector`);
  cases.push({ label: `${alt.name} (alternate: blindrsa-ts)`, v: { ...base, ...alt } });
}
let vectorsRun = 0;

describe('RFC 9474 Appendix A vectors', () => {
  test('the file holds the 4 suites and 1 alternate', () => {
    assert.equal(file.vectors.length, 4);
    assert.equal(file.alternate_vectors.length, 1);
    assert.deepEqual(
      file.vectors.map((v) => v.name).sort(),
      [
        'RSABSSA-SHA384-PSS-Deterministic',
        'RSABSSA-SHA384-PSS-Randomized',
        'RSABSSA-SHA384-PSSZERO-Deterministic',
        'RSABSSA-SHA384-PSSZERO-Randomized',
      ],
    );
  });

  for (const { label, v } of cases) {
    test(label, async (t) => {
      const { privateKey, spki, cryptoKey } = await vectorKeys(v);
      const [n, e] = [big(v.n), big(v.e)];
      const kLen = v.modulus_bits / 8;
      assert.equal(big(v.p) * big(v.q), n);
      assert.equal(n.toString(2).length, v.modulus_bits);
      assert.equal(v.salt.length / 2, v.salt_length);
      assert.equal(v.msg_prefix.length / 2, v.randomized ? 32 : 0);
      assert.equal(v.prepared_msg, v.msg_prefix + v.msg);
      const preparedMsg = fromHex(v.prepared_msg);
      const suite = getSuiteByName(BlindRSA, v.name);

      // §4.1 Prepare and §4.2 Blind, with the vector's msg_prefix, salt and r.
      const r = modInverse(big(v.inv), n);
      const left = fixRandom(t, [fromHex(v.msg_prefix), fromHex(v.salt), toBytes(r, kLen)]);
      assert.equal(toHex(suite.prepare(fromHex(v.msg))), v.prepared_msg);
      const { blindedMsg, inv } = await suite.blind(cryptoKey, preparedMsg);
      assert.equal(left(), 0);
      assert.equal(toHex(blindedMsg), v.blinded_msg);
      assert.equal(toHex(inv), v.inv);
      // encoded_msg: blinded_msg = encoded_msg * r^e, and encoded_msg = RSAVP1(pk, sig).
      assert.equal(fromBytes(fromHex(v.blinded_msg)) * modPow(big(v.inv), e, n) % n, big(v.encoded_msg));
      assert.equal(modPow(big(v.sig), e, n), big(v.encoded_msg));

      // §4.3 BlindSign, natively.
      assert.equal(toHex(blindSign(privateKey, fromHex(v.blinded_msg))), v.blind_sig);

      // §4.4 Finalize.
      const sig = await suite.finalize(cryptoKey, preparedMsg, fromHex(v.blind_sig), fromHex(v.inv));
      assert.equal(toHex(sig), v.sig);

      // sig is a plain RSASSA-PSS-SHA384 signature over prepared_msg, on both platforms.
      for (const platform of [nodePlatform, browserPlatform]) {
        const key = await platform.importRsaPssSha384PublicKey(spki, v.salt_length);
        assert.equal(key.modulusBits, v.modulus_bits);
        assert.equal(await key.verify(preparedMsg, fromHex(v.sig)), true);
        const flipped = fromHex(v.sig);
        flipped[17]! ^= 0x01;
        assert.equal(await key.verify(preparedMsg, flipped), false);
        assert.equal(await key.verify(fromHex(v.msg + '00'), fromHex(v.sig)), false);
        const otherSalt = await platform.importRsaPssSha384PublicKey(spki, v.salt_length === 0 ? 48 : 0);
        assert.equal(await otherSalt.verify(preparedMsg, fromHex(v.sig)), false);
      }
      vectorsRun++;
    });
  }

  test('every vector ran', () => assert.equal(vectorsRun, 5));
});

// ---------------------------------------------------------------------------------------------
// blindvote tokens

const POLL = 'spring-2025';
// Set up in a root hook, not by top-level await: module evaluation would otherwise interleave
// with the vector tests while their RNG stub is active.
let main: TokenKeyPair;
let other: TokenKeyPair;
let n: bigint;
let token: Token;
let verifier: TokenVerifier;
before(async () => {
  [main, other] = await Promise.all([generateTokenKey(), generateTokenKey()]);
  n = big(Buffer.from(main.privateKey.export({ format: 'jwk' }).n!, 'base64url').toString('hex'));
  token = await issue();
  verifier = await TokenVerifier.create(main.spki);
});

/** A DER TLV; `len` overrides the (minimal) length bytes. */
function tlv(tag: number, content: Uint8Array, len?: number[]): Uint8Array {
  const n = content.length;
  const l = len ?? (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
  return concatBytes(Uint8Array.of(tag, ...l), content);
}

/** SubjectPublicKeyInfo { rsaEncryption NULL, BIT STRING { RSAPublicKey { n, e } } } from encoded INTEGERs. */
function rsaSpki(n: Uint8Array, e: Uint8Array, unusedBits = 0): Uint8Array {
  const alg = fromHex('300d06092a864886f70d0101010500');
  return tlv(0x30, concatBytes(alg, tlv(0x03, concatBytes(Uint8Array.of(unusedBits), tlv(0x30, concatBytes(n, e))))));
}

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1), SHA-384, MGF1-SHA-384, 48-byte zero salt. */
function pssEncode(message: Uint8Array, emBits: number): Uint8Array {
  const sha384 = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha384').update(concatBytes(...parts)).digest());
  const emLen = Math.ceil(emBits / 8);
  const salt = new Uint8Array(48);
  const h = sha384(new Uint8Array(8), sha384(message), salt);
  const db = concatBytes(new Uint8Array(emLen - 48 - 48 - 2), Uint8Array.of(1), salt);
  const mask: Uint8Array[] = [];
  for (let c = 0; mask.length * 48 < db.length; c++) mask.push(sha384(h, Uint8Array.of(c >>> 24, c >>> 16, c >>> 8, c)));
  const m = concatBytes(...mask);
  const masked = db.map((b, i) => b ^ m[i]!);
  masked[0]! &= 0xff >> (8 * emLen - emBits);
  return concatBytes(masked, h, Uint8Array.of(0xbc));
}

/** An SPKI with an arbitrary modulus (only its size matters to the checks under test). */
function spkiWithModulus(modulus: bigint): Uint8Array {
  const key = createPublicKey({ key: { kty: 'RSA', n: b64u(modulus), e: 'AQAB' }, format: 'jwk' });
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

async function issue(pollId = POLL, keys: TokenKeyPair = main): Promise<Token> {
  const client = await TokenClient.create(keys.spki, pollId);
  const state = await client.blind();
  return client.finalize(state, blindSign(keys.privateKey, state.blindedMsg));
}


describe('token message and id', () => {
  test('tokenMessage is "blindvote/token/v1" 0x00 poll_id 0x00 nonce', () => {
    const nonce = fromHex('00112233445566778899aabbccddeeff'.repeat(2));
    const expected = toHex(utf8('blindvote/token/v1')) + '00' + toHex(utf8('poll-1')) + '00' + toHex(nonce);
    assert.equal(toHex(tokenMessage('poll-1', nonce)), expected);
  });

  test('tokenId is SHA-256(prefix || msg)', () => {
    const msg = tokenMessage(POLL, token.nonce);
    const expected = createHash('sha256').update(token.prefix).update(msg).digest('hex');
    assert.equal(toHex(tokenId(token.prefix, msg)), expected);
    assert.equal(toHex(tokenIdFor(POLL, token)), expected);
    assert.throws(() => tokenId(new Uint8Array(31), msg), FormatError);
  });

  test('poll ids are checked against [a-z0-9][a-z0-9-]{0,63}', () => {
    for (const ok of ['a', '0', 'a-b', 'x'.repeat(64), 'poll-2025-', '9-9']) assert.equal(checkPollId(ok), ok);
    for (const bad of ['', '-a', 'A', 'x'.repeat(65), 'a_b', 'é', 'a\0b', 'a b', 'a/b', 'a\n']) {
      assert.throws(() => checkPollId(bad), FormatError, JSON.stringify(bad));
      assert.throws(() => tokenMessage(bad, new Uint8Array(32)), FormatError);
    }
    assert.throws(() => checkPollId(7), FormatError);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 70 }), (s) => {
        if (POLL_ID_PATTERN.test(s)) assert.equal(checkPollId(s), s);
        else assert.throws(() => checkPollId(s), FormatError);
      }),
    );
  });

  test('nonces must be 32 bytes', () => {
    for (const len of [0, 31, 33]) assert.throws(() => tokenMessage(POLL, new Uint8Array(len)), FormatError);
  });

  test('property: the token message is injective in (poll_id, nonce)', () => {
    const pollId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/);
    const nonce = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(pollId, nonce, pollId, nonce, (p1, n1, p2, n2) => {
        const same = p1 === p2 && toHex(n1) === toHex(n2);
        assert.equal(toHex(tokenMessage(p1, n1)) === toHex(tokenMessage(p2, n2)), same);
      }),
    );
  });
});

describe('token flow: prepare, blind, BlindSign (native), finalize, verify', () => {
  test('a token verifies for its poll, under its key', async () => {
    assert.equal(token.sig.length, 256);
    assert.equal(await verifyToken(main.spki, POLL, token), true);
    assert.equal(await verifier.verify(POLL, token), true);
  });

  test('wrong poll id, another key → false', async () => {
    assert.equal(await verifier.verify('spring-2026', token), false);
    assert.equal(await verifyToken(other.spki, POLL, token), false);
  });

  test('a flipped bit in nonce, prefix or sig → false', async () => {
    for (const field of ['nonce', 'prefix', 'sig'] as const) {
      for (const bit of [0, 7, 8 * token[field].length - 1]) {
        const bytes = Uint8Array.from(token[field]);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        assert.equal(await verifier.verify(POLL, { ...token, [field]: bytes }), false, `${field} bit ${bit}`);
      }
    }
  });

  test('property: any single flipped bit → false', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('nonce', 'prefix', 'sig' as const), fc.nat(), async (field, k) => {
        const bytes = Uint8Array.from(token[field]);
        const bit = k % (8 * bytes.length);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        assert.equal(await verifier.verify(POLL, { ...token, [field]: bytes }), false);
      }),
      { numRuns: 200 },
    );
  });

  test('malformed tokens throw FormatError at the door', async () => {
    const { nonce, prefix, sig } = token;
    await assert.rejects(verifier.verify(POLL, { nonce: nonce.subarray(1), prefix, sig }), FormatError);
    await assert.rejects(verifier.verify(POLL, { nonce, prefix: concatBytes(prefix, new Uint8Array(1)), sig }), FormatError);
    await assert.rejects(verifier.verify(POLL, { nonce, prefix, sig: sig.subarray(1) }), FormatError);
    await assert.rejects(verifier.verify(POLL, { nonce, prefix, sig: concatBytes(new Uint8Array(1), sig) }), FormatError);
    await assert.rejects(verifier.verify('Bad', token), FormatError);
    // sig as an integer >= n: well-formed length, invalid signature.
    assert.equal(await verifier.verify(POLL, { nonce, prefix, sig: new Uint8Array(256).fill(0xff) }), false);
  });

  test('the blinding state survives a reload: same blinded_msg, same blind_sig, same token', async () => {
    const client = await TokenClient.create(main.spki, POLL);
    const state = await client.blind();
    const saved = JSON.stringify(state);
    const firstSig = blindSign(main.privateKey, state.blindedMsg);
    // "reload": a new client, the state from storage, the request re-sent.
    const restored = BlindingState.fromJSON(JSON.parse(saved));
    const again = await TokenClient.create(main.spki, POLL);
    const retrySig = blindSign(main.privateKey, restored.blindedMsg);
    assert.deepEqual(retrySig, firstSig);
    const a = await client.finalize(state, firstSig);
    const b = await again.finalize(restored, retrySig);
    assert.deepEqual(b, a);
    assert.equal(await verifier.verify(POLL, b), true);
  });

  test('blind() draws a fresh nonce and prefix itself; the test hook alone takes chosen ones', async () => {
    const client = await TokenClient.create(main.spki, POLL);
    // No way to hand blind() a nonce or prefix: extra arguments are not read.
    const blindAny = client.blind as (...args: unknown[]) => Promise<BlindingState>;
    const chosen = new Uint8Array(32).fill(7);
    const states = await Promise.all([blindAny.call(client, chosen), blindAny.call(client, { nonce: chosen, prefix: chosen }), client.blind()]);
    const seen = new Set<string>();
    for (const s of states) {
      assert.notDeepEqual(s.nonce, chosen);
      assert.notDeepEqual(s.prefix, chosen);
      seen.add(toHex(s.nonce)).add(toHex(s.prefix));
    }
    assert.equal(seen.size, 6, 'every nonce and prefix is fresh');
    assert.equal(Object.hasOwn(TokenClient.prototype, 'prepare'), false);
    // The test hook: the chosen values end up in the token.
    const state = await client.blindWithChosenNonceForTests(chosen, new Uint8Array(32).fill(8));
    const t1 = await client.finalize(state, blindSign(main.privateKey, state.blindedMsg));
    assert.deepEqual(t1.nonce, chosen);
    assert.deepEqual(t1.prefix, new Uint8Array(32).fill(8));
    await assert.rejects(client.blindWithChosenNonceForTests(chosen.subarray(1), chosen), FormatError);
  });

  test('finalize refuses a blind signature from another key or of the wrong size', async () => {
    const client = await TokenClient.create(main.spki, POLL);
    // The other key can only sign blinded_msg < its own modulus (else BlindSign refuses the input,
    // which made this test flaky): draw until that holds, as a wrong-key issuer's answer would.
    const otherN = big(Buffer.from(other.privateKey.export({ format: 'jwk' }).n!, 'base64url').toString('hex'));
    let state = await client.blind();
    while (fromBytes(state.blindedMsg) >= otherN) state = await client.blind();
    await assert.rejects(client.finalize(state, blindSign(other.privateKey, state.blindedMsg)), TokenFinalizeError);
    const good = blindSign(main.privateKey, state.blindedMsg);
    const tampered = Uint8Array.from(good);
    tampered[100]! ^= 4;
    await assert.rejects(client.finalize(state, tampered), TokenFinalizeError);
    await assert.rejects(client.finalize(state, good.subarray(1)), FormatError);
  });

  test('property: tokens for random polls and nonces verify only for their poll', async () => {
    const clients = new Map<string, TokenClient>();
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,63}$/),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        async (pollId, nonce) => {
          const client = clients.get(pollId) ?? (await TokenClient.create(main.spki, pollId));
          clients.set(pollId, client);
          const state = await client.blindWithChosenNonceForTests(nonce, new Uint8Array(32).fill(1));
          const t = await client.finalize(state, blindSign(main.privateKey, state.blindedMsg));
          assert.equal(await verifier.verify(pollId, t), true);
          assert.equal(await verifier.verify(pollId === POLL ? 'x' : POLL, t), false);
        },
      ),
      { numRuns: 15 },
    );
  });

  test('the browser platform verifies exactly as the node platform does', async () => {
    const msg = concatBytes(token.prefix, tokenMessage(POLL, token.nonce));
    const keys = await Promise.all([nodePlatform, browserPlatform].map((p) => p.importRsaPssSha384PublicKey(main.spki, 48)));
    for (const key of keys) {
      assert.equal(key.modulusBits, 2048);
      assert.equal(await key.verify(msg, token.sig), true);
      assert.equal(await key.verify(msg.subarray(1), token.sig), false);
    }
  });
});

describe('token keys', () => {
  test('keys under 2048 bits or over 8192 bits are refused', async () => {
    const small = spkiWithModulus(big(file.vectors[0]!.n) >> 2049n | 1n); // 2047 bits
    await assert.rejects(TokenVerifier.create(small), FormatError);
    await assert.rejects(TokenClient.create(small, POLL), FormatError);
    await assert.rejects(TokenVerifier.create(spkiWithModulus((1n << 8200n) + 1n)), FormatError);
    assert.equal((await TokenVerifier.create(spkiWithModulus(big(file.vectors[0]!.n)))).modulusLength, 512);
    // A 1024-bit private key object without generating one: only its size is looked at.
    const weak = createPrivateKey({
      key: { kty: 'RSA', n: b64u(big(file.vectors[0]!.n) >> 3072n | 1n), e: 'AQAB', d: b64u(3n), p: b64u(3n), q: b64u(5n), dp: b64u(1n), dq: b64u(1n), qi: b64u(1n) },
      format: 'jwk',
    });
    assert.equal(weak.asymmetricKeyDetails?.modulusLength, 1024);
    assert.throws(() => blindSign(weak, new Uint8Array(128)), TokenKeyError);
    await assert.rejects(generateTokenKey(1024), RangeError);
  });

  test('only DER SPKI with algorithm rsaEncryption is accepted', async () => {
    const pss = Uint8Array.from(main.spki);
    assert.equal(toHex(pss.subarray(4, 19)), '300d06092a864886f70d0101010500');
    pss[16] = 0x0a; // id-RSASSA-PSS
    await assert.rejects(TokenVerifier.create(pss), FormatError);
    await assert.rejects(TokenVerifier.create(main.spki.subarray(0, 100)), FormatError);
    await assert.rejects(TokenVerifier.create(new Uint8Array(0)), FormatError);
    const ed = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
    await assert.rejects(TokenVerifier.create(ed), FormatError);
  });

  test('only e = 65537 is accepted: e = 1 (forgeable), 3, even and huge exponents are refused everywhere', async () => {
    const jwk = main.privateKey.export({ format: 'jwk' });
    const withE = (e: bigint) =>
      new Uint8Array(createPublicKey({ key: { kty: 'RSA', n: jwk.n!, e: b64u(e) }, format: 'jwk' }).export({ type: 'spki', format: 'der' }));
    assert.equal(parseTokenKeySpki(withE(65537n)).modulusLength, 256);
    for (const e of [1n, 3n, 65539n, 65538n, (1n << 64n) + 1n, (1n << 2008n) - 1n]) {
      const spki = withE(e);
      assert.throws(() => parseTokenKeySpki(spki), /RSA public exponent MUST be 65537/, `e = ${e}`);
      await assert.rejects(TokenVerifier.create(spki), FormatError, `e = ${e}`);
      await assert.rejects(TokenClient.create(spki, POLL), FormatError, `e = ${e}`);
      await assert.rejects(TokenVerifier.fromPoll({ token_key: { spki } }), FormatError, `e = ${e}`);
    }
    // The reviewer's forgery: with e = 1, the PSS encoding itself is a valid "signature".
    const e1 = withE(1n);
    const nonce = new Uint8Array(32);
    const prefix = new Uint8Array(32);
    const em = pssEncode(concatBytes(prefix, tokenMessage(POLL, nonce)), 2047);
    assert.equal(await nodePlatform.importRsaPssSha384PublicKey(e1, 48).then((k) => k.verify(concatBytes(prefix, tokenMessage(POLL, nonce)), em)), true);
    await assert.rejects(verifyToken(e1, POLL, { nonce, prefix, sig: em }), /exponent MUST be 65537/);
    // The issuer refuses such keys too (it would issue tokens nobody accepts).
    const e3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).privateKey;
    assert.throws(() => importTokenPrivateKey(new Uint8Array(e3.export({ type: 'pkcs8', format: 'der' }))), /exponent MUST be 65537/);
  });

  test('the SPKI is parsed exactly: trailing bytes, a partial top byte and DER variants are refused', async () => {
    const trailing = concatBytes(main.spki, Uint8Array.of(0, 0, 0));
    await assert.rejects(TokenVerifier.create(trailing), /trailing bytes after the SubjectPublicKeyInfo/);
    await assert.rejects(TokenClient.create(trailing, POLL), FormatError);
    // A 2049-bit modulus: the platforms would take it, but its signatures are not whole bytes of n.
    const odd2049 = spkiWithModulus((1n << 2048n) + 1n);
    await assert.rejects(TokenVerifier.create(odd2049), /whole number of bytes/);
    await assert.rejects(TokenVerifier.create(spkiWithModulus((1n << 2048n) - 2n)), /modulus is even/);
    // Rebuilt by hand, the key parses; each DER deviation is refused.
    const modulus = Uint8Array.from(Buffer.from(main.privateKey.export({ format: 'jwk' }).n!, 'base64url'));
    const n = tlv(0x02, concatBytes(Uint8Array.of(0), modulus));
    const e = tlv(0x02, Uint8Array.of(1, 0, 1));
    assert.deepEqual(rsaSpki(n, e), main.spki);
    const variants: [string, Uint8Array, RegExp][] = [
      ['long-form length of a short value', rsaSpki(n, tlv(0x02, Uint8Array.of(1, 0, 1), [0x81, 3])), /publicExponent: non-minimal length/],
      ['leading zero on e', rsaSpki(n, tlv(0x02, Uint8Array.of(0, 1, 0, 1))), /publicExponent: non-minimal INTEGER/],
      ['negative modulus', rsaSpki(tlv(0x02, modulus), e), /modulus: negative/],
      ['a third INTEGER', rsaSpki(n, concatBytes(e, e)), /trailing bytes in the RSAPublicKey/],
      ['unused bits', rsaSpki(n, e, 1), /0 unused bits/],
    ];
    for (const [what, spki, message] of variants) await assert.rejects(TokenVerifier.create(spki), message, what);
    // Truncation anywhere never parses.
    for (let cut = 0; cut < main.spki.length; cut += 7) assert.throws(() => parseTokenKeySpki(main.spki.subarray(0, cut)), FormatError);
    // fromPoll takes the manifest's key.
    const v = await TokenVerifier.fromPoll({ token_key: { spki: main.spki } });
    assert.equal(await v.verify(POLL, token), true);
  });

  test('PKCS#8 export and import round-trip; the SPKI matches', () => {
    const der = exportTokenPrivateKey(main.privateKey);
    const back = importTokenPrivateKey(der);
    assert.deepEqual(tokenKeySpki(back), main.spki);
    const m = toBytes(12345n, 256);
    assert.deepEqual(blindSign(back, m), blindSign(main.privateKey, m));
    assert.throws(() => importTokenPrivateKey(der.subarray(0, 200)), TokenKeyError);
    assert.throws(() => importTokenPrivateKey(main.spki), TokenKeyError);
    assert.throws(() => blindSign(createPublicKey(main.privateKey), m), TokenKeyError);
  });
});

describe('BlindSign (RFC 9474 §4.3) on native RSA', () => {
  test('blinded_msg must be modulus_len bytes and less than n', () => {
    for (const len of [0, 255, 257]) assert.throws(() => blindSign(main.privateKey, new Uint8Array(len)), FormatError);
    assert.throws(() => blindSign(main.privateKey, toBytes(n, 256)), /not less than the modulus n/);
    assert.throws(() => blindSign(main.privateKey, new Uint8Array(256).fill(0xff)), /not less than the modulus n/);
    assert.equal(modPow(fromBytes(blindSign(main.privateKey, toBytes(n - 1n, 256))), 65537n, n), n - 1n);
    assert.deepEqual(blindSign(main.privateKey, new Uint8Array(256)), new Uint8Array(256));
  });

  test('is deterministic (a retried request gets the same blind_sig)', () => {
    const m = toBytes(n / 3n, 256);
    assert.deepEqual(blindSign(main.privateKey, m), blindSign(main.privateKey, m));
  });

  test('property: RSAVP1(pk, BlindSign(m)) = m for random m < n; m >= n is refused', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: n - 1n }), (m) => {
        const s = blindSign(main.privateKey, toBytes(m, 256));
        assert.equal(s.length, 256);
        assert.equal(modPow(fromBytes(s), 65537n, n), m);
      }),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: n, max: (1n << 2048n) - 1n }), (m) => {
        assert.throws(() => blindSign(main.privateKey, toBytes(m, 256)), FormatError);
      }),
      { numRuns: 100 },
    );
  });

  test('the RSAVP1 fault check fires on a corrupted key', () => {
    // Corrupt d AND dp: OpenSSL re-checks a CRT result with e and falls back to m^d mod n, so a
    // corrupted dp alone is repaired inside OpenSSL; with d corrupted too, only our check sees it.
    const jwk = main.privateKey.export({ format: 'jwk' });
    const bump = (x: string | undefined): string => b64u(big(Buffer.from(x!, 'base64url').toString('hex')) + 2n);
    const corrupted = createPrivateKey({ key: { ...jwk, d: bump(jwk.d), dp: bump(jwk.dp) }, format: 'jwk' });
    const m = toBytes(n / 5n, 256);
    assert.throws(() => blindSign(corrupted, m), SigningFailureError);
    assert.throws(() => importTokenPrivateKey(exportTokenPrivateKey(corrupted)), SigningFailureError);
    // A public exponent that does not match d: the key is refused before signing, as every token
    // key with e != 65537 is (otherwise RSAVP1 under the wrong e would catch it).
    const wrongE = createPrivateKey({ key: { ...jwk, e: 'Aw' }, format: 'jwk' });
    assert.throws(() => blindSign(wrongE, m), /TokenKeyError|exponent MUST be 65537/);
    assert.ok(blindSign(main.privateKey, m).length === 256);
  });
});

describe('serialisation', () => {
  test('Token JSON round-trips and is strict', () => {
    const json = JSON.parse(JSON.stringify(token)) as Record<string, string>;
    assert.deepEqual(Object.keys(json), ['nonce', 'prefix', 'sig']);
    assert.deepEqual(Token.fromJSON(json), token);
    assert.throws(() => Token.fromJSON({ ...json, nonce: json['prefix']!.slice(0, 40) + '==' }), FormatError);
    assert.throws(() => Token.fromJSON({ ...json, sig: json['sig']!.replace(/=*$/, '') }), FormatError);
    assert.throws(() => Token.fromJSON({ ...json, sig: 'AAAA' }), FormatError);
    assert.throws(() => Token.fromJSON(null), FormatError);
    assert.throws(() => Token.fromJSON([json]), FormatError);
  });

  test('property: BlindingState JSON round-trips; inv and blindedMsg sizes must agree', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(256, 384, 512),
        fc.nat(255),
        (nonce, prefix, len, fill) => {
          const state = new BlindingState({
            nonce,
            prefix,
            inv: new Uint8Array(len).fill(fill),
            blindedMsg: new Uint8Array(len).fill(255 - fill),
          });
          assert.deepEqual(BlindingState.fromJSON(JSON.parse(JSON.stringify(state))), state);
        },
      ),
    );
    const ok = { nonce: new Uint8Array(32), prefix: new Uint8Array(32), inv: new Uint8Array(256), blindedMsg: new Uint8Array(256) };
    assert.throws(() => new BlindingState({ ...ok, inv: new Uint8Array(255) }), FormatError);
    assert.throws(() => new BlindingState({ ...ok, nonce: new Uint8Array(31) }), FormatError);
    assert.throws(() => new BlindingState({ ...ok, inv: new Uint8Array(16), blindedMsg: new Uint8Array(16) }), FormatError);
  });
});
