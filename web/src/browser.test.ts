/**
 * The web client in a real browser (playwright-core driving Debian's /usr/bin/chromium) against
 * `blindvote serve` on a temp data directory, as issue 5's "Done when" asks: an admin creates,
 * fills (CSV roll with preview and row errors) and publishes a poll; two voters in separate
 * browser contexts get tokens, vote and see verified receipts; one voter's connection drops after
 * the ballot reached the server and the retry gets the same receipt; the live chart shows the
 * right counts within one second of the last vote; after the close the final tally shows as
 * verified. axe-core finds no serious or critical violation on the main screens, screenshots at
 * desktop and phone sizes go to web/screenshots/, and no request leaves localhost.
 * Fails (never skips) when chromium is missing: `apt-get install -y chromium` (.ci/run does it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { Acceptance, NoteSigner, formatTime, fromBase64, generateSignerKey } from '@blindvote/crypto';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WEB = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../../server/src/cli.ts', import.meta.url));
const SHOTS = join(WEB, 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SIZES = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } };

interface Server { url: string; adminPassword: string; stop(): Promise<void> }

async function serve(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'blindvote-web-'));
  const env: Record<string, string> = { ...(process.env as Record<string, string>), BLINDVOTE_LOG_LEVEL: 'warn', BLINDVOTE_RATE_LIMITS: 'false' };
  delete env['NODE_TEST_CONTEXT'];
  const child = spawn(process.execPath, [CLI, 'serve', '--data', dataDir, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`blindvote serve did not start:\n${out}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^\s+polls\s+(\S+)\/v1\/polls$/m.exec(out);
      if (m !== null && /password "/.test(out)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`blindvote serve exited with ${code}:\n${out}`)));
  });
  const adminPassword = /password "([^"]+)"/.exec(out)![1]!;
  return {
    url,
    adminPassword,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function axe(page: Page, screen: string): Promise<void> {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => n.target.join(' ')) }));
  }) as { id: string; impact: string; help: string; nodes: string[] }[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${screen}: axe-core found serious violations`);
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of Object.entries(SIZES)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(SIZES.desktop);
}

async function signIn(page: Page, base: string, username: string, password: string): Promise<void> {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: /Sign out/ }).waitFor();
}

test('web client: admin, two voters (one meets a 202 acceptance, one a dropped connection), live chart, verified tally, axe, screenshots', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
  // `npm test` builds the client once before any test (pretest); rebuilding here while other test
  // files start servers would let them read a half-written build.
  if (!existsSync(join(WEB, 'dist', 'index.html'))) await build({ root: WEB, configFile: join(WEB, 'vite.config.ts'), logLevel: 'error' });
  mkdirSync(SHOTS, { recursive: true });
  const server = await serve();
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const base = server.url;
  const external: string[] = [];
  const context = async (): Promise<BrowserContext> => {
    const c = await browser.newContext({ viewport: SIZES.desktop });
    c.on('request', (r) => {
      const u = new URL(r.url());
      if (u.protocol !== 'data:' && u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') external.push(r.url());
    });
    return c;
  };

  const run = Math.random().toString(36).slice(2, 8);
  const voters = [`alice-${run}`, `bob-${run}`];
  const password = `pw-${run}-secret`;
  for (const username of voters) {
    const res = await fetch(`${base}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    assert.equal(res.status, 201, await res.text());
  }
  const pollId = `web-${run}`;

  // 1. The admin creates a poll, previews and imports a CSV roll, publishes.
  const admin = await (await context()).newPage();
  await admin.goto(base);
  await axe(admin, 'sign-in');
  await shoot(admin, 'signin');
  await signIn(admin, base, 'admin', server.adminPassword);
  await admin.waitForURL(`${base}/admin`);
  await admin.getByLabel('Title').fill('Which fruit for the party?');
  await admin.getByLabel(/Poll id/).fill(pollId);
  await admin.getByLabel(/Options, one per line/).fill('apples: Apples\npears: Pears\nplums: Plums');
  await axe(admin, 'admin: new poll');
  await admin.getByRole('button', { name: 'Create draft' }).click();
  await admin.waitForURL(`${base}/admin/polls/${pollId}`);
  await admin.getByLabel('…or paste it').fill(`account\n${voters[0]}\n${voters[1]}\nNot A Username!\n`);
  await admin.getByRole('button', { name: 'Preview' }).click();
  const preview = admin.getByTestId('roll-preview');
  await preview.getByText('2 voters; 1 rows will be left out').waitFor();
  assert.match(await preview.locator('tbody tr').innerText(), /^4\s+Not A Username!/);
  await axe(admin, 'admin: roll preview');
  await shoot(admin, 'admin-roll');
  await admin.getByRole('button', { name: 'Import roll' }).click();
  await admin.getByText('Roll imported.').waitFor();
  await admin.getByRole('button', { name: 'Publish' }).click();
  await admin.getByTestId('poll-state').getByText('Open').waitFor();
  await admin.getByTestId('stats').getByText('0 of 2 voters').waitFor();

  // The live chart, watched from the admin's browser while the voters vote.
  const chart = await (await context()).newPage();
  await chart.goto(`${base}/results/${pollId}`);
  await chart.getByText('live over WebSocket').waitFor();

  // 2. Two voters, separate contexts: token (blinding state stored first), ballot, verified receipt.
  const votes = ['pears', 'apples'] as const;
  // The ballot box key that signs the first voter's acceptance (see the 202 below).
  const signer = new NoteSigner(generateSignerKey('ballot-box.test').signerKey);
  let lastVoteAt = 0;
  const voterPages: Page[] = [];
  for (const [i, username] of voters.entries()) {
    const page = await (await context()).newPage();
    voterPages.push(page);
    await signIn(page, base, username, password);
    await page.waitForURL(`${base}/`);
    if (i === 0) {
      await axe(page, 'poll list');
      await shoot(page, 'polls');
    }
    await page.getByRole('link', { name: /^Vote in Which fruit/ }).click();
    await page.waitForURL(`${base}/vote/${pollId}`);
    const tokenRequests: string[] = [];
    page.on('request', (r) => { if (r.url().endsWith('/tokens')) tokenRequests.push(r.postData() ?? ''); });
    await page.getByRole('button', { name: 'Get my token' }).click();
    await page.getByTestId('token-ready').waitFor();
    const stored = await page.evaluate((key) => localStorage.getItem(key), `bv:vote:${username}:${pollId}`);
    assert.ok(stored !== null && JSON.parse(stored).blinding.inv.length > 0, 'the blinding state is kept in localStorage');
    assert.equal(tokenRequests.length, 1);
    assert.equal(JSON.parse(tokenRequests[0]!).blinded_msg, JSON.parse(stored).blinding.blindedMsg, 'the stored blinded message is the one sent');

    await page.getByLabel(votes[i] === 'pears' ? 'Pears' : 'Apples').check();
    let firstReply: { leaf_index: number; leaf_hash: string } | null = null;
    let acceptance = '';
    if (i === 0) {
      // A distributed ballot box whose sequencer is late answers 202 with a signed acceptance
      // (the ballot is durable, the receipt comes later); the client checks and keeps it and
      // resubmits the identical ballot until the board decided. Here the ballot reaches the
      // board, the 202 replaces the receipt, and the resubmission MUST get the original receipt.
      await page.route('**/v1/ballots/acceptance-key', (route) => route.fulfill({ contentType: 'text/plain', body: `${signer.verifierKey}\n` }));
      await page.route('**/v1/ballots', async (route) => {
        const response = await route.fetch();
        firstReply = await response.json();
        const leaf = fromBase64(firstReply!.leaf_hash, 'leaf_hash', 32);
        acceptance = new Acceptance({ poll_id: pollId, leaf_hash: leaf, accepted_at: formatTime(new Date()), max_merge_delay: 5 }).sign(signer);
        await route.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ acceptance, max_merge_delay: 5 }) });
      }, { times: 1 });
    }
    if (i === 1) {
      // The connection drops after the ballot reached the ballot box: the response never arrives.
      await page.route('**/v1/ballots', async (route) => {
        const response = await route.fetch();
        firstReply = await response.json();
        await route.abort('connectionreset');
      }, { times: 1 });
    }
    const ballotRequests: { cookie: string | undefined; auth: string | undefined }[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/ballots')) ballotRequests.push({ cookie: r.headers()['cookie'], auth: r.headers()['authorization'] });
    });
    await page.getByRole('button', { name: 'Cast my ballot' }).click();
    if (i === 1) {
      await page.getByRole('alert').getByText(/connection dropped/).waitFor();
      assert.ok(firstReply !== null, 'the ballot reached the server before the drop');
      await axe(page, 'vote: connection dropped');
      await page.getByRole('button', { name: 'Retry' }).click();
    }
    await page.getByTestId('receipt-verdict').getByText(/^Verified in your browser/).waitFor({ timeout: 15_000 });
    lastVoteAt = Date.now();
    const leafIndex = Number(await page.getByTestId('leaf-index').innerText());
    // Voter 0 met a 202 and resubmitted by itself; voter 1 pressed Retry after the drop.
    assert.equal(leafIndex, firstReply!.leaf_index, 'the resubmission returns the receipt of the ballot first sent');
    assert.equal(await page.getByTestId('leaf-hash').innerText(), firstReply!.leaf_hash);
    assert.equal(ballotRequests.length, 2);
    for (const r of ballotRequests) {
      assert.equal(r.cookie, undefined, 'ballots carry no cookie');
      assert.equal(r.auth, undefined, 'ballots carry no Authorization header');
    }
    assert.equal(await page.evaluate((key) => localStorage.getItem(key), `bv:vote:${username}:${pollId}`), null, 'the blinding state is deleted once the receipt verified');
    const kept = JSON.parse((await page.evaluate(() => localStorage.getItem('bv:receipts')))!);
    assert.equal(kept.length, 1);
    assert.equal(kept[0].receipt.leaf_index, leafIndex);
    if (i === 0) {
      await page.getByTestId('acceptance').getByText(/^The ballot box first answered with a signed acceptance, kept with your receipt: signed at .+ under the key this ballot box serves/).waitFor();
      assert.deepEqual([kept[0].acceptance.ok, kept[0].acceptance.note, kept[0].acceptance.key], [true, acceptance, signer.verifierKey], 'the checked acceptance is kept beside the receipt, with the key it was checked under');
    } else assert.equal(kept[0].acceptance, undefined);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download receipt (JSON)' }).click();
    assert.equal(JSON.parse(readFileSync(await (await download).path(), 'utf8')).leaf_index, leafIndex);
    if (i === 0) {
      await axe(page, 'vote: receipt');
      await shoot(page, 'receipt');
    }
  }

  // 3. The chart shows both ballots within one second of the last vote.
  await chart.waitForFunction(
    () => ['apples', 'pears', 'plums'].map((id) => document.querySelector(`[data-testid="count-${id}"]`)?.textContent).join() === '1,1,0',
    undefined,
    { timeout: Math.max(1, 1000 - (Date.now() - lastVoteAt)), polling: 50 },
  );
  assert.equal(await chart.getByTestId('tree-size').innerText(), '3');
  await axe(chart, 'live results');
  await shoot(chart, 'results-live');
  await admin.reload();
  await admin.getByTestId('stats').getByText('2 of 2 voters').waitFor();

  // 4. Close: the final tally shows as verified in the browser.
  await admin.getByRole('button', { name: 'Close now' }).click();
  await admin.getByTestId('poll-state').getByText('Closed').waitFor();
  await chart.getByTestId('tally-verdict').getByText(/^Verified in your browser: the tally is entry 4/).waitFor({ timeout: 15_000 });
  await axe(chart, 'final tally');
  await shoot(chart, 'results-final');

  // 5. A voter re-checks the kept receipt against the newest checkpoint (a consistency proof from
  // the receipt's tree of 2 to the closed board's); another browser holds no receipts.
  const voter = voterPages[0]!;
  await voter.getByRole('link', { name: 'All my receipts' }).click();
  await voter.waitForURL(`${base}/receipts`);
  await voter.getByRole('button', { name: /^Re-check against the newest checkpoint/ }).click();
  await voter.getByTestId('recheck').getByText(/^Still on the board: the newest checkpoint \(5 entries\)/).waitFor();
  await axe(voter, 'receipts');
  await shoot(voter, 'receipts');
  const stranger = await (await context()).newPage();
  await signIn(stranger, base, voters[0]!, password);
  await stranger.goto(`${base}/receipts`);
  await stranger.getByText('No receipts yet.').waitFor();

  assert.deepEqual(external, [], 'no request leaves localhost');
});
