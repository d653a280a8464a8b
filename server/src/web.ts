/**
 * The web client (web/, built into web/dist by `npm run build -w web`) at `/`: its files from
 * memory, read once at start-up, and index.html for every client route (SPA fallback) — only
 * those, so the API prefixes keep their own 404s. Hashed assets are immutable. Without a build,
 * `/` says how to make one instead of failing silently. Hidden from the OpenAPI document: not API.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Client routes (web/src/router.ts CLIENT_ROUTES), answered with index.html. */
const CLIENT_ROUTES = ['/', '/signin', '/receipts', '/admin', '/vote/:id', '/results/:id', '/admin/polls/:id'];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

const NOT_BUILT = 'The web client is not built. Run "npm run build -w web" (npm start does it for you), then reload.\n';

/** The built files, or null when there is no complete build (a build may be under way). */
function readBuild(dist: string): { index: Buffer; assets: Map<string, Buffer> } | null {
  try {
    const index = readFileSync(join(dist, 'index.html'));
    const dir = join(dist, 'assets');
    const assets = new Map((existsSync(dir) ? readdirSync(dir) : []).map((name) => [name, readFileSync(join(dir, name))] as const));
    return { index, assets };
  } catch {
    return null;
  }
}

export async function webClient(app: FastifyInstance, options: { dist?: string }): Promise<void> {
  const built = readBuild(options.dist ?? WEB_DIST);
  const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  for (const url of CLIENT_ROUTES) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (built === null) return reply.code(503).type('text/plain; charset=utf-8').send(NOT_BUILT);
      return reply.headers({ ...headers, 'cache-control': 'no-cache' }).type(TYPES['.html']!).send(built.index);
    });
  }
  for (const [name, body] of built?.assets ?? []) {
    const type = TYPES[extname(name)] ?? 'application/octet-stream';
    app.get(`/assets/${name}`, { schema: { hide: true } }, async (_request, reply) =>
      reply.headers({ ...headers, 'cache-control': 'public, max-age=31536000, immutable' }).type(type).send(body));
  }
}
