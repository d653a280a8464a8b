/**
 * Every route of the all-in-one service is described: parameters, body and responses (success
 * and errors), in the OpenAPI document served at /openapi.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildService } from './app.ts';
import { loadConfig } from './config.ts';

test('the OpenAPI document covers every route with parameters, bodies and responses', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'blindvote-openapi-'));
  const service = await buildService(loadConfig({ BLINDVOTE_DATA_DIR: dataDir, BLINDVOTE_LOG_LEVEL: 'silent' }));
  t.after(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const response = await service.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  const doc = response.json() as { paths: Record<string, Record<string, any>> };

  const described = new Set<string>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${path}`;
      described.add(where);
      assert.ok(op.summary, `${where}: summary`);
      const codes = Object.keys(op.responses ?? {});
      assert.ok(codes.some((c) => c.startsWith('2') || c.startsWith('1')), `${where}: a success response schema (has ${codes})`);
      assert.ok(codes.some((c) => c.startsWith('4')), `${where}: error response schemas (has ${codes})`);
      for (const name of path.matchAll(/\{(\w+)\}/g)) {
        assert.ok(op.parameters?.some((p: { in: string; name: string }) => p.in === 'path' && p.name === name[1]), `${where}: path parameter ${name[1]} described`);
      }
      if (['post', 'put', 'patch'].includes(method) && !/\/(publish|close)$/.test(path)) assert.ok(op.requestBody, `${where}: request body schema`);
      // The issuer's rate-limited routes also answer 503 when the limits' store does not (they fail
      // closed); the ballot box's 429 is the sequencer's backpressure, with no store behind it.
      if (codes.includes('429') && where !== 'POST /v1/ballots') assert.ok(codes.includes('503'), `${where}: 503 (rate-limit store unavailable) described (has ${codes})`);
    }
  }
  // Each component's routes are in it.
  for (const route of ['POST /v1/accounts', 'POST /v1/sessions', 'POST /v1/polls', 'POST /v1/polls/{pollId}/tokens', 'POST /v1/ballots', 'GET /poll/{pollId}/checkpoint', 'GET /v1/results/{pollId}']) {
    assert.ok([...described].some((d) => d.replace(/\{\w+\}/g, '{pollId}') === route), `${route} is described (have: ${[...described].join(', ')})`);
  }
});

test('health endpoints answer', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'blindvote-health-'));
  const service = await buildService(loadConfig({ BLINDVOTE_DATA_DIR: dataDir, BLINDVOTE_LOG_LEVEL: 'silent' }));
  t.after(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  for (const url of ['/healthz', '/readyz']) assert.equal((await service.app.inject({ url })).statusCode, 200);
});
