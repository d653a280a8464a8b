/**
 * README snippets are code: every ```ts block in a component README runs, from inside that
 * component (so its imports resolve as a user's would), and must exit 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const { NODE_TEST_CONTEXT: _, ...env } = process.env;

for (const readme of globSync('*/README.md').filter((f) => !f.startsWith('node_modules'))) {
  const blocks = [...readFileSync(readme, 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  blocks.forEach((code, i) => {
    test(`${readme}: snippet ${i + 1} runs`, () => {
      const file = join(dirname(readme), `.readme-snippet-${i + 1}.ts`);
      writeFileSync(file, code);
      try {
        const run = spawnSync(process.execPath, [file], { encoding: 'utf8', env, timeout: 60_000 });
        assert.equal(run.status, 0, `${readme} snippet ${i + 1} failed:\n${run.stderr}`);
      } finally {
        rmSync(file, { force: true });
      }
    });
  });
}
