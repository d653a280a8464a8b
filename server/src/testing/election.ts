/**
 * The end-to-end election, as numbered steps (STYLE.md: setup → publish → issue → vote → close →
 * tally → verify), through the public HTTP API and the verifier CLI only. It takes a `Deployment`,
 * so the same scenario code runs all-in-one and against the distributed topology.
 *
 * Voters: most sign in through the external identity provider (bearer JWTs signed by the test's
 * own key, which the deployment trusts), a few as built-in accounts. Every client step is the
 * real one: blinding with blindrsa-ts, the blinding state kept before the request, finalize,
 * a ballot without credentials, the receipt verified with crypto/ alone.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ballot, Poll, Receipt, TokenClient, formatTime, fromBase64, toBase64, verifyReceipt } from '@blindvote/crypto';
import type { BlindingState, ReceiptJSON, Token } from '@blindvote/crypto';
import { Api, ApiError, awaitTally, castBallot, pool } from '../client.ts';
import type { Deployment } from './deployment.ts';

const VERIFY_CLI = fileURLToPath(new URL('./cli.ts', import.meta.resolve('@blindvote/verifier')));

export interface ElectionOptions {
  readonly voters: number;
  /** Of which this many are built-in accounts (the rest come through the identity provider). */
  readonly builtinVoters: number;
  /** Signs an identity provider token for `subject`. */
  readonly idpToken: (subject: string) => Promise<string>;
  readonly concurrency?: number;
}

interface Voter {
  readonly account: string;
  session: string;
  blinding?: BlindingState;
  blindSig?: Uint8Array;
  token?: Token;
  ballot?: Ballot;
  receipt?: ReceiptJSON;
}


async function expectStatus(promise: Promise<unknown>, status: number, what: string): Promise<ApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, `${what}: ${(err as Error).message}`);
    assert.equal(err.status, status, `${what}: expected ${status}, got ${err.message}`);
    return err;
  }
  assert.fail(`${what}: expected ${status}, but it succeeded`);
}

function verify(args: string[]): { status: number | null; json: any; stderr: string } {
  const run = spawnSync(process.execPath, [VERIFY_CLI, ...args, '--json'], { encoding: 'utf8', timeout: 120_000 });
  let json: any = null;
  try {
    json = JSON.parse(run.stdout);
  } catch {
    json = null;
  }
  return { status: run.status, json, stderr: run.stderr };
}

export async function runElection(t: TestContext, d: Deployment, options: ElectionOptions): Promise<void> {
  const api = new Api(d.url);
  const concurrency = options.concurrency ?? 16;
  const voters: Voter[] = [];
  let admin = '';
  let poll!: Poll;
  let client!: TokenClient;
  let board = '';
  const expected: Record<string, number> = { bikes: 0, library: 0, park: 0 };
  const pollId = `e2e-${Math.random().toString(36).slice(2, 8)}`;
  const scratch = mkdtempSync(join(tmpdir(), 'blindvote-e2e-receipts-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));

  await t.test('1. setup: the admin signs in; voters sign in (identity provider and built-in accounts)', async () => {
    admin = await api.login(d.adminUsername, d.adminPassword);
    const me = await api.call('GET', '/v1/me', { token: admin });
    assert.equal(me.admin, true);
    const idpCount = options.voters - options.builtinVoters;
    for (let i = 0; i < idpCount; i++) voters.push({ account: `idp:voter-${i}`, session: await options.idpToken(`voter-${i}`) });
    const password = 'correct horse battery staple';
    for (let i = 0; i < options.builtinVoters; i++) {
      const username = `${pollId}-local-${i}`;
      await api.call('POST', '/v1/accounts', { body: { username, password } });
      voters.push({ account: username, session: await api.login(username, password) });
    }
    const me2 = await api.call('GET', '/v1/me', { token: voters[0]!.session });
    assert.equal(me2.account, voters[0]!.account);
    await expectStatus(api.login(`${pollId}-local-0`, 'wrong password'), 401, 'a wrong password');
  });

  await t.test('2. publish: the admin creates a poll, imports the roll (CSV, previewed) and publishes it', async () => {
    const now = Date.now();
    const draft = {
        poll_id: pollId,
        title: 'Where should the city spend its budget?',
        description: 'End-to-end test election.',
        options: [
          { id: 'bikes', label: 'Bike lanes' },
          { id: 'library', label: 'Library' },
          { id: 'park', label: 'Park' },
        ],
        kind: 'multi',
        max_choices: 2,
        opens_at: formatTime(now - 1000),
        closes_at: formatTime(now + 3600_000),
        results: 'live',
    };
    await expectStatus(api.call('POST', '/v1/polls', { token: voters[0]!.session, body: draft }), 403, 'a voter creating a poll');
    await api.call('POST', '/v1/polls', { token: admin, body: draft });
    const csv = ['account', ...voters.map((v) => v.account), 'not a valid id!'].join('\n');
    const preview = await api.call('PUT', `/v1/polls/${pollId}/roll?dry_run=true`, { token: admin, text: csv, contentType: 'text/csv' });
    assert.equal(preview.size, options.voters);
    assert.equal(preview.errors.length, 1, 'the preview names the bad row');
    const roll = await api.call('PUT', `/v1/polls/${pollId}/roll`, { token: admin, text: csv, contentType: 'text/csv' });
    assert.equal(roll.size, options.voters);
    await api.call('POST', `/v1/polls/${pollId}/publish`, { token: admin });

    const listed = await api.call('GET', '/v1/polls');
    const entry = listed.polls?.find?.((p: { poll_id: string }) => p.poll_id === pollId) ?? listed.find?.((p: { poll_id: string }) => p.poll_id === pollId);
    assert.ok(entry, 'discovery lists the poll');
    assert.equal(entry.state, 'open');
    board = entry.board;
    const info = await api.call('GET', `/v1/polls/${pollId}`);
    poll = Poll.fromJSON(info.manifest);
    assert.equal(poll.roll.size, options.voters);
    client = await TokenClient.create(poll.token_key.spki, pollId);
    const checkpoint = await (await fetch(`${board}/checkpoint`)).text();
    assert.match(checkpoint, new RegExp(`^${new URL(board).host}/poll/${pollId}\n1\n`), 'the manifest is entry 0 of the board');
  });

  await t.test('3. issue: every voter blinds, saves the state, and gets exactly one token', async () => {
    const errors: string[] = [];
    await pool(voters, concurrency, async (v) => {
      v.blinding = await client.blind(); // kept before the request, as a real client must
      const reply = await api.call('POST', `/v1/polls/${pollId}/tokens`, { token: v.session, body: { blinded_msg: toBase64(v.blinding.blindedMsg) } });
      v.blindSig = fromBase64(reply.blind_sig, 'blind_sig');
      v.token = await client.finalize(v.blinding, v.blindSig);
    }, errors);
    assert.deepEqual(errors, []);

    // A dropped response: the retry with the saved blinding state gets the same signature.
    const v0 = voters[0]!;
    const again = await api.call('POST', `/v1/polls/${pollId}/tokens`, { token: v0.session, body: { blinded_msg: toBase64(v0.blinding!.blindedMsg) } });
    assert.equal(again.blind_sig, toBase64(v0.blindSig!));
    // A second token (another blinded message) is refused.
    const other = await client.blind();
    await expectStatus(api.call('POST', `/v1/polls/${pollId}/tokens`, { token: v0.session, body: { blinded_msg: toBase64(other.blindedMsg) } }), 409, 'a second token');
    // Somebody not on the roll gets none.
    await expectStatus(api.call('POST', `/v1/polls/${pollId}/tokens`, { token: await options.idpToken('stranger'), body: { blinded_msg: toBase64(other.blindedMsg) } }), 403, 'a voter not on the roll');
    const stats = await api.call('GET', `/v1/polls/${pollId}/stats`, { token: admin });
    assert.equal(stats.issued, options.voters);
  });

  await t.test('4. vote: every voter casts a ballot without credentials; every receipt verifies', async () => {
    const errors: string[] = [];
    const choices = [['bikes'], ['library'], ['bikes', 'park'], ['library', 'park'], ['park']];
    await pool(voters, concurrency, async (v, i) => {
      const choice = choices[i % choices.length]!;
      v.ballot = new Ballot({ poll_id: pollId, token: v.token!, choice });
      v.receipt = (await castBallot(api, v.ballot)) as ReceiptJSON;
      for (const id of choice) expected[id]!++;
      const checks = await verifyReceipt(Receipt.fromJSON(v.receipt), poll);
      const failed = checks.filter((c) => !c.ok);
      assert.deepEqual(failed, [], `receipt of voter ${i}`);
    }, errors);
    assert.deepEqual(errors, []);

    // A dropped response: the byte-identical retry gets the original receipt (200, same leaf).
    const v0 = voters[0]!;
    const response = await fetch(`${d.url}/v1/ballots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v0.ballot!.toJSON()) });
    assert.equal(response.status, 200);
    const retried = (await response.json()) as ReceiptJSON;
    assert.equal(retried.leaf_index, v0.receipt!.leaf_index);
    assert.equal(retried.leaf_hash, v0.receipt!.leaf_hash);
    // The same token with another choice is refused, naming the entry that spent it.
    const second = new Ballot({ poll_id: pollId, token: v0.token!, choice: v0.ballot!.choice[0] === 'park' ? ['bikes'] : ['park'] });
    const refused = await expectStatus(api.call('POST', '/v1/ballots', { body: second.toJSON() }), 409, 'a second ballot');
    assert.match(refused.message, new RegExp(`${v0.receipt!.leaf_index}`));
  });

  await t.test('5. close: the admin closes the poll; the board appends the close entry; ballots are refused', async () => {
    const late = new Ballot({ poll_id: pollId, token: voters[1]!.token!, choice: ['park'] });
    await api.call('POST', `/v1/polls/${pollId}/close`, { token: admin });
    await expectStatus(api.call('POST', '/v1/ballots', { body: late.toJSON() }), 410, 'a ballot after close');
    await expectStatus(api.call('POST', `/v1/polls/${pollId}/tokens`, { token: voters[0]!.session, body: { blinded_msg: toBase64(voters[0]!.blinding!.blindedMsg) } }), 410, 'a token after close');
  });

  await t.test('6. tally: the tallier recounts from the board and appends the tally; results are final', async () => {
    const results = await awaitTally(api, pollId);
    assert.equal(results.state, 'tallied', JSON.stringify(results));
    assert.deepEqual(results.final.tally.counts, expected);
    assert.equal(results.final.tally.ballots_counted, options.voters);
    assert.equal(results.final.tally.ballots_rejected, 0);
    assert.equal(results.final.verified, true);
  });

  await t.test('7. verify: blindvote-verify audits the board and checks receipts against it', async () => {
    const audit = verify(['audit', board, '--board-key', poll.board_key]);
    assert.equal(audit.status, 0, `${audit.stderr}\n${JSON.stringify(audit.json?.checks?.filter((c: { ok: boolean }) => !c.ok), null, 2)}`);
    assert.equal(audit.json.ok, true);
    for (const i of [0, voters.length - 1]) {
      const file = join(scratch, `receipt-${i}.json`);
      writeFileSync(file, JSON.stringify(voters[i]!.receipt));
      const checked = verify(['receipt', file, '--board', board]);
      assert.equal(checked.status, 0, `receipt ${i}: ${checked.stderr}\n${JSON.stringify(checked.json)}`);
    }
  });

  await t.test('8. tamper: an altered stored entry is reported by the audit', async () => {
    const index = 1 + Math.floor(voters.length / 2);
    await d.tamperEntry(pollId, index);
    const audit = verify(['audit', board, '--board-key', poll.board_key]);
    assert.equal(audit.status, 1, 'the audit fails');
    const failed: { check: string; detail: string }[] = audit.json.checks.filter((c: { ok: boolean }) => !c.ok);
    assert.ok(failed.some((c) => c.check === 'hash-tiles' || c.check === 'root'), JSON.stringify(failed));
    assert.ok(failed.some((c) => c.detail.includes(String(index))), `the evidence names entry ${index}: ${JSON.stringify(failed)}`);
  });
}
