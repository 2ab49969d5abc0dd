// `npm run bench:web`: the page's training speed against Node's, in one run on this machine and
// the same backend: `npm run train:overfit -- --backend B` (a child process, as a user runs it),
// then the page (`npm run web`'s server, Debian's chromium headless) training the same 60 steps
// with `?preset=overfit&backend=B&autostart=1`. Prints each run's tokens/s (the `done:` line:
// the whole run, saves included) and the median of its steps' tokens/s, and the ratios
// Node / page. Timings are ratios within one run because this machine is shared.
//   npm run bench:web -- [--backend cpu|js|webgpu] [--steps N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { servePage } from '../src/train/web/server.node.ts';
import { browserOrWhy, launch, trainOnPage } from '../test/helpers/chromium.ts';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'cpu' }, steps: { type: 'string', default: '60' } } });
const backend = values.backend!;
const steps = Number(values.steps);
const scratch = mkdtempSync(join(tmpdir(), 'tsgrad-bench-web-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const doneRate = (line: string) => Number(/, (\d+) tokens\/s,/.exec(line)?.[1]);

try {
  // Node: npm run train:overfit, its metrics.jsonl for the steps' rates
  const out = join(scratch, 'node');
  const node = spawnSync('npm', ['run', '--silent', 'train:overfit', '--', '--backend', backend, '--steps', String(steps), '--out', out, '--no-progress', '--log-every', String(steps)], { encoding: 'utf8' });
  if (node.status !== 0) throw new Error(`npm run train:overfit failed:\n${node.stdout}${node.stderr}`);
  const nodeDone = node.stdout.split('\n').find((l) => l.startsWith('done: '))!;
  const nodeSteps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'tokens_per_s' in r).map((r) => r.tokens_per_s as number);

  // the page
  const browser = await browserOrWhy();
  if ('why' in browser) throw new Error(browser.why);
  const server = await servePage({ port: 0 });
  const context = await launch(browser.playwright, join(scratch, 'profile'), { webgpu: backend === 'webgpu' });
  let page: Awaited<ReturnType<typeof trainOnPage>>;
  try {
    page = await trainOnPage(context.pages()[0] ?? (await context.newPage()), server.url, { preset: 'overfit', steps, backend });
  } finally {
    await context.close();
    await server.close();
  }
  if (!page.end.startsWith('done: ') || page.run.doneLine === null) throw new Error(`the page ended in ${page.end}`);

  const rows = [
    ['npm run train:overfit', doneRate(nodeDone), median(nodeSteps)],
    [`the page (${page.run.detail})`, doneRate(page.run.doneLine), median(page.run.stepRates)],
  ] as const;
  console.log(`overfit, ${steps} steps, backend ${backend}`);
  for (const [name, whole, step] of rows) console.log(`${name.padEnd(48)} ${String(whole).padStart(6)} tokens/s (whole run)  ${step.toFixed(0).padStart(6)} tokens/s (median step)`);
  console.log(`Node / page: ${(rows[0][1] / rows[1][1]).toFixed(2)}× (whole run), ${(rows[0][2] / rows[1][2]).toFixed(2)}× (median step)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
