/**
 * Unlinkability by construction (DESIGN.md promise 5), on `blindvote serve` logging at `trace`:
 * a small election with real client blinding, then
 *   (a) every table of issuer.db (WAL checkpointed), its files on disk and every log line hold
 *       nothing derived from a token or a ballot (nonce, prefix, signature, token id, ballot
 *       bytes, leaf hash) nor the blinded messages or blind signatures, in any encoding;
 *   (b) board.db and every log line of a ballot request hold none of the voters' account ids,
 *       session tokens, nor the address, cookies, user agent or X-Forwarded-For sent with ballots;
 *   (c) issuer.db and board.db are different files sharing no table;
 *   (d) every voter's token verifies under the one key of the manifest on the board, and that
 *       manifest is byte for byte the one the issuer serves and stores.
 * Each search is shown able to fail: it finds what the same place must hold (the issuer the
 * blinded-message hashes and account ids, the board the tokens) and a value planted in its input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Ballot, Poll, TokenClient, TokenVerifier, equalBytes, fromBase64, leafHash, sha256, toBase64, tokenIdFor, parseEntry } from '@blindvote/crypto';
import type { ReceiptJSON, Token } from '@blindvote/crypto';
import { Api, awaitTally } from './client.ts';
import { AllInOne } from './testing/deployment.ts';
import { publishTestPoll, readBoard, registerVoters } from './testing/polls.ts';
import type { TestVoter } from './testing/polls.ts';
import { dumpSqlite, findSecrets, sqliteFiles, text } from './testing/search.ts';
import type { Secret } from './testing/search.ts';

const VOTERS = 20;

interface Cast {
  readonly voter: TestVoter;
  readonly blindedMsg: Uint8Array;
  readonly blindSig: Uint8Array;
  readonly token: Token;
  readonly ballot: Ballot;
  readonly receipt: ReceiptJSON;
  /** What the voter's browser sent along with the ballot. */
  readonly address: string;
  readonly cookie: string;
  readonly userAgent: string;
}

test(`unlinkability by construction: an election of ${VOTERS} voters, logging at trace`, { timeout: 180_000 }, async (t) => {
  // Trusting X-Forwarded-For makes the forwarded address the request's address: if anything logged or kept it, it would show.
  const d = await AllInOne.start({ env: { BLINDVOTE_LOG_LEVEL: 'trace', BLINDVOTE_TRUST_PROXY: 'true' } });
  t.after(() => d.stop());
  const api = new Api(d.url);
  const admin = await api.login(d.adminUsername, d.adminPassword);
  const run = Math.random().toString(36).slice(2, 8);
  const voters = await registerVoters(api, `unlink-${run}`, VOTERS);
  const { pollId, poll, board } = await publishTestPoll(api, admin, `unlink-${run}`, voters.map((v) => v.account));
  const client = await TokenClient.create(poll.token_key.spki, pollId);
  const casts: Cast[] = [];
  const choices = [['bikes'], ['library'], ['park'], ['bikes', 'library']];

  for (const [i, voter] of voters.entries()) {
    const blinding = await client.blind();
    const { blind_sig } = await api.call('POST', `/v1/polls/${pollId}/tokens`, { token: voter.session, body: { blinded_msg: toBase64(blinding.blindedMsg) } });
    const blindSig = fromBase64(blind_sig, 'blind_sig');
    const token = await client.finalize(blinding, blindSig);
    const ballot = new Ballot({ poll_id: pollId, token, choice: choices[i % choices.length]! });
    const address = `203.0.113.${i + 10}`;
    const cookie = `bv_session=${voter.session}; account=${voter.account}`;
    const userAgent = `UnlinkabilityProbe/${run}-${i}`;
    const response = await fetch(`${d.url}/v1/ballots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'user-agent': userAgent, 'x-forwarded-for': address, authorization: `Bearer ${voter.session}` },
      body: JSON.stringify(ballot.toJSON()),
    });
    assert.equal(response.status, 201, await response.clone().text());
    casts.push({ voter, blindedMsg: blinding.blindedMsg, blindSig, token, ballot, receipt: (await response.json()) as ReceiptJSON, address, cookie, userAgent });
  }
  await api.call('POST', `/v1/polls/${pollId}/close`, { token: admin });
  const results = await awaitTally(api, pollId);
  assert.equal(results.state, 'tallied', JSON.stringify(results));
  assert.equal(results.final.tally.ballots_counted, VOTERS);

  const issuerDb = join(d.dataDir, 'issuer.db');
  const boardDb = join(d.dataDir, 'board.db');
  const logLines = d.stdout.split('\n').filter((l) => l.startsWith('{'));
  const logs = Buffer.from(logLines.join('\n'));
  const planted = (haystack: Buffer, secret: Secret) => findSecrets(Buffer.concat([haystack, Buffer.from(toBase64(secret.bytes).replace(/=+$/, ''))]), [secret]);

  const tokenSecrets: Secret[] = casts.flatMap((c, i) => [
    { name: `voter ${i} token nonce`, bytes: c.token.nonce },
    { name: `voter ${i} token prefix`, bytes: c.token.prefix },
    { name: `voter ${i} token signature`, bytes: c.token.sig },
    { name: `voter ${i} token id`, bytes: tokenIdFor(pollId, c.token) },
    { name: `voter ${i} ballot bytes`, bytes: c.ballot.serialize() },
    { name: `voter ${i} leaf hash`, bytes: fromBase64(c.receipt.leaf_hash, 'leaf_hash') },
    { name: `voter ${i} blinded message`, bytes: c.blindedMsg },
    { name: `voter ${i} blind signature`, bytes: c.blindSig },
  ]);
  const identitySecrets: Secret[] = casts.flatMap((c, i) => [
    text(`voter ${i} account id`, c.voter.account),
    text(`voter ${i} session token`, c.voter.session),
    text(`voter ${i} session token signature`, c.voter.session.split('.')[2]!),
    text(`voter ${i} forwarded address`, c.address),
    text(`voter ${i} cookie`, c.cookie),
    text(`voter ${i} user agent`, c.userAgent),
  ]);

  await t.test('(a) the issuer: no table, database file or log line holds anything derived from a token or a ballot', () => {
    const { dump } = dumpSqlite(issuerDb);
    assert.deepEqual(findSecrets(dump, tokenSecrets), [], 'issuer.db tables');
    assert.deepEqual(findSecrets(sqliteFiles(issuerDb), tokenSecrets), [], 'issuer.db files on disk');
    assert.deepEqual(findSecrets(logs, tokenSecrets), [], 'log lines');

    // The same searches find what must be there, and a planted value.
    const hashes = casts.map((c, i) => ({ name: `voter ${i} blinded message hash`, bytes: sha256(c.blindedMsg) }));
    assert.equal(findSecrets(dump, hashes).length, VOTERS, 'issuer.db keeps SHA-256 of each blinded message (issuance table)');
    assert.equal(findSecrets(dump, identitySecrets.filter((s) => s.name.endsWith('account id'))).length, VOTERS, 'issuer.db knows who');
    assert.equal(planted(logs, tokenSecrets[0]!).length, 1);
    assert.equal(planted(dump, tokenSecrets[2]!).length, 1);
    const tokenRequests = logLines.filter((l) => l.includes('/v1/polls/:id/tokens'));
    assert.ok(tokenRequests.length >= VOTERS, `the issuer's request logs were captured (${tokenRequests.length} token requests)`);
    t.diagnostic(`searched ${tokenSecrets.length} token/ballot values in ${dump.length} bytes of issuer tables and ${logLines.length} log lines`);
  });

  await t.test('(b) the ballot box: board.db and ballot request logs hold no account id, session, address, cookie or user agent', () => {
    const { dump } = dumpSqlite(boardDb);
    assert.deepEqual(findSecrets(dump, identitySecrets), [], 'board.db tables');
    assert.deepEqual(findSecrets(sqliteFiles(boardDb), identitySecrets), [], 'board.db files on disk');

    // Ballot request lines: those naming the route, and every line of the same request (reqId).
    const parsed = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const ballotRequests = new Set(parsed.filter((l) => JSON.stringify(l).includes('/v1/ballots')).map((l) => l['reqId']));
    ballotRequests.delete(undefined);
    assert.ok(ballotRequests.size >= VOTERS, `the ballot requests were logged (${ballotRequests.size})`);
    const ballotLines = Buffer.from(parsed.filter((l) => ballotRequests.has(l['reqId'])).map((l) => JSON.stringify(l)).join('\n'));
    const clientAddress = [text('the client address', '127.0.0.1'), text('an address field', 'remoteAddress'), text('a port field', 'remotePort')];
    assert.deepEqual(findSecrets(ballotLines, [...identitySecrets, ...clientAddress]), [], 'ballot request log lines');
    // Nor does any other log line (the issuer's included) carry what the ballots were sent with.
    assert.deepEqual(findSecrets(logs, identitySecrets.filter((s) => !s.name.endsWith('account id'))), [], 'log lines');

    // The same searches find what must be there, and a planted value.
    assert.equal(findSecrets(dump, tokenSecrets.filter((s) => s.name.endsWith('nonce'))).length, VOTERS, 'board.db holds the tokens');
    assert.equal(planted(ballotLines, identitySecrets[0]!).length, 1);
    assert.equal(planted(dump, identitySecrets[3]!).length, 1);
    t.diagnostic(`searched ${identitySecrets.length} identity values in ${dump.length} bytes of board tables and ${ballotRequests.size} ballot requests' log lines`);
  });

  await t.test('(c) issuer.db and board.db are different files that share no table', () => {
    assert.notEqual(realpathSync(issuerDb), realpathSync(boardDb));
    assert.notEqual(statSync(issuerDb).ino, statSync(boardDb).ino);
    const issuerTables = dumpSqlite(issuerDb).tables;
    const boardTables = dumpSqlite(boardDb).tables;
    assert.ok(issuerTables.includes('issuance') && boardTables.includes('spent'), `${issuerTables} | ${boardTables}`);
    assert.deepEqual(issuerTables.filter((name) => boardTables.includes(name)), []);
  });

  await t.test('(d) one key: every token verifies under the manifest on the board, which is the one the issuer serves and stores', async () => {
    const entries = await readBoard(board);
    const onBoard = Poll.deserialize(entries[0]!);
    const served = Poll.fromJSON((await api.call('GET', `/v1/polls/${pollId}`)).manifest);
    assert.ok(equalBytes(served.serialize(), entries[0]!), 'the issuer serves the manifest that is entry 0 of the board');
    const { dump } = dumpSqlite(issuerDb);
    assert.ok(dump.includes(Buffer.from(entries[0]!)), 'the issuer stores that manifest');
    assert.ok(dump.includes(Buffer.from(onBoard.token_key.spki)), 'the issuer holds that token key');
    const verifier = await TokenVerifier.fromPoll(onBoard);
    for (const [i, c] of casts.entries()) {
      assert.equal(await verifier.verify(pollId, c.token), true, `voter ${i}'s token under the published key`);
      assert.ok(equalBytes(leafHash(entries[c.receipt.leaf_index]!), fromBase64(c.receipt.leaf_hash, 'leaf_hash')));
    }
    assert.deepEqual(entries.map((e) => parseEntry(e).type).filter((type) => type === 'poll').length, 1, 'the key is published once');
  });
});
