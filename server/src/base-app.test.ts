import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseApp } from './base-app.ts';
import { loadConfig } from './config.ts';

test('/readyz answers 503 naming every dependency that does not answer, 200 once all do; /healthz stays 200', async () => {
  const { app, ready } = await baseApp(loadConfig({ BLINDVOTE_LOG_LEVEL: 'silent' }), 'test');
  let redisUp = false;
  ready('redis', async () => {
    if (!redisUp) throw new Error('connect ECONNREFUSED');
  });
  ready('board database', async () => new Promise(() => {})); // hangs: bounded by the check timeout
  ready('kafka topics', async () => {});
  try {
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(down.statusCode, 503);
    assert.deepEqual(down.json(), { ok: false, failed: ['board database: no answer within 2000 ms', 'redis: connect ECONNREFUSED'] });
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    redisUp = true;
    ready('board database', async () => {});
    assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json(), { ok: true });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /blindvote_http_request_duration_seconds_bucket\{[^}]*route="\/readyz"/);
  } finally {
    await app.close();
  }
});
