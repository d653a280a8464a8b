/** The web client's static routes: index.html for client routes only, immutable assets, a 503 that says how to build. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { webClient } from './web.ts';

test('webClient: client routes get index.html, assets are immutable, API paths keep their 404', async (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'blindvote-web-dist-'));
  t.after(() => rmSync(dist, { recursive: true, force: true }));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(dist, 'assets', 'index-abc.js'), 'export {}');
  const app = Fastify();
  await app.register(webClient, { dist });
  for (const url of ['/', '/vote/p-1', '/results/p-1', '/admin/polls/p-1', '/receipts']) {
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 200, url);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.body, '<!doctype html><title>x</title>');
  }
  const js = await app.inject({ method: 'GET', url: '/assets/index-abc.js' });
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(String(js.headers['cache-control']), /immutable/);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/polls' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/assets/other.js' })).statusCode, 404);
  await app.close();

  const empty = Fastify();
  await empty.register(webClient, { dist: join(dist, 'missing') });
  const res = await empty.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /npm run build -w web/);
  await empty.close();
});
