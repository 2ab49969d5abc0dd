// Keeps the docs honest. Every docs/snippets/NN-name.ts runs (node --import tsx) and must exit 0
// with exactly the output pasted in docs/tour.md under `<!-- output: docs/snippets/NN-name.ts -->`;
// every relative link in docs/*.md must name an existing file; a `#Lstart-Lend` range must lie
// inside it, agree with the line numbers its text quotes, and contain the identifier the link
// names (in its text, or the code span right before it). So a change to the code that moves
// what the tour points at fails here, not in a reader's hands.
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
function runSnippet(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: { ...process.env, TSGRAD_BACKEND: 'js' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
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
      const { code, stdout, stderr } = await runs.get(f)!;
      assert.equal(code, 0, `${f} exited ${code}\n${stderr}`);
      const want = expected.get(`docs/snippets/${f}`);
      assert.ok(want !== undefined, `no output block for ${f} in tour.md`);
      assert.equal(normalise(stdout), normalise(want), `${f}: output differs from docs/tour.md (paste the new output there if the change is intended)`);
    });
  }

});

/** A relative link: its text, where it points, its line, and its paragraph's text before it. */
interface Link {
  text: string;
  target: string;
  line: number;
  before: string;
}

/** Relative links [text](path#anchor) in a markdown file, outside fenced code blocks and code spans. */
function relativeLinks(md: string): Link[] {
  const out: Link[] = [];
  let inFence = false;
  let paragraph = ''; // the lines of the current paragraph before this one
  md.split('\n').forEach((text, i) => {
    if (/^\s*```/.test(text)) inFence = !inFence;
    if (inFence || text.trim() === '') {
      paragraph = '';
      return;
    }
    const spans = [...text.matchAll(/`[^`]*`/g)].map((m) => [m.index, m.index + m[0].length]);
    for (const m of text.matchAll(/\[((?:`[^`]*`|[^\]`])*)\]\(([^)\s]+)\)/g)) {
      if (spans.some(([a, b]) => m.index > a && m.index < b)) continue; // inside a code span
      if (/^[a-z]+:/i.test(m[2])) continue; // https:, mailto:
      out.push({ text: m[1], target: m[2], line: i + 1, before: paragraph + text.slice(0, m.index) });
    }
    paragraph += text + ' ';
  });
  return out;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\(\))?$/;

/**
 * What a line-range link shows: the identifiers in code spans in its text (`[`scalarize`, lines
 * 41–51](…)`), or else the code span right before it in its paragraph (`` `Linear` ([lines
 * 31–47](…)) ``, `` `matmul` in [matmul.ts, lines 10–53](…) ``). For `A.b` the name looked for is `b`.
 */
function namedIdentifiers(link: Link): string[] {
  const inText = [...link.text.matchAll(/`([^`]*)`/g)].map((m) => m[1]).filter((c) => IDENTIFIER.test(c));
  const right = /`([^`]*)`,?(?:\s+\w+)?\s*\(?\s*$/.exec(link.before);
  const names = inText.length > 0 ? inText : right && IDENTIFIER.test(right[1]) ? [right[1]] : [];
  return names.map((n) => n.replace(/\(\)$/, '').split('.').pop()!);
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
    test(`${md}: every link names an existing file, and a line range the code it names`, () => {
      const links = relativeLinks(readFileSync(join(docsDir, md), 'utf8'));
      assert.ok(links.length > 0, `${md} has no relative links`);
      const problems: string[] = [];
      for (const link of links) {
        const { target, line } = link;
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
        const lines = readFileSync(abs, 'utf8').replace(/\n$/, '').split('\n');
        if (!(start >= 1 && start <= end && end <= lines.length)) {
          problems.push(`${where}: lines ${start}-${end} are not inside ${relative(root, abs)} (${lines.length} lines)`);
          continue;
        }
        // the numbers the text quotes ("lines 10–53", "line 48", "[147–169]") are the anchor's
        const quoted = /(?:\blines?\s+|^)(\d+)(?:\s*[–-]\s*(\d+))?/.exec(link.text.replace(/`[^`]*`/g, ''));
        if (quoted && (Number(quoted[1]) !== start || Number(quoted[2] ?? quoted[1]) !== end)) {
          problems.push(`${where}: the text says ${quoted[0].trim()}, the link goes to lines ${start}-${end}`);
        }
        // and the code the link names is inside the range, so a range that drifts off it fails
        const names = namedIdentifiers(link);
        if (names.length === 0) {
          problems.push(`${where}: name what lines ${start}-${end} show, as \`identifier\` in the link text or right before it`);
          continue;
        }
        const shown = lines.slice(start - 1, end).join('\n');
        for (const name of names) {
          if (!new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(shown)) {
            problems.push(`${where}: \`${name}\` is not in ${relative(root, abs)} lines ${start}-${end}`);
          }
        }
      }
      assert.deepEqual(problems, []);
    });
  }
});
