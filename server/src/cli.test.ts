import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './cli.ts';
import { VARIABLES } from './config.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

test('every command has --help, and serve --help lists every variable', async () => {
  assert.match((await run('--help')).out, /blindvote serve/);
  const serve = await run('serve', '--help');
  assert.equal(serve.code, 0);
  for (const v of VARIABLES) assert.match(serve.out, new RegExp(v.name));
  const simulate = await run('simulate', '--help');
  assert.equal(simulate.code, 0);
  assert.match(simulate.out, /--voters N/);
});

test('usage errors exit 2 with a message that says what to fix', async () => {
  const unknown = await run('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "frobnicate"/);
  const target = await run('serve', '--target', 'tallier');
  assert.equal(target.code, 2);
  assert.match(target.err, /--target/);
  const flag = await run('serve', '--nope');
  assert.equal(flag.code, 2);
  const voters = await run('simulate', '--voters', 'many', '--admin-password', 'x');
  assert.equal(voters.code, 2);
  assert.match(voters.err, /--voters: expected a positive integer/);
  const bad = await run('serve', '--port', 'eighty');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /BLINDVOTE_PORT/);
});
