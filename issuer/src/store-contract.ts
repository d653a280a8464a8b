/**
 * The one contract every IssuerStore implementation passes. `store/sqlite.test.ts` runs it; a
 * PostgreSQL store runs it too: `issuerStoreContract('postgres', () => open a fresh database)`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IssuerStore, PollDraft } from './store.ts';

/** A fresh, empty store for each test. */
export type OpenStore = () => Promise<IssuerStore>;

/** A single-choice draft open 2026-03-01 08:00–18:00 (shared with the backends' own tests). */
export const draft: PollDraft = {
  title: 'Budget',
  description: 'Pick one.',
  kind: 'single',
  options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }],
  max_choices: 1,
  opens_at: '2026-03-01T08:00:00Z',
  closes_at: '2026-03-01T18:00:00Z',
  results: 'live',
};
/** SHA-256 of `text`: a stand-in for the hash of a blinded message. */
export const hash = (text: string) => new Uint8Array(createHash('sha256').update(text).digest());
const key = { pkcs8: Uint8Array.of(1, 2, 3), spki: Uint8Array.of(4, 5, 6) };
const manifest = Uint8Array.of(7, 8, 9);
const roll = (ids: string[]) => ({ accountIds: ids, salt: new Uint8Array(randomBytes(32)), commitment: hash(ids.join('\n')) });

/** A published poll `p1` whose roll is `voters`. */
async function published(store: IssuerStore, voters: string[], pollDraft: PollDraft = draft): Promise<void> {
  assert.equal(await store.createPoll('p1', pollDraft, new Date()), true);
  assert.equal(await store.replaceRoll('p1', roll(voters)), true);
  assert.equal(await store.beginPublish('p1', (await store.poll('p1'))!.revision, key, manifest), true);
  assert.equal(await store.markPublished('p1'), true);
}

export function issuerStoreContract(name: string, open: OpenStore): void {
  const withStore = (title: string, body: (store: IssuerStore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const store = await open();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });

  withStore('meta: the first value stored under a key stays', async (store) => {
    const first = Uint8Array.of(1, 2);
    assert.deepEqual(await store.metaIfAbsent('k', first), first);
    assert.deepEqual(await store.metaIfAbsent('k', Uint8Array.of(3)), first);
    const racing = await Promise.all([Uint8Array.of(4), Uint8Array.of(5)].map((v) => store.metaIfAbsent('k2', v)));
    assert.deepEqual(racing[0], racing[1]);
  });

  withStore('accounts: created once; a password change bumps the session version', async (store) => {
    const createdAt = new Date('2026-01-02T03:04:05.678Z');
    assert.equal(await store.createAccount({ username: 'bob', passwordHash: 'h1', admin: false, createdAt }), true);
    assert.equal(await store.createAccount({ username: 'bob', passwordHash: 'h2', admin: true, createdAt }), false);
    assert.equal(await store.createAccount({ username: 'alice', passwordHash: 'h3', admin: true, createdAt }), true);
    assert.deepEqual(await store.account('bob'), { username: 'bob', passwordHash: 'h1', admin: false, sessionVersion: 0, createdAt });
    assert.equal((await store.account('alice'))?.admin, true);
    assert.equal(await store.account('carol'), null);
    assert.equal(await store.setPassword('bob', 'h4'), true);
    assert.equal(await store.setPassword('carol', 'h5'), false);
    const bob = await store.account('bob');
    assert.deepEqual([bob?.passwordHash, bob?.sessionVersion], ['h4', 1]);
    assert.deepEqual(await store.accountIds(), ['alice', 'bob']);
  });

  withStore('polls: drafts change and take a roll until publishing begins; the revision counts changes', async (store) => {
    const createdAt = new Date('2026-01-02T03:04:05Z');
    assert.equal(await store.createPoll('p1', draft, createdAt), true);
    assert.equal(await store.createPoll('p1', { ...draft, title: 'Other' }, createdAt), false);
    let poll = (await store.poll('p1'))!;
    assert.deepEqual(
      { ...poll, revision: 0 },
      { pollId: 'p1', draft, state: 'draft', createdAt, roll: null, manifest: null, frozen: null, revision: 0 },
    );
    const changed = { ...draft, title: 'Budget 2026', closes_at: '2026-03-02T18:00:00Z' };
    assert.equal(await store.updateDraft('p1', changed), true);
    assert.equal(await store.updateDraft('nope', changed), false);
    const r = roll(['bob', 'alice']);
    assert.equal(await store.replaceRoll('p1', r), true);
    assert.equal(await store.replaceRoll('nope', r), false);
    poll = (await store.poll('p1'))!;
    assert.deepEqual(poll.draft, changed);
    assert.deepEqual(poll.roll, { size: 2, commitment: r.commitment });
    assert.ok(poll.revision >= 2);
    assert.equal(await store.onRoll('p1', 'alice'), true);
    assert.equal(await store.onRoll('p1', 'carol'), false);

    assert.equal(await store.replaceRoll('p1', roll(['carol'])), true);
    assert.equal(await store.onRoll('p1', 'alice'), false, 'a roll is replaced, not merged');
    assert.equal(await store.onRoll('p1', 'carol'), true);

    assert.equal(await store.beginPublish('p1', poll.revision, key, manifest), false, 'the roll changed since that revision');
    poll = (await store.poll('p1'))!;
    assert.equal(await store.beginPublish('p1', poll.revision, key, manifest), true);
    assert.equal(await store.beginPublish('p1', poll.revision, key, Uint8Array.of(0)), false);
    poll = (await store.poll('p1'))!;
    assert.deepEqual([poll.state, poll.manifest], ['draft', manifest]);
    assert.deepEqual(await store.tokenKey('p1'), key.pkcs8);
    assert.equal(await store.updateDraft('p1', draft), false);
    assert.equal(await store.replaceRoll('p1', roll(['dave'])), false);
    assert.equal(await store.deleteDraft('p1'), false);
    assert.equal(await store.onRoll('p1', 'carol'), true);

    assert.equal(await store.markPublished('p1'), true);
    assert.equal(await store.markPublished('p1'), false);
    assert.equal((await store.poll('p1'))?.state, 'published');
    assert.deepEqual((await store.polls()).map((p) => p.pollId), ['p1']);
  });

  withStore('polls: deleting a draft deletes its roll; a new poll of that id starts empty', async (store) => {
    assert.equal(await store.createPoll('p1', draft, new Date()), true);
    assert.equal(await store.replaceRoll('p1', roll(['bob'])), true);
    assert.equal(await store.markPublished('p1'), false, 'no manifest yet');
    assert.equal(await store.tokenKey('p1'), null);
    assert.equal(await store.deleteDraft('p1'), true);
    assert.equal(await store.deleteDraft('p1'), false);
    assert.equal(await store.poll('p1'), null);
    assert.equal(await store.createPoll('p1', draft, new Date()), true);
    assert.equal(await store.onRoll('p1', 'bob'), false);
    assert.equal((await store.poll('p1'))?.roll, null);
  });

  withStore('issuance: only on the roll of a published, unfrozen poll; one row per voter, the first hash wins', async (store) => {
    assert.equal(await store.createPoll('p1', draft, new Date()), true);
    assert.equal(await store.replaceRoll('p1', roll(['alice', 'bob'])), true);
    assert.deepEqual(await store.issue('p1', 'alice', hash('m1')), { status: 'not_open' }, 'a draft issues nothing');
    assert.equal(await store.beginPublish('p1', (await store.poll('p1'))!.revision, key, manifest), true);
    assert.deepEqual(await store.issue('p1', 'alice', hash('m1')), { status: 'not_open' }, 'nor does a poll being published');
    assert.equal(await store.markPublished('p1'), true);
    assert.deepEqual(await store.issue('nope', 'alice', hash('m1')), { status: 'not_open' });

    assert.deepEqual(await store.issue('p1', 'carol', hash('m1')), { status: 'not_on_roll' });
    assert.deepEqual(await store.issue('p1', 'alice', hash('m1')), { status: 'recorded', blindedHash: hash('m1') });
    assert.deepEqual(await store.issue('p1', 'alice', hash('m1')), { status: 'recorded', blindedHash: hash('m1') });
    assert.deepEqual(await store.issue('p1', 'alice', hash('m2')), { status: 'recorded', blindedHash: hash('m1') });
    assert.deepEqual(await store.issuance('p1', 'alice'), hash('m1'));
    assert.equal(await store.issuance('p1', 'bob'), null);
    assert.equal(await store.issuedCount('p1'), 1);
  });

  withStore('issuance: concurrent requests of one voter leave exactly one row', async (store) => {
    await published(store, ['alice']);
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => store.issue('p1', 'alice', hash(`m${i % 3}`))));
    const hashes = new Set(outcomes.map((o) => (o.status === 'recorded' ? Buffer.from(o.blindedHash).toString('hex') : o.status)));
    assert.equal(hashes.size, 1);
    assert.equal(await store.issuedCount('p1'), 1);
  });

  withStore('freeze: counts every issuance before it, records none after, and is idempotent', async (store) => {
    const voters = Array.from({ length: 50 }, (_, i) => `voter-${i}`);
    await published(store, voters);
    assert.equal(await store.freeze('nope', '2026-03-01T12:00:00Z'), null);
    // Issuance and the freeze race: the count MUST equal the rows recorded.
    const [outcomes, frozen] = await Promise.all([
      Promise.all(voters.map((v) => store.issue('p1', v, hash(v)))),
      store.freeze('p1', '2026-03-01T12:00:00Z'),
    ]);
    const recorded = outcomes.filter((o) => o.status === 'recorded').length;
    assert.deepEqual(frozen, { closedAt: '2026-03-01T12:00:00Z', issued: recorded });
    assert.equal(await store.issuedCount('p1'), recorded);
    assert.deepEqual(await store.issue('p1', 'voter-0', hash('late')), { status: 'not_open' });
    assert.deepEqual(await store.freeze('p1', '2026-03-01T13:00:00Z'), frozen, 'a second freeze changes nothing');
    const poll = (await store.poll('p1'))!;
    assert.deepEqual([poll.state, poll.frozen], ['published', frozen]);

    assert.equal(await store.markClosed('p1'), true);
    assert.equal(await store.markClosed('p1'), false);
    const closed = (await store.poll('p1'))!;
    assert.deepEqual([closed.state, closed.frozen], ['closed', frozen]);
    assert.equal(await store.freeze('p1', '2026-03-01T14:00:00Z'), null, 'a closed poll is not frozen again');
  });

  withStore('pollsToClose: published polls past closes_at, or frozen; never drafts or closed polls', async (store) => {
    await published(store, ['alice']);
    assert.equal(await store.markClosed('p1'), false, 'not frozen');
    assert.equal(await store.createPoll('draft', draft, new Date()), true);
    assert.deepEqual(await store.pollsToClose(new Date('2026-03-01T17:59:59Z')), []);
    assert.deepEqual(await store.pollsToClose(new Date('2026-03-01T18:00:00Z')), ['p1']);
    assert.deepEqual(await store.pollsToClose(new Date('2027-01-01T00:00:00Z')), ['p1']);
    assert.ok(await store.freeze('p1', '2026-03-01T12:00:00Z'));
    assert.deepEqual(await store.pollsToClose(new Date('2026-03-01T12:00:00Z')), ['p1'], 'frozen before closes_at');
    assert.equal(await store.markClosed('p1'), true);
    assert.deepEqual(await store.pollsToClose(new Date('2027-01-01T00:00:00Z')), []);
  });
}
