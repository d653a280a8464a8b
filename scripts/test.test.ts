import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// A nested run must not report into this one: drop the runner's own context variable.
const { NODE_TEST_CONTEXT: _, ...env } = process.env;
const run = (file: string) => spawnSync(process.execPath, ['scripts/test.ts', file], { encoding: 'utf8', env });

test('the test command fails a run in which a test was skipped', () => {
  const result = run('scripts/fixtures/skipped.fixture.ts');
  assert.equal(result.status, 1);
  assert.match(result.stderr, /1 skipped and 0 todo tests; every test is required/);
});

test('the test command passes a run in which every test ran and passed', () => {
  assert.equal(run('scripts/fixtures/passing.fixture.ts').status, 0);
});
