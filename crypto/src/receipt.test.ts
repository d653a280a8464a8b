/**
 * Ballot receipts (`receipt.ts`): parsing, and verification against a small board built here with
 * the real pieces (RFC 9162 tree from `merkle.ts`, C2SP checkpoint signed with `note.ts` /
 * `checkpoint.ts`). Each tampering must be reported by the check that names it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FormatError, toBase64 } from './bytes.ts';
import { generateTokenKey, blindSign } from './blindsign-node.ts';
import { Checkpoint, signCheckpoint } from './checkpoint.ts';
import { Ballot, Close, Poll } from './entries.ts';
import type { BallotFields, PollFields } from './entries.ts';
import { CompactRange, inclusionProof, leafHash } from './merkle.ts';
import { NoteSigner, formatSignerKey, parseNote, signNote } from './note.ts';
import { MAX_RECEIPT_SIZE, Receipt, boardOrigin, receiptValid, verifyReceipt } from './receipt.ts';
import type { ReceiptCheckName, ReceiptFields, ReceiptJSON } from './receipt.ts';
import { TokenClient, TokenVerifier } from './token.ts';
import type { Token } from './token.ts';

// ---------------------------------------------------------------------------------------------
// A small board: [poll, ballot × k, close]

// A real poll key and real tokens: a receipt is only valid if its ballot's token verifies.
const KEYS = await generateTokenKey();
const SPKI = KEYS.spki;
const SIG_LENGTH = 256;

async function issueToken(pollId: string): Promise<Token> {
  const client = await TokenClient.create(SPKI, pollId);
  const state = await client.blind();
  return client.finalize(state, blindSign(KEYS.privateKey, state.blindedMsg));
}

const HOST = 'vote.example';
const POLL_ID = 'budget-2025';
const BOARD = `https://${HOST}/poll/${POLL_ID}`;
const ORIGIN = `${HOST}/poll/${POLL_ID}`;
const SIGNER = new NoteSigner(formatSignerKey(ORIGIN, new Uint8Array(32).fill(7)));
const OTHER_SIGNER = new NoteSigner(formatSignerKey(ORIGIN, new Uint8Array(32).fill(8)));

const POLL_FIELDS: PollFields = {
  poll_id: POLL_ID,
  title: 'Participatory budget 2025',
  description: '',
  ballot: {
    kind: 'multi',
    options: [
      { id: 'bikes', label: 'Bike lanes' },
      { id: 'library', label: 'Library opening hours' },
      { id: 'park', label: 'A new park' },
    ],
    max_choices: 2,
  },
  opens_at: '2025-03-01T08:00:00Z',
  closes_at: '2025-03-01T18:00:00Z',
  results: 'live',
  token_key: { suite: 'RSABSSA-SHA384-PSS-Randomized', spki: SPKI },
  board_key: SIGNER.verifierKey,
  roll: { size: 100, commitment: new Uint8Array(32) },
};
const POLL = new Poll(POLL_FIELDS);

/** Real tokens for ballots 0..69 (the most any test below needs), issued once. */
const TOKENS = await Promise.all(Array.from({ length: 70 }, () => issueToken(POLL_ID)));

/** Ballot `i` with its own real token; `token: 'forged'` gives a well-formed, invalid signature. */
function ballotNo(i: number, choice: string[] = [['bikes'], ['library'], ['bikes', 'park']][i % 3]!, token: Token | 'forged' = TOKENS[i]!): Ballot {
  const fields: BallotFields = {
    poll_id: POLL_ID,
    token: token === 'forged' ? { nonce: new Uint8Array(32).fill(i), prefix: new Uint8Array(32).fill(i + 1), sig: new Uint8Array(SIG_LENGTH).fill(i + 2) } : token,
    choice,
  };
  return new Ballot(fields);
}

interface Board {
  entries: Uint8Array[];
  nodes: Map<string, Uint8Array>;
  size: number;
  root: Uint8Array;
  checkpoint: string;
}

function buildBoard(entries: Uint8Array[], signer = SIGNER, origin = ORIGIN): Board {
  const nodes = new Map<string, Uint8Array>();
  const range = new CompactRange();
  for (const e of entries) range.append(leafHash(e), (level, index, hash) => nodes.set(`${level}/${index}`, hash));
  const root = range.root();
  const checkpoint = signCheckpoint(new Checkpoint({ origin, size: entries.length, root }), [signer]);
  return { entries, nodes, size: entries.length, root, checkpoint };
}

async function receiptFor(board: Board, index: number, ballot: Ballot): Promise<ReceiptFields> {
  const proof = await inclusionProof(index, board.size, async (ids) => ids.map((id) => board.nodes.get(`${id.level}/${id.index}`)!));
  return {
    poll_id: POLL_ID,
    board: BOARD,
    ballot,
    leaf_index: index,
    leaf_hash: leafHash(ballot.serialize()),
    checkpoint: board.checkpoint,
    inclusion_proof: proof,
  };
}

const BALLOTS = Array.from({ length: 6 }, (_, i) => ballotNo(i));
const STRANGE = ballotNo(40, ['zoo']); // well-formed, but not an option of the poll
const ENTRIES = [POLL.serialize(), ...BALLOTS.map((b) => b.serialize()), STRANGE.serialize()];
const BOARD_LOG = buildBoard(ENTRIES);
const INDEX = 3;
const GOOD = await receiptFor(BOARD_LOG, INDEX, BALLOTS[INDEX - 1]!);

// Inclusion proofs for every leaf, computed once so the tables below stay synchronous.
const PROOFS = await Promise.all(ENTRIES.map((_, i) => receiptFor(BOARD_LOG, i, BALLOTS[0]!)));
/** The receipt fields for `ballot` sitting at leaf `index` of BOARD_LOG. */
function atIndex(index: number, ballot: Ballot): Partial<ReceiptFields> {
  return { leaf_index: index, ballot, leaf_hash: leafHash(ballot.serialize()), inclusion_proof: PROOFS[index]!.inclusion_proof };
}

const ALL_CHECKS: ReceiptCheckName[] = ['board-key', 'board-url', 'leaf-hash', 'checkpoint-signature', 'checkpoint-origin', 'leaf-index', 'inclusion-proof'];

async function failing(fields: ReceiptFields, trust: string | Poll = SIGNER.verifierKey): Promise<string[]> {
  return (await verifyReceipt(new Receipt(fields), trust))
    .filter((c) => !c.ok)
    .map((c) => c.check);
}

// ---------------------------------------------------------------------------------------------
// Verification

test('a genuine receipt passes every check, each reported', async () => {
  const checks = await verifyReceipt(new Receipt(GOOD), SIGNER.verifierKey);
  assert.deepEqual(checks.map((c) => c.check), ALL_CHECKS);
  assert.ok(receiptValid(checks), JSON.stringify(checks, null, 1));
  assert.match(checks.find((c) => c.check === 'checkpoint-signature')!.detail, /signed by vote\.example\/poll\/budget-2025\+[0-9a-f]{8}/);
  assert.equal(checks.find((c) => c.check === 'leaf-index')!.detail, `3 of ${ENTRIES.length}`);
});

test('against the poll manifest, the ballot is also checked against the options and its token verified', async () => {
  const checks = await verifyReceipt(new Receipt(GOOD), POLL);
  assert.deepEqual(checks.map((c) => c.check), ['board-key', 'ballot', 'token-signature', ...ALL_CHECKS.slice(1)]);
  assert.ok(receiptValid(checks), JSON.stringify(checks, null, 1));
  assert.match(checks.find((c) => c.check === 'token-signature')!.detail, /^token [0-9a-f]{64} verifies under the poll's token key$/);
  const strange = await verifyReceipt(new Receipt({ ...GOOD, ...atIndex(ENTRIES.length - 1, STRANGE) }), POLL);
  assert.deepEqual(strange.filter((c) => !c.ok).map((c) => [c.check, c.detail]), [['ballot', 'receipt.ballot.choice[0]: unknown option id "zoo"']]);
  const other = new Poll({ ...POLL_FIELDS, poll_id: 'other-poll' });
  assert.match((await verifyReceipt(new Receipt(GOOD), other)).find((c) => c.check === 'ballot')!.detail, /receipt is for poll "budget-2025"/);
});

const flip = (b: Uint8Array, i = 0) => {
  const c = Uint8Array.from(b);
  c[i] = c[i]! ^ 1;
  return c;
};

const TAMPERED: [string, () => ReceiptFields, string[], (string | Poll)?][] = [
  ['another ballot in place of the one cast', () => ({ ...GOOD, ballot: ballotNo(60) }), ['leaf-hash']],
  ['the choice changed', () => ({ ...GOOD, ballot: ballotNo(INDEX - 1, ['park']) }), ['leaf-hash']],
  ['the leaf hash changed', () => ({ ...GOOD, leaf_hash: flip(GOOD.leaf_hash) }), ['leaf-hash', 'inclusion-proof']],
  ['the leaf index moved by one', () => ({ ...GOOD, leaf_index: INDEX + 1 }), ['inclusion-proof']],
  ['leaf index 0 (the manifest)', () => ({ ...GOOD, leaf_index: 0 }), ['leaf-index', 'inclusion-proof']],
  ['leaf index beyond the checkpoint', () => ({ ...GOOD, leaf_index: ENTRIES.length }), ['leaf-index', 'inclusion-proof']],
  ['a proof hash flipped', () => ({ ...GOOD, inclusion_proof: GOOD.inclusion_proof.map((h, i) => (i === 1 ? flip(h, 31) : h)) }), ['inclusion-proof']],
  ['a proof hash dropped', () => ({ ...GOOD, inclusion_proof: GOOD.inclusion_proof.slice(1) }), ['inclusion-proof']],
  ['a proof hash added', () => ({ ...GOOD, inclusion_proof: [...GOOD.inclusion_proof, GOOD.leaf_hash] }), ['inclusion-proof']],
  ['the checkpoint root rewritten (old signature kept)', () => {
    const [, sigs] = GOOD.checkpoint.split('\n\n') as [string, string];
    const forged = new Checkpoint({ origin: ORIGIN, size: ENTRIES.length, root: flip(BOARD_LOG.root) }).format();
    return { ...GOOD, checkpoint: `${forged}\n${sigs}` };
  }, ['checkpoint-signature', 'inclusion-proof']],
  ['the checkpoint size rewritten (old signature kept)', () => ({ ...GOOD, checkpoint: GOOD.checkpoint.replace(`\n${ENTRIES.length}\n`, `\n${ENTRIES.length + 1}\n`) }), ['checkpoint-signature', 'inclusion-proof']],
  ['a checkpoint signed by another key', () => ({ ...GOOD, checkpoint: buildBoard(ENTRIES, OTHER_SIGNER).checkpoint }), ['checkpoint-signature']],
  ['a real checkpoint of another poll (cross-log replay)', () => ({ ...GOOD, checkpoint: buildBoard(ENTRIES, SIGNER, `${HOST}/poll/other`).checkpoint }), ['checkpoint-origin']],
  ['the board URL on another host', () => ({ ...GOOD, board: `https://evil.example/poll/${POLL_ID}` }), ['checkpoint-origin']],
  ['a board URL that does not name the poll', () => ({ ...GOOD, board: `https://${HOST}/poll/other` }), ['board-url', 'checkpoint-origin']],
  ['an older checkpoint that does not contain the leaf', () => {
    const older = buildBoard(ENTRIES.slice(0, INDEX));
    return { ...GOOD, checkpoint: older.checkpoint };
  }, ['leaf-index', 'inclusion-proof']],
  ['verified with the wrong board key', () => GOOD, ['checkpoint-signature'], OTHER_SIGNER.verifierKey],
  ['verified with a malformed board key', () => GOOD, ['board-key', 'checkpoint-signature'], 'not-a-key'],
];

for (const [name, make, expected, trust] of TAMPERED) {
  test(`tampering detected: ${name} → ${expected.join(', ')}`, async () => {
    assert.deepEqual(await failing(make(), trust), expected);
  });
}

test('a ballot whose token does not verify is reported by token-signature, whatever else holds', async () => {
  // On the board and correctly proven, but with a forged token: inclusion alone is not validity.
  const forged = ballotNo(INDEX - 1, undefined, 'forged');
  const board = buildBoard([POLL.serialize(), forged.serialize()]);
  const fields = await receiptFor(board, 1, forged);
  assert.deepEqual(await failing(fields, POLL), ['token-signature']);
  const verifier = await TokenVerifier.fromPoll(POLL);
  const checks = await verifyReceipt(new Receipt(fields), SIGNER.verifierKey, verifier);
  assert.deepEqual(checks.filter((c) => !c.ok).map((c) => [c.check, c.detail]), [['token-signature', "the token's signature does not verify under the poll's token key"]]);
  // With only the board key, the token is not checked (and not reported): inclusion only.
  assert.ok(!(await verifyReceipt(new Receipt(fields), SIGNER.verifierKey)).some((c) => c.check === 'token-signature'));
  // A real token of another poll, or under another poll key, does not verify either.
  const elsewhere = ballotNo(INDEX - 1, undefined, await issueToken('other-poll'));
  const b2 = buildBoard([POLL.serialize(), elsewhere.serialize()]);
  assert.deepEqual(await failing(await receiptFor(b2, 1, elsewhere), POLL), ['token-signature']);
  const otherKey = await TokenVerifier.create((await generateTokenKey()).spki);
  assert.deepEqual(
    (await verifyReceipt(new Receipt(GOOD), SIGNER.verifierKey, otherKey)).filter((c) => !c.ok).map((c) => c.check),
    ['token-signature'],
  );
});

test('failure details say what is wrong', async () => {
  const checks = await verifyReceipt(new Receipt({ ...GOOD, ballot: ballotNo(60), leaf_index: 0 }), 'not-a-key');
  const detail = Object.fromEntries(checks.map((c) => [c.check, c.detail]));
  assert.match(detail['board-key']!, /^not a C2SP verifier key: verifier key: expected <name>\+<key ID>\+<key>/);
  assert.equal(detail['checkpoint-signature'], 'not checked: no usable board key');
  assert.match(detail['leaf-hash']!, /^the ballot hashes to [0-9a-f]{64}, the receipt says [0-9a-f]{64}$/);
  assert.equal(detail['leaf-index'], 'leaf 0 is the poll manifest, never a ballot');
  assert.match(detail['inclusion-proof']!, /does not lead to the given root|hashes, want exactly/);
  const wrongKey = await verifyReceipt(new Receipt(GOOD), OTHER_SIGNER.verifierKey);
  assert.match(wrongKey.find((c) => c.check === 'checkpoint-signature')!.detail, /no verifiable signatures/);
  const replay = await verifyReceipt(new Receipt({ ...GOOD, checkpoint: buildBoard(ENTRIES, SIGNER, `${HOST}/poll/other`).checkpoint }), SIGNER.verifierKey);
  assert.equal(replay.find((c) => c.check === 'checkpoint-origin')!.detail, 'checkpoint origin "vote.example/poll/other", the board URL gives "vote.example/poll/budget-2025"');
});

test('a checkpoint cosigned by a witness still verifies under the board key', async () => {
  const cp = new Checkpoint({ origin: ORIGIN, size: BOARD_LOG.size, root: BOARD_LOG.root });
  const witness = new NoteSigner(formatSignerKey('witness.example', new Uint8Array(32).fill(9)));
  const note = signCheckpoint(cp, [witness, SIGNER]);
  assert.ok(receiptValid(await verifyReceipt(new Receipt({ ...GOOD, checkpoint: note }), SIGNER.verifierKey)));
});

test('property: every ballot of boards of 2..70 entries gets a valid receipt; a tampered proof byte is caught', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 68 }), fc.nat(), fc.nat(), async (ballots, pick, byte) => {
      const bs = Array.from({ length: ballots }, (_, i) => ballotNo(i));
      const board = buildBoard([POLL.serialize(), ...bs.map((b) => b.serialize()), new Close({ poll_id: POLL_ID, closed_at: '2025-03-01T18:00:00Z', ballots, issued: ballots }).serialize()]);
      const i = 1 + (pick % ballots);
      const fields = await receiptFor(board, i, bs[i - 1]!);
      const receipt = Receipt.parse(JSON.stringify(new Receipt(fields), null, 2));
      assert.ok(receiptValid(await verifyReceipt(receipt, POLL)));
      const proof = fields.inclusion_proof;
      const k = byte % (proof.length * 32);
      const bad = proof.map((h, j) => (j === Math.floor(k / 32) ? flip(h, k % 32) : h));
      assert.deepEqual(await failing({ ...fields, inclusion_proof: bad }), ['inclusion-proof']);
    }),
    { numRuns: 60 },
  );
});

// ---------------------------------------------------------------------------------------------
// Parsing and serialization

const GOOD_JSON = new Receipt(GOOD).toJSON();
const clone = (): ReceiptJSON & Record<string, unknown> => JSON.parse(JSON.stringify(GOOD_JSON)) as ReceiptJSON & Record<string, unknown>;

test('receipts round-trip: parse(serialize()) and any pretty-printing', () => {
  const r = new Receipt(GOOD);
  const bytes = r.serialize();
  assert.deepEqual(Receipt.parse(bytes).serialize(), bytes);
  assert.deepEqual(Receipt.deserialize(bytes).toJSON(), GOOD_JSON);
  assert.deepEqual(Receipt.parse(JSON.stringify(GOOD_JSON, null, 2)).serialize(), bytes);
  const parsed = Receipt.parse(new TextDecoder().decode(bytes));
  assert.deepEqual(parsed.ballot.serialize(), GOOD.ballot.serialize());
  assert.equal(parsed.origin, ORIGIN);
  assert.equal(parsed.claimedCheckpoint.size, ENTRIES.length);
  assert.deepEqual(Object.keys(JSON.parse(new TextDecoder().decode(bytes)) as object), ['ballot', 'board', 'checkpoint', 'inclusion_proof', 'leaf_hash', 'leaf_index', 'poll_id', 'v']);
});

const BAD_RECEIPTS: [string, (o: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  ['version 2', (o) => (o['v'] = 2), /receipt\.v: unsupported version 2/],
  ['no version', (o) => delete o['v'], /receipt: missing field "v"/],
  ['unknown field', (o) => (o['note'] = 'hi'), /receipt\.note: unknown field/],
  ['missing checkpoint', (o) => delete o['checkpoint'], /receipt: missing field "checkpoint"/],
  ['ballot of another poll', (o) => (o['poll_id'] = 'other'), /receipt\.ballot\.poll_id: "budget-2025" differs from the receipt's poll_id "other"/],
  ['malformed ballot', (o) => (o['ballot'].choice = []), /receipt\.ballot\.choice: must not be empty/],
  ['ballot with an unknown field', (o) => (o['ballot'].extra = 1), /receipt\.ballot\.extra: unknown field/],
  ['negative leaf index', (o) => (o['leaf_index'] = -1), /receipt\.leaf_index: expected a non-negative integer/],
  ['fractional leaf index', (o) => (o['leaf_index'] = 1.5), /receipt\.leaf_index: expected a non-negative integer/],
  ['leaf index as a string', (o) => (o['leaf_index'] = '3'), /receipt\.leaf_index: expected a non-negative integer ≤ 2\^53-1, got "3"/],
  ['short leaf hash', (o) => (o['leaf_hash'] = toBase64(new Uint8Array(31))), /receipt\.leaf_hash: expected 32 bytes, got 31/],
  ['short proof hash', (o) => (o['inclusion_proof'][1] = toBase64(new Uint8Array(16))), /receipt\.inclusion_proof\[1\]: expected 32 bytes, got 16/],
  ['proof not an array', (o) => (o['inclusion_proof'] = 'AAAA'), /receipt\.inclusion_proof: expected an array/],
  ['proof too long', (o) => (o['inclusion_proof'] = Array(54).fill(toBase64(new Uint8Array(32)))), /receipt\.inclusion_proof: 54 hashes, at most 53/],
  ['checkpoint without signatures', (o) => (o['checkpoint'] = o['checkpoint'].split('\n\n')[0] + '\n'), /receipt\.checkpoint: note: no empty line before the signature block/],
  ['checkpoint body malformed', (o) => (o['checkpoint'] = o['checkpoint'].replace(/\n\d+\n/, '\n007\n')), /receipt\.checkpoint: checkpoint tree size/],
  ['board not a URL', (o) => (o['board'] = 'vote.example/poll/budget-2025'), /receipt\.board: not a URL/],
  ['board with a query', (o) => (o['board'] = `${BOARD}?x=1`), /receipt\.board: must not have a query or fragment/],
  ['board with a trailing slash', (o) => (o['board'] = `${BOARD}/`), /receipt\.board: must not end with "\/"/],
  ['board not normalized', (o) => (o['board'] = `https://VOTE.example/poll/${POLL_ID}`), /receipt\.board: not in normalized form \(expected "https:\/\/vote\.example\/poll\/budget-2025"\)/],
  ['board with credentials', (o) => (o['board'] = `https://u:p@${HOST}/poll/${POLL_ID}`), /receipt\.board: must not carry credentials/],
  ['board over ftp', (o) => (o['board'] = `ftp://${HOST}/poll/${POLL_ID}`), /receipt\.board: scheme must be https or http/],
];

for (const [name, mutate, message] of BAD_RECEIPTS) {
  test(`Receipt.parse rejects ${name}`, () => {
    const o = clone();
    mutate(o);
    assert.throws(() => Receipt.parse(JSON.stringify(o)), (err: unknown) => err instanceof FormatError && message.test(err.message));
  });
}

test('Receipt.parse is strict JSON: duplicate keys, deep nesting, lone surrogates, bad UTF-8', () => {
  const s = JSON.stringify(GOOD_JSON);
  assert.throws(() => Receipt.parse(s.replace('{', '{"v":1,')), /receipt: duplicate key "v"/);
  assert.throws(() => Receipt.parse(s.replace('"choice":[', '"choice":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],')), /nesting deeper than 32/);
  assert.throws(() => Receipt.parse(s.replace('"board":"', '"board":"\\ud800')), /receipt\.board: lone surrogate/);
  assert.throws(() => Receipt.parse(Uint8Array.of(0x7b, 0xff, 0x7d)), /receipt: invalid UTF-8/);
  assert.throws(() => Receipt.parse('[]'), /receipt: expected an object/);
  assert.throws(() => new Receipt({ ...GOOD, ballot: GOOD.ballot.toJSON() as unknown as Ballot }), /receipt\.ballot: expected a Ballot/);
});

test('boardOrigin: the board URL without its scheme', () => {
  assert.equal(boardOrigin(BOARD), ORIGIN);
  assert.equal(boardOrigin('http://localhost:8080/poll/demo'), 'localhost:8080/poll/demo');
  assert.equal(boardOrigin('https://vote.example:8443/boards/poll/x'), 'vote.example:8443/boards/poll/x');
  assert.throws(() => boardOrigin('https://vote.example:443/poll/x'), /not in normalized form/);
});

test('verifyReceipt refuses non-receipts and unusable trust arguments loudly', async () => {
  await assert.rejects(verifyReceipt(GOOD as unknown as Receipt, SIGNER.verifierKey), /expected a Receipt/);
  await assert.rejects(verifyReceipt(new Receipt(GOOD), 42 as unknown as string), /trust must be/);
  await assert.rejects(verifyReceipt(new Receipt(GOOD), POLL, SPKI as unknown as TokenVerifier), /tokens must be a TokenVerifier/);
});

test('sizes are capped before parsing: receipts at 64 KiB, their checkpoint note at 16 KiB', () => {
  const text = JSON.stringify(GOOD_JSON);
  /** `text` padded with spaces to exactly `n` UTF-8 bytes (the note's em dashes are 3 bytes each). */
  const padded = (n: number) => text.replace('{', `{${' '.repeat(n - new TextEncoder().encode(text).length)}`);
  assert.equal(Receipt.parse(padded(MAX_RECEIPT_SIZE)).leaf_index, INDEX);
  assert.throws(() => Receipt.parse(padded(MAX_RECEIPT_SIZE + 1)), /^FormatError: receipt: 65537 bytes, at most 65536 accepted$/);
  assert.throws(() => Receipt.parse(' '.repeat(70_000)), /^FormatError: receipt: at least 70000 bytes, at most 65536 accepted$/);
  assert.throws(() => Receipt.parse(new TextEncoder().encode(padded(MAX_RECEIPT_SIZE + 1))), /receipt: 65537 bytes, at most 65536 accepted/);
  // 2-byte UTF-8 characters: under the cap in UTF-16 units, over it in bytes.
  const wide = text.replace('{', `{"x":"${'é'.repeat(33_000)}",`);
  assert.ok(wide.length < MAX_RECEIPT_SIZE);
  assert.throws(() => Receipt.parse(wide), /receipt: 6\d{4} bytes, at most 65536 accepted/);
  // A checkpoint inflated with extension lines (the reviewer's 20 MB note) is refused by size.
  const [body, sigs] = GOOD.checkpoint.split('\n\n') as [string, string];
  const huge = `${body}${'e\n'.repeat(10_000_000)}\n${sigs}`;
  const started = performance.now();
  assert.throws(() => new Receipt({ ...GOOD, checkpoint: huge }), /receipt\.checkpoint: note: at least 2\d{7} bytes, at most 16384 accepted/);
  assert.throws(() => parseNote(huge), /note: at least/);
  assert.ok(performance.now() - started < 100, 'refused before any parsing');
  const big = `${body}${'e\n'.repeat(8200)}\n${sigs}`;
  assert.throws(() => parseNote(new TextEncoder().encode(big)), /note: \d+ bytes, at most 16384 accepted/);
  assert.throws(() => signNote(`${body}${'e\n'.repeat(8200)}`, [SIGNER]), /signNote: at least \d+ bytes, at most 16384/);
});
