import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, VARIABLES } from './config.ts';

test('defaults give a working all-in-one configuration', () => {
  const config = loadConfig({});
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 8080);
  assert.equal(config.publicUrl, 'http://127.0.0.1:8080');
  assert.equal(config.tokenKeyBits, 2048);
  assert.equal(config.rateLimits, true);
  assert.equal(config.idp, null);
});

test('every bad variable is named, with what it should be', () => {
  assert.throws(
    () => loadConfig({ BLINDVOTE_PORT: 'eighty', BLINDVOTE_TOKEN_KEY_BITS: '1024', BLINDVOTE_PUBLIC_URL: 'ftp://x', BLINDVOTE_RATE_LIMITS: 'maybe', BLINDVOTE_IDP_JWKS_URL: 'https://id.example/jwks' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      for (const name of ['BLINDVOTE_PORT', 'BLINDVOTE_TOKEN_KEY_BITS', 'BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_RATE_LIMITS', 'BLINDVOTE_IDP_ISSUER', 'BLINDVOTE_IDP_AUDIENCE']) {
        assert.match(err.message, new RegExp(name));
      }
      return true;
    },
  );
});

test('the public URL loses its trailing slash; the identity provider needs issuer and audience', () => {
  const config = loadConfig({ BLINDVOTE_PUBLIC_URL: 'https://vote.example.org/', BLINDVOTE_IDP_JWKS_URL: 'https://id.example/jwks', BLINDVOTE_IDP_ISSUER: 'https://id.example', BLINDVOTE_IDP_AUDIENCE: 'blindvote' });
  assert.equal(config.publicUrl, 'https://vote.example.org');
  assert.deepEqual(config.idp, { jwksUrl: 'https://id.example/jwks', issuer: 'https://id.example', audience: 'blindvote', idClaim: 'sub' });
});

test('.env.example documents exactly the variables the code reads', () => {
  const names = [...readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').matchAll(/^#? ?(BLINDVOTE_[A-Z_]+)=/gm)].map((m) => m[1]);
  assert.deepEqual(names, VARIABLES.map((v) => v.name));
});

test('a distributed target names every variable it needs and every malformed one', () => {
  assert.throws(() => loadConfig({}, 'issuer'), (err: Error) => {
    for (const name of ['BLINDVOTE_PUBLIC_URL', 'BLINDVOTE_ISSUER_DATABASE_URL', 'BLINDVOTE_KAFKA_BROKERS', 'BLINDVOTE_REDIS_URL', 'BLINDVOTE_BOARD_KEY']) {
      assert.match(err.message, new RegExp(`${name}: required by --target issuer`));
    }
    assert.doesNotMatch(err.message, /BOARD_DATABASE_URL/, 'the issuer never needs the board database');
    return true;
  });
  assert.throws(
    () => loadConfig({ BLINDVOTE_PUBLIC_URL: 'http://vote.test', BLINDVOTE_BOARD_DATABASE_URL: 'mysql://x', BLINDVOTE_KAFKA_BROKERS: 'kafka', BLINDVOTE_REDIS_URL: 'redis://r:6379', BLINDVOTE_BOARD_SIGNER_KEY: 'vote.test+1234abcd+AAAA' }, 'sequencer'),
    (err: Error) => /BLINDVOTE_BOARD_DATABASE_URL: expected postgres:/.test(err.message) && /BLINDVOTE_KAFKA_BROKERS: expected host:port, got "kafka"/.test(err.message) && /BLINDVOTE_BOARD_SIGNER_KEY: expected a C2SP signer key/.test(err.message),
  );
  const ok = loadConfig({ BLINDVOTE_PUBLIC_URL: 'http://vote.test', BLINDVOTE_BOARD_DATABASE_URL: 'postgres://board@db/board' }, 'board-reader');
  assert.equal(ok.target, 'board-reader');
  assert.equal(ok.distributed.boardDatabaseUrl, 'postgres://board@db/board');
  assert.equal(loadConfig({}).target, 'all', 'the all-in-one mode needs none of them');
});

test('database URLs with passwords are not echoed in configuration errors', () => {
  assert.throws(() => loadConfig({ BLINDVOTE_PUBLIC_URL: 'http://vote.test', BLINDVOTE_BOARD_DATABASE_URL: 'mysql://board:s3cret@db/board' }, 'board-reader'), (err: Error) => !err.message.includes('s3cret'));
});
