/**
 * The ballot box's baseline: bare fastify answering a JSON POST with a small JSON body, no work.
 * Run as a child process (`node bench/bare-server.ts`); prints `listening <url>` once it listens.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/v1/ballots', {
  schema: {
    body: { type: 'object' },
    response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
  },
}, async () => ({ ok: true }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${address}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
