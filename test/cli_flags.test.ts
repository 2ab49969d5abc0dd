// Every command's command line comes from its flag table (src/train/cli/commands.ts): --help
// exits 0 and lists each flag with its meaning and default; --config FILE.json sets a whole
// run (flags win, unknown keys rejected); --n-layer/--d-model/--n-heads/--ctx shape a fresh
// model; every bad flag is one line on stderr and exit 2; the README shows the help as printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../src/train/cli/commands.ts';
import { allFlags, type Flag } from '../src/train/cli/flags.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { ConfigError } from '../src/train/errors.ts';
import { buildModel } from '../src/train/loop.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { useBackend } from '../src/train/cli/backend.ts';

const SCRIPTS: Record<string, string> = {
  train: 'src/train/cli/train.ts',
  'train:tinystories': 'src/train/cli/tinystories.ts',
  generate: 'src/train/cli/generate.ts',
  eval: 'src/train/cli/eval.ts',
  pretokenize: 'src/train/cli/pretokenize.ts',
  web: 'src/train/cli/web.ts',
  'web:build': 'src/train/cli/web_build.ts',
};
const tmp = () => mkdtempSync(join(tmpdir(), 'tsgrad-flags-'));

function run(command: string, args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPTS[command], ...args], { encoding: 'utf8', env: { ...process.env, TSGRAD_BACKEND: 'js' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const squash = (s: string) => s.replace(/\s+/g, ' ');

/** The help line of one flag: `--name ARG  meaning [… default: X]` (or `required`). */
function helpLine(f: Flag, value: string): RegExp {
  const left = `--${f.name}${f.arg ? ' ' + f.arg : ''}`;
  return new RegExp(`${escape(left)} ${escape(squash(f.help))} \\[(allowed: [^;]+; )?${value}\\]`);
}

test('the commands together are the seven a user runs', () => {
  assert.deepEqual(Object.keys(COMMANDS).sort(), Object.keys(SCRIPTS).sort());
});

for (const [name, cmd] of Object.entries(COMMANDS)) {
  test(`npm run ${name} -- --help: exit 0, every flag with its meaning and default`, () => {
    const r = run(name, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const text = squash(r.stdout);
    assert.match(text, new RegExp(`^usage: npm run ${escape(name)} -- `));
    for (const f of allFlags(cmd)) {
      if (f.name === 'help') assert.match(text, /--help, -h print this help/);
      else assert.match(text, helpLine(f, f.required ? 'required' : 'default: [^\\]]+'), `--${f.name} in ${name} --help`);
    }
  });
}

test('train --help shows the chosen preset\'s defaults; train:tinystories lists --source and --max-examples', () => {
  const overfit = squash(run('train', ['--help']).stdout);
  assert.match(overfit, /--steps N optimizer steps in the whole run \(with --max-minutes: at most N\) \[allowed: integer ≥ 1; default: 60\]/);
  assert.match(overfit, /--n-layer N .*default: 2 \(--model overfit\)\]/);
  const gpt2 = squash(run('train', ['--preset', 'gpt2', '--help']).stdout);
  assert.match(gpt2, /--steps N [^\]]*default: 200\]/);
  assert.match(gpt2, /--n-layer N [^\]]*default: 12 \(--model gpt2\)\]/);
  const tiny = squash(run('train:tinystories', ['-h']).stdout);
  assert.match(tiny, /--steps N [^\]]*default: 2000\]/);
  const tinyTimed = squash(run('train:tinystories', ['--max-minutes', '10', '-h']).stdout);
  assert.match(tinyTimed, /--d-model N [^\]]*default: 192\]/, "the defaults of the preset's tier for 10 minutes");
  assert.match(tinyTimed, /--ctx T [^\]]*default: 64\]/);
  assert.match(tiny, /--source hub\|DIR stories from roneneldan\/TinyStories/);
  assert.match(tiny, /--max-examples N pretokenize only the first N training stories \[allowed: integer ≥ 1; default: all\]/);
});

test("the README's excerpt of train --help is what it prints", () => {
  const readme = readFileSync('README.md', 'utf8');
  const excerpt = /`npm run train -- --help` begins:\n\n```\n([\s\S]*?)```/.exec(readme);
  assert.ok(excerpt, 'README shows the start of npm run train -- --help');
  assert.ok(run('train', ['--help']).stdout.startsWith(excerpt[1]), 'the README excerpt is out of date');
});

test('every command: a bad flag is one line on stderr and exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['eval', ['--bogus'], /^eval: Unknown option '--bogus'/],
    ['eval', ['--model', 'm', '--data', 'd'], /^eval: --ctx T is required/],
    ['generate', ['--model', 'm', '--top-p', '0'], /^generate: --top-p: expected a number in \(0, 1\], got '0'/],
    ['pretokenize', ['--split', 'test', '--out', 'x'], /^pretokenize: --split: expected train or validation, got 'test'/],
    ['train', ['--dropout', '1'], /^train: --dropout: expected a number in \[0, 1\), got '1'/],
    ['train:tinystories', ['--max-examples', '0'], /^train:tinystories: --max-examples: expected an integer ≥ 1, got '0'/],
  ];
  for (const [command, args, message] of cases) {
    const r = run(command, args);
    assert.equal(r.code, 2, `${command} ${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
  }
});

test('--config FILE.json: flag names or TrainConfig keys, flags on the command line win', () => {
  const dir = tmp();
  const file = join(dir, 'run.json');
  writeFileSync(file, JSON.stringify({ steps: 7, 'batch-size': 2, lrSchedule: 'cosine', 'no-shuffle': true, seedLog: false, 'n-layer': 3, samplePrompt: 'Once' }));
  const cfg = parseTrainArgs(['--config', file, '--steps', '9']);
  assert.equal(cfg.steps, 9);
  assert.equal(cfg.batchSize, 2);
  assert.equal(cfg.lrSchedule, 'cosine');
  assert.equal(cfg.shuffle, false);
  assert.equal(cfg.seedLog, false); // on in the overfit preset, turned off by its key
  assert.equal(cfg.nLayer, 3);
  assert.equal(cfg.samplePrompt, 'Once');
  assert.equal(parseTrainArgs(['--config', file, '--preset', 'tinystories']).warmup, 100, 'the rest comes from the preset');
  writeFileSync(file, JSON.stringify({ shuffle: true }));
  assert.equal(parseTrainArgs(['--config', file, '--no-shuffle']).shuffle, false);
});

test('--config rejects unknown keys, bad values, bad JSON and a missing file, naming the file', () => {
  const dir = tmp();
  const cases: [string, RegExp][] = [
    ['{"steps": 5, "stpes": 6}', /run\.json: unknown key 'stpes'; keys are train's flag names or their config keys/],
    ['{"steps": "many"}', /run\.json: 'steps': expected an integer ≥ 1, got 'many'/],
    ['{"no-shuffle": "yes"}', /run\.json: 'no-shuffle': expected true or false/],
    ['{"lr-schedule": "linear"}', /'lr-schedule': expected constant or cosine/],
    ['[1, 2]', /run\.json: expected a JSON object of flags/],
    ['{"steps": 5,}', /run\.json: not valid JSON/],
  ];
  for (const [json, message] of cases) {
    const file = join(dir, 'run.json');
    writeFileSync(file, json);
    assert.throws(() => parseTrainArgs(['--config', file]), (e: Error) => e instanceof ConfigError && message.test(e.message), json);
  }
  assert.throws(() => parseTrainArgs(['--config', join(dir, 'none.json')]), /none\.json: no such file/);
  // through the CLI: one line, exit 2
  writeFileSync(join(dir, 'bad.json'), '{"stpes": 6}');
  const r = run('train', ['--config', join(dir, 'bad.json')]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('--n-layer --d-model --n-heads --ctx build a fresh model of that shape', async () => {
  const model = await buildModel(parseTrainArgs(['--n-layer', '3', '--d-model', '48', '--n-heads', '6', '--ctx', '80']));
  assert.deepEqual(
    { n_layers: model.cfg.n_layers, d_model: model.cfg.d_model, n_heads: model.cfg.n_heads, n_ctx: model.cfg.n_ctx, d_mlp: model.cfg.d_mlp },
    { n_layers: 3, d_model: 48, n_heads: 6, n_ctx: 80, d_mlp: 192 },
  );
  assert.equal(model.h.length, 3);
  assert.deepEqual(model.wpe.weight.shape, [80, 48]);
  assert.deepEqual([...model.h[0].mlp.c_fc.weight.shape].sort((a, b) => a - b), [48, 192]);
  // a window shorter than the preset's n_ctx (overfit: 64) leaves the position table alone
  const short = await buildModel(parseTrainArgs(['--ctx', '16']));
  assert.equal(short.cfg.n_ctx, 64);
  assert.equal(short.cfg.n_layers, 2);
});

test('model-size flags are rejected with --init, with a d-model that heads do not divide, and on a --resume of another shape', async () => {
  assert.throws(() => parseTrainArgs(['--init', 'gpt2', '--n-layer', '3']), /--n-layer shapes a fresh model, but --init gpt2 brings its own shape/);
  assert.throws(() => parseTrainArgs(['--d-model', '50', '--n-heads', '4']), /--d-model 50 is not a multiple of --n-heads 4/);
  const out = tmp();
  await useBackend('js');
  const flags = (steps: string, dModel: string) => ['--out', out, '--steps', steps, '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'js', '--n-layer', '1', '--d-model', dModel, '--n-heads', '2'];
  await trainOnDisk(parseTrainArgs(flags('1', '16')), { log: () => {} });
  const r = run('train', [...flags('2', '32'), '--resume']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /different settings \(dModel 16 → 32\)/);
});
