// The library's backend choice: `await ready()` makes the fastest backend available current,
// as the commands' `auto` does, and says nothing unless given a log; it chooses once.
// Run in a child process: choosing starts worker threads and may load Dawn, and its stderr is
// what is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `script` (an ES module; './src/' means this checkout's src/) in a fresh Node. */
function child(script: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-ready-'));
  try {
    const file = join(dir, 'child.mts');
    writeFileSync(file, script.replaceAll("'./src/", `'${join(process.cwd(), 'src')}/`));
    return spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 300_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('ready() makes a backend faster than the reference current, quietly, and the same one each time', () => {
  const r = child(`
    import { ready, getBackend, tensor } from './src/index.node.ts';
    const before = getBackend().name;
    const b = await ready();
    const again = await ready();
    console.log(JSON.stringify({ before, name: b.name, current: getBackend() === b, same: again === b, on: tensor([1]).backend === b }));
    process.exit(0);`);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(got.before, 'js');
  assert.notEqual(got.name, 'js', 'ready() left the reference backend current');
  assert.deepEqual({ current: got.current, same: got.same, on: got.on }, { current: true, same: true, on: true });
  assert.doesNotMatch(r.stderr, /tsgrad/, 'ready() printed without being asked');
});

test('ready({ log }) says which backend it chose and why', () => {
  const r = child(`
    import { ready } from './src/index.node.ts';
    const lines = [];
    const b = await ready({ log: (line) => lines.push(line) });
    console.log(JSON.stringify({ name: b.name, lines }));
    process.exit(0);`);
  assert.equal(r.status, 0, r.stderr);
  const { name, lines } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(lines.length, 1);
  assert.ok(lines[0].startsWith(`tsgrad: backend auto → ${name}`), lines[0]);
  assert.doesNotMatch(r.stderr, /tsgrad/);
});

test('ready() works in `node --input-type=module -e` too (the cpu backend starts its CommonJS workers)', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import { ready } from 'tsgrad'; console.log((await ready()).name); process.exit(0);"], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(r.stdout.trim(), 'js');
});

test("without the Node backends registered (the browser entry), ready() is the reference 'js'", () => {
  const r = child(`
    import { ready } from './src/index.ts';
    console.log((await ready()).name);`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'js');
});
