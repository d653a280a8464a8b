/**
 * POST /v1/ballots, every status with real tokens: receipts that verify with crypto's
 * verifyReceipt, idempotent resubmission, spent tokens, the poll window to the millisecond, and
 * every refusal naming its field while leaving the board untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Receipt, Token, receiptValid, toBase64, verifyReceipt } from '@blindvote/crypto';
import type { BallotJSON } from '@blindvote/crypto';
import { fixture, testPolls } from './testing/app.ts';
import type { Fixture } from './testing/app.ts';
import { CLOSES_AT, DURING, OPENS_AT } from './testing/polls.ts';
import type { BallotSink } from './ports.ts';

const polls = await testPolls();
let f: Fixture;
before(async () => {
  f = await fixture(polls);
});
after(() => f.app.close());

/** A ballot of alpha with a fresh token, as JSON, edited by `edit`. */
function alphaJson(choice: string[] = ['a'], edit: (j: Record<string, unknown> & BallotJSON) => void = () => {}): Record<string, unknown> {
  const json = f.alpha.ballot(choice).toJSON() as Record<string, unknown> & BallotJSON;
  edit(json);
  return json;
}

async function receiptOf(body: string): Promise<Receipt> {
  const receipt = Receipt.parse(body);
  const checks = await verifyReceipt(receipt, f.alpha.poll);
  assert.ok(receiptValid(checks), JSON.stringify(checks.filter((c) => !c.ok)));
  return receipt;
}

/** Asserts a refusal: status, code, message, and that nothing reached the board. */
async function refused(
  request: Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>,
  status: number,
  code: string,
  message: RegExp,
): Promise<void> {
  const before = { submitted: f.sink.submitted, alpha: f.sink.entries('alpha').length, beta: f.sink.entries('beta').length };
  const res = await request;
  assert.equal(res.statusCode, status, res.body);
  const json = JSON.parse(res.body);
  assert.deepEqual(Object.keys(json).sort(), ['code', 'error', 'message', 'statusCode']);
  assert.equal(json.statusCode, status);
  assert.equal(json.code, code);
  assert.match(json.message, message);
  assert.equal(res.headers['cache-control'], 'no-store');
  if (status !== 409) assert.equal(f.sink.submitted, before.submitted, 'a refused ballot reached the sink');
  assert.equal(f.sink.entries('alpha').length, before.alpha);
  assert.equal(f.sink.entries('beta').length, before.beta);
}

describe('accepted ballots', () => {
  test('201 with a receipt that verifies against the manifest, no-store, no Location, no Set-Cookie', async () => {
    const ballot = f.alpha.ballot(['a', 'c']);
    const res = await f.post(ballot.toJSON());
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['location'], undefined);
    assert.equal(res.headers['set-cookie'], undefined);
    const receipt = await receiptOf(res.body);
    assert.deepEqual(receipt.ballot.serialize(), ballot.serialize());
    assert.equal(receipt.board, 'https://vote.example/poll/alpha');
    assert.deepEqual(f.sink.entries('alpha')[receipt.leaf_index], ballot.serialize());
    // The body is exactly the receipt's JSON: nothing added, nothing lost in serialization.
    assert.deepEqual(JSON.parse(res.body), receipt.toJSON());
  });

  test('an identical resubmission is 200 with the original receipt (same leaf), appended once', async () => {
    const ballot = f.alpha.ballot(['b']);
    const first = await f.post(ballot.toJSON());
    assert.equal(first.statusCode, 201, first.body);
    const size = f.sink.entries('alpha').length;
    // Another encoding of the same ballot (key order, spacing) is the same ballot.
    const { type, v, poll_id, token, choice } = ballot.toJSON();
    const again = await f.post(JSON.stringify({ choice, token: { sig: token.sig, prefix: token.prefix, nonce: token.nonce }, poll_id, v, type }, null, 2));
    assert.equal(again.statusCode, 200, again.body);
    const [r1, r2] = [await receiptOf(first.body), await receiptOf(again.body)];
    assert.equal(r2.leaf_index, r1.leaf_index);
    assert.deepEqual(r2.leaf_hash, r1.leaf_hash);
    assert.equal(f.sink.entries('alpha').length, size);
  });

  test('a ballot of the single-choice poll is accepted with its own board', async () => {
    const res = await f.post(f.beta.ballot(['c']).toJSON());
    assert.equal(res.statusCode, 201, res.body);
    const receipt = Receipt.parse(res.body);
    assert.ok(receiptValid(await verifyReceipt(receipt, f.beta.poll)));
    assert.equal(receipt.board, 'https://vote.example/poll/beta');
  });

  test('Cookie and Authorization are ignored, not refused', async () => {
    const res = await f.post(alphaJson(['a']), { cookie: 'sid=abc', authorization: 'Bearer xyz' });
    assert.equal(res.statusCode, 201, res.body);
  });
});

describe('the token', () => {
  test('409 for another ballot with a spent token, naming the index that spent it', async () => {
    const token = f.alpha.token();
    const first = await f.post(f.alpha.ballot(['a'], token).toJSON());
    assert.equal(first.statusCode, 201);
    const index = Receipt.parse(first.body).leaf_index;
    await refused(f.post(f.alpha.ballot(['b'], token).toJSON()), 409, 'BV_TOKEN_SPENT', new RegExp(`^ballot\\.token: already spent by the ballot at index ${index} of the board`));
  });

  test('403 for a signature that does not verify', async () => {
    const t = f.alpha.token();
    const sig = t.sig.slice();
    sig[100]! ^= 1;
    const forged = new Token({ nonce: t.nonce, prefix: t.prefix, sig });
    await refused(f.post(f.alpha.ballot(['a'], forged).toJSON()), 403, 'BV_TOKEN_INVALID', /token signature does not verify under this poll's key/);
  });

  test("403 for a token of one poll cast in another (beta's token in alpha, alpha's in beta)", async () => {
    const betaToken = f.beta.token();
    await refused(f.post(f.alpha.ballot(['a'], betaToken).toJSON()), 403, 'BV_TOKEN_INVALID', /^ballot\.token: token signature does not verify under this poll's key; cast a token issued for poll "alpha"/);
    await refused(f.post(f.beta.ballot(['a'], f.alpha.token()).toJSON()), 403, 'BV_TOKEN_INVALID', /poll "beta"/);
    // The same token is still good in its own poll: the refusals spent nothing.
    assert.equal((await f.post(f.beta.ballot(['b'], betaToken).toJSON())).statusCode, 201);
  });

  test("400 for a signature whose length is not the poll key's", async () => {
    const t = f.alpha.token();
    const short = new Token({ nonce: t.nonce, prefix: t.prefix, sig: new Uint8Array(384) });
    await refused(f.post(f.alpha.ballot(['a'], short).toJSON()), 400, 'BV_BALLOT_MALFORMED', /^ballot\.token\.sig: 384 bytes, poll "alpha" has a token key that signs 256$/);
  });
});

describe('the poll and its window', () => {
  test('404 for a poll that was never published', async () => {
    const json = alphaJson(['a'], (j) => {
      j.poll_id = 'gamma';
    });
    await refused(f.post(json), 404, 'BV_POLL_NOT_FOUND', /^ballot\.poll_id: no published poll "gamma"/);
  });

  test('opens at opens_at exactly: 425 one millisecond before, 201 at it', async () => {
    try {
      f.clock = Date.parse(OPENS_AT) - 1;
      await refused(f.post(alphaJson()), 425, 'BV_POLL_NOT_OPEN', new RegExp(`^poll "alpha" opens at ${OPENS_AT}`));
      f.clock = Date.parse(OPENS_AT);
      assert.equal((await f.post(alphaJson())).statusCode, 201);
    } finally {
      f.clock = DURING;
    }
  });

  test('closes at closes_at exactly: 201 one millisecond before, 410 at it and after', async () => {
    try {
      f.clock = Date.parse(CLOSES_AT) - 1;
      assert.equal((await f.post(alphaJson())).statusCode, 201);
      f.clock = Date.parse(CLOSES_AT);
      await refused(f.post(alphaJson()), 410, 'BV_POLL_CLOSED', new RegExp(`^poll "alpha" closed at ${CLOSES_AT}; it accepts no more ballots`));
      f.clock = Date.parse(CLOSES_AT) + 86_400_000;
      await refused(f.post(alphaJson()), 410, 'BV_POLL_CLOSED', /closed at/);
    } finally {
      f.clock = DURING;
    }
  });

  test('after the close a byte-identical retry still gets its original receipt (200); anything else 410', async () => {
    const g = await fixture(polls);
    try {
      const first = await g.post(g.beta.ballot(['a']).toJSON());
      assert.equal(first.statusCode, 201, first.body);
      const sent = first.json().ballot;
      g.directory.close('beta');
      const retry = await g.post(sent);
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.json().leaf_index, first.json().leaf_index);
      await refused(g.post({ ...sent, choice: ['b'] }), 410, 'BV_POLL_CLOSED', /beta/);
      g.clock = Date.parse(CLOSES_AT) + 1;
      assert.equal((await g.post(sent)).statusCode, 200, 'after closes_at too');
    } finally {
      await g.app.close();
    }
  });

  test('410 once the board holds the close entry, even inside the window', async () => {
    const g = await fixture(polls);
    try {
      g.directory.close('beta');
      const res = await g.post(g.beta.ballot(['a']).toJSON());
      assert.equal(res.statusCode, 410, res.body);
      assert.match(res.json().message, /^poll "beta" was closed on its board/);
      assert.equal(g.sink.submitted, 0);
    } finally {
      await g.app.close();
    }
  });
});

describe('the choice (422)', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown option id', ['a', 'z'], /^ballot\.choice\[1\]: unknown option id "z"$/],
    ['more options than max_choices', ['a', 'b', 'c'], /^ballot\.choice: 3 options chosen, this poll allows 1\.\.2$/],
    ['duplicate ids', ['a', 'a'], /^ballot\.choice\[1\]: duplicate option id "a"$/],
    ['ids out of order', ['b', 'a'], /^ballot\.choice\[1\]: ids must be in ascending order/],
    ['no choice at all', [], /^ballot\.choice: must not be empty$/],
    ['an id that is no option id', ['A'], /^ballot\.choice\[0\]: "A" does not match/],
  ];
  for (const [name, choice, message] of cases) {
    test(name, async () => {
      await refused(f.post(alphaJson(['a'], (j) => void (j.choice = choice))), 422, 'BV_CHOICE_INVALID', message);
    });
  }

  test('two options on a single-choice poll', async () => {
    await refused(f.post(f.beta.ballot(['a', 'b']).toJSON()), 422, 'BV_CHOICE_INVALID', /^ballot\.choice: a single-choice ballot takes exactly one option, got 2$/);
  });

  test('the poll is checked first: an unsorted choice for an unknown poll is 404, for a closed one 410', async () => {
    const unsorted = (pollId: string) => alphaJson(['a'], (j) => {
      j.poll_id = pollId;
      j.choice = ['c', 'a'];
    });
    await refused(f.post(unsorted('gamma')), 404, 'BV_POLL_NOT_FOUND', /gamma/);
    try {
      f.clock = Date.parse(CLOSES_AT);
      await refused(f.post(unsorted('alpha')), 410, 'BV_POLL_CLOSED', /alpha/);
    } finally {
      f.clock = DURING;
    }
  });
});

describe('malformed requests (400)', () => {
  const nonce31 = toBase64(new Uint8Array(31));
  const cases: [string, () => unknown, RegExp][] = [
    ['not JSON', () => '{"type":"ballot",', /^request body: expected a string key \(at offset 17\); send one JSON object, the ballot$/],
    ['an empty object', () => ({}), /^ballot: missing fields "type", "v", "poll_id", "token", "choice"$/],
    ['an empty body', () => '', /^request body: empty; send the ballot as JSON$/],
    ['duplicate keys', () => JSON.stringify(alphaJson()).replace('{', '{"v":1,'), /^request body: .*duplicate/],
    ['a JSON array', () => [], /^ballot: expected an object$/],
    ['a missing field', () => alphaJson(['a'], (j) => void delete (j as Partial<BallotJSON>).choice), /^ballot: missing field "choice"$/],
    ['a missing token field', () => alphaJson(['a'], (j) => void delete (j.token as Partial<BallotJSON['token']>).sig), /^ballot\.token: missing field "sig"$/],
    ['an unknown field', () => alphaJson(['a'], (j) => void (j['voter'] = 'me')), /^ballot\.voter: unknown field$/],
    ['an unknown token field', () => alphaJson(['a'], (j) => void ((j.token as Record<string, string>)['id'] = 'x')), /^ballot\.token\.id: unknown field$/],
    ['another entry type', () => alphaJson(['a'], (j) => void ((j as Record<string, unknown>)['type'] = 'poll')), /^ballot\.type: must be "ballot"$/],
    ['another version', () => alphaJson(['a'], (j) => void ((j as Record<string, unknown>)['v'] = 2)), /^ballot\.v: must be 1$/],
    ['a version as a string (no coercion)', () => alphaJson(['a'], (j) => void ((j as Record<string, unknown>)['v'] = '1')), /^ballot\.v: expected a number$/],
    ['a choice that is not an array', () => alphaJson(['a'], (j) => void ((j as Record<string, unknown>)['choice'] = 'a')), /^ballot\.choice: expected an array$/],
    ['a choice element that is not a string', () => alphaJson(['a'], (j) => void ((j as Record<string, unknown>)['choice'] = ['a', 3])), /^ballot\.choice\[1\]: expected a string$/],
    ['bad base64', () => alphaJson(['a'], (j) => void (j.token.nonce = 'not base64!')), /^ballot\.token\.nonce: /],
    ['a nonce of 31 bytes', () => alphaJson(['a'], (j) => void (j.token.nonce = nonce31)), /^ballot\.token\.nonce: expected 32 bytes, got 31$/],
    ['a malformed poll id', () => alphaJson(['a'], (j) => void (j.poll_id = 'Alpha')), /^ballot\.poll_id: "Alpha" does not match/],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from('{"type":"ballot\xff'), Buffer.from([0xff]), Buffer.from('"}')]), /^request body: /],
  ];
  for (const [name, body, message] of cases) {
    test(name, async () => {
      const payload = body();
      await refused(
        Buffer.isBuffer(payload) ? f.app.inject({ method: 'POST', url: '/v1/ballots', headers: { 'content-type': 'application/json' }, payload }) : f.post(payload),
        400,
        'BV_BALLOT_MALFORMED',
        message,
      );
    });
  }

  test('a query string', async () => {
    await refused(
      f.app.inject({ method: 'POST', url: '/v1/ballots?voter=me', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(alphaJson()) }),
      400,
      'BV_BALLOT_MALFORMED',
      /^querystring\.voter: unknown field$/,
    );
  });
});

describe('size and media type', () => {
  test('413 above 16 KiB by default, 201 at the limit', async () => {
    const json = JSON.stringify(alphaJson());
    const pad = (n: number) => json.replace(/^\{/, `{${' '.repeat(n - json.length)}`);
    await refused(f.post(pad(16 * 1024 + 1)), 413, 'BV_BALLOT_TOO_LARGE', /^request body: larger than 16384 bytes/);
    assert.equal((await f.post(pad(16 * 1024))).statusCode, 201);
  });

  test('413 above maxBodyBytes', async () => {
    const g = await fixture(polls, { maxBodyBytes: 400 });
    try {
      const res = await g.post(g.alpha.ballot(['a']).toJSON());
      assert.equal(res.statusCode, 413, res.body);
      assert.match(res.json().message, /larger than 400 bytes/);
      assert.equal(g.sink.submitted, 0);
    } finally {
      await g.app.close();
    }
  });

  for (const [type, shown] of [['text/plain', '"text/plain"'], ['application/x-www-form-urlencoded', '"application/x-www-form-urlencoded"'], [undefined, 'no Content-Type']] as const) {
    test(`415 for ${type ?? 'no Content-Type'}`, async () => {
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
      await refused(
        f.app.inject({ method: 'POST', url: '/v1/ballots', headers, payload: Buffer.from(JSON.stringify(alphaJson())) }),
        415,
        'BV_UNSUPPORTED_MEDIA_TYPE',
        new RegExp(`^Content-Type: must be application/json, got ${shown}$`),
      );
    });
  }

  test('application/json with a charset parameter is JSON', async () => {
    assert.equal((await f.post(alphaJson(), { 'content-type': 'application/json; charset=utf-8' })).statusCode, 201);
  });
});

describe('the sink pushes back or fails', () => {
  async function withSink(sink: BallotSink, check: (g: Fixture) => Promise<void>): Promise<void> {
    const g = await fixture(polls, { sink });
    try {
      await check(g);
    } finally {
      await g.app.close();
    }
  }

  test('429 with Retry-After when the board is overloaded', async () => {
    await withSink({ submit: async () => ({ status: 'overloaded', retryAfterSeconds: 3 }), recorded: async () => null, byLeafHash: async () => null }, async (g) => {
      const res = await g.post(g.alpha.ballot(['a']).toJSON());
      assert.equal(res.statusCode, 429, res.body);
      assert.equal(res.headers['retry-after'], '3');
      assert.equal(res.json().code, 'BV_OVERLOADED');
      assert.match(res.json().message, /resubmit the same ballot after 3 seconds/);
    });
  });

  test('410 when the board closed the poll between the check and the append', async () => {
    await withSink({ submit: async () => ({ status: 'closed' }), recorded: async () => null, byLeafHash: async () => null }, async (g) => {
      const res = await g.post(g.alpha.ballot(['a']).toJSON());
      assert.equal(res.statusCode, 410, res.body);
      assert.match(res.json().message, /^poll "alpha" was closed on its board/);
    });
  });

  test('500 without internal details when the sink fails', async () => {
    await withSink({ submit: async () => Promise.reject(new Error('connection to db-7.internal refused')), recorded: async () => null, byLeafHash: async () => null }, async (g) => {
      const res = await g.post(g.alpha.ballot(['a']).toJSON());
      assert.equal(res.statusCode, 500, res.body);
      assert.equal(res.json().code, 'BV_INTERNAL');
      assert.doesNotMatch(res.body, /db-7/);
      assert.match(res.json().message, /resubmit the same ballot/);
    });
  });
});

describe('another origin (CORS)', () => {
  test('a preflight allows a JSON POST from any origin without credentials; every answer is readable cross-origin', async () => {
    const pre = await f.app.inject({
      method: 'OPTIONS',
      url: '/v1/ballots',
      headers: { origin: 'https://vote.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(pre.statusCode, 204, pre.body);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
    assert.equal(pre.headers['access-control-allow-credentials'], undefined, 'never with credentials');
    const accepted = await f.post(f.alpha.ballot(['a']).toJSON(), { origin: 'https://vote.example' });
    assert.equal(accepted.statusCode, 201, accepted.body);
    const refusedOne = await f.post({ not: 'a ballot' }, { origin: 'https://vote.example' });
    assert.equal(refusedOne.statusCode, 400, refusedOne.body);
    for (const res of [accepted, refusedOne]) {
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    }
  });
});
