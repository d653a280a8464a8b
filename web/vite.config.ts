/**
 * Vite builds the client into `dist/` (served by `blindvote serve` at `/`, or by any static host).
 * JSX goes through Vite's built-in oxc transform with Preact's automatic runtime. `@blindvote/crypto`
 * is imported from source: its `#platform` import has no "node" condition in a browser build, so it
 * resolves to `platform/browser.ts` (noble and WebCrypto).
 * `BLINDVOTE_API` (dev only): where `vite` proxies the API (default http://127.0.0.1:8080).
 */
import { defineConfig } from 'vite';

const api = process.env['BLINDVOTE_API'] ?? 'http://127.0.0.1:8080';
const proxied = ['/v1', '/poll', '/openapi.json'];

export default defineConfig({
  root: import.meta.dirname,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
  server: { proxy: Object.fromEntries(proxied.map((p) => [p, { target: api, ws: true }])) },
});
