// The README's promises: its 10-line example runs as printed (importing 'tsgrad' through
// package.json "exports", the way a user's code does), and every npm script it names exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const readme = readFileSync('README.md', 'utf8');

test('the 10-line example runs and its loss falls', () => {
  const section = readme.slice(readme.indexOf('## A 10-line example'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1];
  // inside this package, 'tsgrad' resolves through package.json "exports" (self-reference)
  const dir = mkdtempSync(join(process.cwd(), '.readme-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, code + '\nconsole.log(JSON.stringify({ first: losses[0], last: losses[losses.length - 1] }));\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { first, last } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.ok(last < first / 2, `loss ${first} → ${last}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every `npm run X` in the README is a script in package.json', () => {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
  const named = [...readme.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
  assert.ok(named.length > 5);
  for (const name of named) assert.ok(name in scripts, `README names npm run ${name}, which package.json lacks`);
});
