/**
 * The component boundaries of DESIGN.md, enforced on the source: a workspace imports only the
 * packages its package.json declares (so a forbidden import cannot slip in through hoisting),
 * never another workspace's files by path, and `crypto/` stays pure (Node built-ins only in the
 * two files made for Node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';

const WORKSPACES: readonly string[] = JSON.parse(readFileSync('package.json', 'utf8')).workspaces;
/** Which workspace may depend on which (DESIGN.md "Components and boundaries"). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  crypto: [],
  'bulletin-board': ['crypto'],
  issuer: ['crypto'],
  'ballot-box': ['crypto'],
  tallier: ['crypto'],
  verifier: ['crypto'],
  web: ['crypto'],
  // The composition root (`blindvote serve`): wires every component, so it may import them all.
  server: ['crypto', 'bulletin-board', 'issuer', 'ballot-box', 'tallier', 'verifier'],
};
const NODE_ONLY_CRYPTO = new Set(['crypto/src/platform/node.ts', 'crypto/src/blindsign-node.ts', 'crypto/src/testing.ts']);

/** Static imports and re-exports, side-effect imports, import(), require() and getBuiltinModule(). */
const importsOf = (file: string): string[] => {
  // Comments do not import (a naive strip: good enough for our own sources).
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [
    /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\b(?:import|require|getBuiltinModule)\(\s*(?<!\\)['"]([^'"\\]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!));
};
const packageOf = (specifier: string): string =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;

for (const workspace of WORKSPACES) {
  const manifest = JSON.parse(readFileSync(`${workspace}/package.json`, 'utf8'));
  const declared = new Set(Object.keys(manifest.dependencies ?? {}));
  const declaredForTests = new Set([...declared, ...Object.keys(manifest.devDependencies ?? {})]);
  const sources = globSync(`${workspace}/src/**/*.ts`).filter((f) => !f.endsWith('.test.ts'));

  test(`${workspace}: imports only what its package.json declares and DESIGN.md allows`, () => {
    assert.ok(sources.length > 0);
    for (const file of sources) {
      const specifiers = importsOf(file);
      // Test support (shared suites, anything under src/testing/) may use the workspace's devDependencies.
      const allowed = specifiers.includes('node:test') || file.includes('/src/testing/') ? declaredForTests : declared;
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || specifier.startsWith('#')) {
          assert.ok(!specifier.startsWith('../../'), `${file}: reaches into another workspace by path: ${specifier}`);
          continue;
        }
        if (specifier.startsWith('node:') || builtinModules.includes(specifier)) {
          if (workspace === 'crypto') assert.ok(NODE_ONLY_CRYPTO.has(file), `${file}: crypto/ is pure, yet imports ${specifier}`);
          continue;
        }
        const name = packageOf(specifier);
        assert.ok(allowed.has(name), `${file}: imports ${name}, which ${workspace}/package.json does not declare`);
        if (name.startsWith('@blindvote/')) {
          const target = name.slice('@blindvote/'.length);
          assert.ok(MAY_IMPORT[workspace]?.includes(target), `${file}: ${workspace} must not import ${target}`);
        }
      }
    }
  });
}
