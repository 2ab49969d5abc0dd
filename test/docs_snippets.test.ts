// Keeps the docs honest. Every docs/snippets/NN-name.ts runs (node --import tsx) and must exit 0
// with exactly the output pasted in docs/tour.md under `<!-- output: docs/snippets/NN-name.ts -->`;
// every relative link in docs/*.md must name an existing file, and a `#Lstart-Lend` range must
// lie inside it. So a change to the code that breaks the tour fails here, not in a reader's hands.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const docsDir = join(root, 'docs');
const snippetsDir = join(docsDir, 'snippets');
const tour = readFileSync(join(docsDir, 'tour.md'), 'utf8');

/** The snippets: docs/snippets/NN-name.ts (helpers such as show.ts are not snippets). */
const snippets = readdirSync(snippetsDir)
  .filter((f) => /^\d\d-[\w-]+\.ts$/.test(f))
  .sort();

/** Output blocks in tour.md: `<!-- output: PATH -->` then a ```text fence. */
function expectedOutputs(md: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<!-- output: (\S+) -->\s*\n```text\n([\s\S]*?)```/g;
  for (const m of md.matchAll(re)) {
    assert.ok(!out.has(m[1]), `tour.md has two output blocks for ${m[1]}`);
    out.set(m[1], m[2]);
  }
  return out;
}

/** Runs a snippet with the same Node and tsx as this test; resolves to its exit code and output. */
function runSnippet(file: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, TSGRAD_BACKEND: 'js' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Line endings and trailing spaces do not count; everything else must match exactly. */
const normalise = (s: string) =>
  s
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();

describe('docs/tour.md snippets', () => {
  const expected = expectedOutputs(tour);

  test('there are snippets, and each has exactly one output block in tour.md (and no block names a missing snippet)', () => {
    assert.ok(snippets.length >= 10, `only ${snippets.length} snippets`);
    for (const f of snippets) assert.ok(expected.has(`docs/snippets/${f}`), `tour.md has no <!-- output: docs/snippets/${f} --> block`);
    for (const p of expected.keys()) assert.ok(existsSync(join(root, p)), `tour.md shows output for ${p}, which does not exist`);
  });

  // Two at a time (the machine has two cores): snippet i waits for snippet i − 2.
  const runs = new Map<string, ReturnType<typeof runSnippet>>();
  const lanes: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  snippets.forEach((f, i) => {
    const lane = i % lanes.length;
    const run = lanes[lane].then(() => runSnippet(join('docs', 'snippets', f)));
    lanes[lane] = run.catch(() => undefined);
    runs.set(f, run);
  });

  for (const f of snippets) {
    test(`${f} exits 0 and prints what tour.md shows`, async () => {
      const { code, stdout, stderr, ms } = await runs.get(f)!;
      assert.equal(code, 0, `${f} exited ${code}\n${stderr}`);
      const want = expected.get(`docs/snippets/${f}`);
      assert.ok(want !== undefined, `no output block for ${f} in tour.md`);
      assert.equal(normalise(stdout), normalise(want), `${f}: output differs from docs/tour.md (paste the new output there if the change is intended)`);
      assert.ok(ms < 30_000, `${f} took ${Math.round(ms)} ms; snippets should stay fast (a few seconds each)`);
    });
  }

});

/** Relative links [text](path#anchor) in a markdown file, outside fenced code blocks. */
function relativeLinks(md: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let inFence = false;
  md.split('\n').forEach((text, i) => {
    if (/^\s*```/.test(text)) inFence = !inFence;
    if (inFence) return;
    const noCode = text.replace(/`[^`]*`/g, '');
    for (const m of noCode.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(m[1])) continue; // https:, mailto:
      out.push({ target: m[1], line: i + 1 });
    }
  });
  return out;
}

/** The anchors a markdown file offers: GitHub's heading slugs and explicit <a id="…">. */
function anchorsOf(md: string): Set<string> {
  const out = new Set<string>();
  let inFence = false;
  for (const text of md.split('\n')) {
    if (/^\s*```/.test(text)) inFence = !inFence;
    if (inFence) continue;
    const h = /^#{1,6}\s+(.*)$/.exec(text);
    if (h) out.add(h[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
    for (const a of text.matchAll(/<a id="([^"]+)"/g)) out.add(a[1]);
  }
  return out;
}

describe('relative links in docs/*.md', () => {
  const mdFiles = readdirSync(docsDir).filter((f) => f.endsWith('.md'));

  test('the docs exist', () => {
    for (const f of ['tour.md', 'seed.md', 'backward.md']) assert.ok(mdFiles.includes(f), `docs/${f} is missing`);
  });

  for (const md of mdFiles) {
    test(`${md}: every link names an existing file and a line range inside it`, () => {
      const links = relativeLinks(readFileSync(join(docsDir, md), 'utf8'));
      assert.ok(links.length > 0, `${md} has no relative links`);
      const problems: string[] = [];
      for (const { target, line } of links) {
        const [path, anchor] = target.split('#');
        const abs = path === '' ? join(docsDir, md) : resolve(docsDir, decodeURIComponent(path));
        const where = `${md}:${line} → ${target}`;
        if (!abs.startsWith(root)) {
          problems.push(`${where}: points outside the repository`);
          continue;
        }
        if (!existsSync(abs)) {
          problems.push(`${where}: ${relative(root, abs)} does not exist`);
          continue;
        }
        if (anchor !== undefined && abs.endsWith('.md')) {
          if (!anchorsOf(readFileSync(abs, 'utf8')).has(anchor)) problems.push(`${where}: ${relative(root, abs)} has no heading or <a id> for #${anchor}`);
          continue;
        }
        if (anchor === undefined) continue;
        const range = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
        if (range === null) {
          problems.push(`${where}: anchor #${anchor} is not #Lstart or #Lstart-Lend`);
          continue;
        }
        if (!statSync(abs).isFile()) {
          problems.push(`${where}: a line range on a directory`);
          continue;
        }
        const start = Number(range[1]);
        const end = Number(range[2] ?? range[1]);
        const lines = readFileSync(abs, 'utf8').replace(/\n$/, '').split('\n').length;
        if (!(start >= 1 && start <= end && end <= lines)) problems.push(`${where}: lines ${start}-${end} are not inside ${relative(root, abs)} (${lines} lines)`);
      }
      assert.deepEqual(problems, []);
    });
  }
});
