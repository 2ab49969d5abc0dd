// `npx tsx bench/sweep.ts --configs FILE.json --data DIR --minutes M [--preset NAME]
//   [--append FILE.md --heading TEXT] [--keep DIR] [--dry-run]`:
// short budgeted tsgrad trainings, one per config, each through the training CLI
// (`npm run train -- --preset NAME --data DIR --max-minutes M --out … --overwrite --no-progress
// …the config's flags`), and a Markdown table: config → validation loss at the budget, train
// loss, steps, tokens, tokens/s. The table goes to stdout, or under `## TEXT` at the end of
// FILE.md (bench/RESULTS.md); each run's log and progress lines go to stderr.
//
// FILE.json: an array of configs, or { "base": {flags}, "runs": [configs] } (base's flags go
// into every run, a run's own win). A config is an object of `npm run train` flags by name
// without the dashes: { "name": "small", "n-layer": 2, "d-model": 64, "lr": 0.004 } — true is
// a bare switch, false leaves it out, "name" only labels the row. Flags the CLI does not know
// are passed on all the same: such a run fails and its row says why.
// Results are read from the run's own records: the last val_loss of metrics.jsonl, its step
// records, and the batch shape in checkpoint/state.json (tokens = steps · B · T · grad-accum).
// Promise: a run that fails or writes no validation loss gets a row that says so, and the
// sweep then exits 1; a bad FILE.json stops the sweep before any run, naming the file.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/train/cli/run_cli.ts';
import { ConfigError } from '../src/train/errors.ts';
import { parseCommand, type Command } from '../src/train/cli/flags.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SWEEP_COMMAND: Command = {
  name: 'bench:sweep',
  synopsis: '--configs FILE.json --data DIR --minutes M [flags]',
  summary: 'Runs one budgeted `npm run train` per config and prints a Markdown table: config → validation loss at the budget, steps, tokens, tokens/s.',
  flags: [
    { name: 'configs', group: 'sweep', type: 'string', arg: 'FILE.json', required: true, help: 'the configs: an array of flag objects, or { "base": {…}, "runs": [{…}] }' },
    { name: 'data', group: 'sweep', type: 'string', arg: 'DIR', required: true, help: 'directory with train.bin and val.bin (npm run pretokenize)' },
    { name: 'minutes', group: 'sweep', type: 'number', arg: 'M', above: 0, required: true, help: "each run's --max-minutes" },
    { name: 'preset', group: 'sweep', type: 'string', arg: 'NAME', default: 'tinystories', help: "the runs' --preset (a config's own \"preset\" wins)" },
    { name: 'append', group: 'output', type: 'string', arg: 'FILE.md', help: 'append the table under a heading to this file instead of printing it' },
    { name: 'heading', group: 'output', type: 'string', arg: 'TEXT', help: "the table's heading with --append", defaultText: "'Sweep: --max-minutes M'" },
    { name: 'keep', group: 'output', type: 'string', arg: 'DIR', help: "keep every run's --out and log under DIR", defaultText: 'a temporary directory, removed' },
    { name: 'dry-run', group: 'output', type: 'switch', help: 'print the commands, run nothing' },
  ],
};

/** Flags the sweep sets itself; a config may not. */
const SWEEP_SETS = ['data', 'max-minutes', 'out', 'overwrite', 'resume', 'no-progress', 'config', 'help'];

type Flags = Record<string, string | number | boolean>;

interface Run {
  label: string;
  /** The run's own flags (the table shows these) … */
  own: Flags;
  /** … and with base's: what it runs. */
  flags: Flags;
}

interface Outcome {
  valLoss: number | null;
  trainLoss: number | null;
  steps: number;
  tokens: number | null;
  tokensPerS: number | null;
  wallS: number;
  error: string | null;
}

/** FILE.json's runs, each checked: flag names, plain values, no flag the sweep sets. */
function readRuns(path: string): { base: Flags; runs: Run[] } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`--configs ${path}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? `not valid JSON (${e.message})` : e.message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const shape = Array.isArray(json) ? { base: {}, runs: json } : isObject(json) && Array.isArray(json.runs) ? { base: json.base ?? {}, runs: json.runs } : null;
  if (shape === null) throw new ConfigError(`--configs ${path}: expected an array of configs or { "base": {…}, "runs": [ … ] }`);
  if (!isObject(shape.base)) throw new ConfigError(`--configs ${path}: "base" must be an object of flags`);
  if (shape.runs.length === 0) throw new ConfigError(`--configs ${path}: no runs`);
  const check = (cfg: unknown, where: string): Flags => {
    if (!isObject(cfg)) throw new ConfigError(`--configs ${path}: ${where} is not an object of flags`);
    for (const [k, v] of Object.entries(cfg)) {
      if (!/^[a-z][a-z0-9-]*$/.test(k)) throw new ConfigError(`--configs ${path}: ${where}: '${k}' is not a flag name (lower case, without the dashes)`);
      if (SWEEP_SETS.includes(k)) throw new ConfigError(`--configs ${path}: ${where}: --${k} is set by the sweep`);
      if (!['string', 'number', 'boolean'].includes(typeof v)) throw new ConfigError(`--configs ${path}: ${where}: '${k}' must be a string, number or boolean, got ${JSON.stringify(v)}`);
    }
    return cfg as Flags;
  };
  const { name: _, ...base } = check(shape.base, 'base');
  const runs = shape.runs.map((r, i) => {
    const { name, ...own } = check(r, `run ${i + 1}`);
    return { label: typeof name === 'string' ? name : `run ${i + 1}`, own, flags: { ...base, ...own } };
  });
  return { base, runs };
}

/** A config's flags as command-line arguments: `--k v`, a bare `--k` for true, nothing for false. */
function toArgv(flags: Flags): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : v === false ? [] : [`--${k}`, String(v)]));
}

/** Mean of xs (null when empty). */
const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** What a finished run left in `out`: metrics.jsonl's step and eval records, checkpoint/state.json's batch shape. */
function readOutcome(out: string): Omit<Outcome, 'wallS' | 'error'> {
  const metricsPath = join(out, 'metrics.jsonl');
  if (!existsSync(metricsPath)) throw new Error(`${metricsPath}: not written`);
  const records: Record<string, number>[] = [];
  for (const [i, line] of readFileSync(metricsPath, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as Record<string, number>);
    } catch {
      throw new Error(`${metricsPath}: line ${i + 1} is not JSON`);
    }
  }
  const steps = records.filter((r) => 'loss' in r);
  const evals = records.filter((r) => 'val_loss' in r);
  // the first step also warms the kernels up: speed is the median of the others
  const speeds = steps.slice(steps.length > 1 ? 1 : 0).map((r) => r.tokens_per_s);
  const lastTenth = steps.slice(-Math.max(1, Math.round(steps.length / 10))).map((r) => r.loss);
  let tokens: number | null = null;
  const statePath = join(out, 'checkpoint', 'state.json');
  if (existsSync(statePath)) {
    let cfg: Record<string, unknown>;
    try {
      cfg = (JSON.parse(readFileSync(statePath, 'utf8')) as { config?: Record<string, unknown> }).config ?? {};
    } catch {
      throw new Error(`${statePath}: not valid JSON`);
    }
    const [B, T, accum] = [cfg.batchSize, cfg.ctx, cfg.gradAccum ?? 1];
    if ([B, T, accum].every((n) => typeof n === 'number')) tokens = steps.length * (B as number) * (T as number) * (accum as number);
  }
  return { valLoss: evals.length > 0 ? evals[evals.length - 1].val_loss : null, trainLoss: mean(lastTenth), steps: steps.length, tokens, tokensPerS: median(speeds) };
}

/** Runs `npm run train -- args`, its output to stderr and to `logPath`; resolves to its exit code and last stderr line. */
function train(args: string[], logPath: string): Promise<{ code: number; lastError: string }> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '--silent', 'train', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let lastError = '';
    const log = (chunk: Buffer, isErr: boolean) => {
      appendFileSync(logPath, chunk);
      process.stderr.write(chunk);
      if (isErr) lastError = chunk.toString().trim().split('\n').filter(Boolean).pop() ?? lastError;
    };
    child.stdout.on('data', (c: Buffer) => log(c, false));
    child.stderr.on('data', (c: Buffer) => log(c, true));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code: code ?? 1, lastError: lastError || (signal ? `killed by ${signal}` : '') }));
  });
}

async function runOne(run: Run, i: number, opts: { data: string; minutes: number; preset: string; scratch: string; keep: boolean }): Promise<Outcome> {
  const out = join(opts.scratch, `run${i + 1}`);
  const logPath = join(opts.scratch, `run${i + 1}.log`);
  const args = ['--preset', opts.preset, '--data', opts.data, '--max-minutes', String(opts.minutes), '--out', out, '--overwrite', '--no-progress', ...toArgv(run.flags)];
  process.stderr.write(`\n[sweep ${i + 1}] npm run train -- ${args.join(' ')}\n`);
  const start = performance.now();
  const { code, lastError } = await train(args, logPath);
  const wallS = (performance.now() - start) / 1000;
  const failed = (error: string): Outcome => ({ valLoss: null, trainLoss: null, steps: 0, tokens: null, tokensPerS: null, wallS, error });
  let outcome: Outcome;
  if (code !== 0) {
    outcome = failed(`exit ${code}: ${lastError}`);
  } else {
    try {
      const o = readOutcome(out);
      outcome = { ...o, wallS, error: o.valLoss === null ? 'no validation loss in metrics.jsonl (--eval-every 0?)' : null };
    } catch (err) {
      outcome = failed((err as Error).message);
    }
  }
  if (!opts.keep) rmSync(out, { recursive: true, force: true });
  return outcome;
}

/** The Markdown table: one row per run. */
function table(runs: Run[], outcomes: Outcome[]): string {
  const fmt = (x: number | null, digits: number) => (x === null ? 'n/a' : x.toFixed(digits));
  const cell = (s: string) => s.replaceAll('|', '\\|');
  const rows = runs.map((r, i) => {
    const o = outcomes[i];
    const flags = toArgv(r.own).join(' ') || '(base)';
    const val = o.error === null ? fmt(o.valLoss, 4) : `failed: ${o.error}`;
    return `| ${cell(r.label)} | \`${cell(flags)}\` | ${cell(val)} | ${fmt(o.trainLoss, 4)} | ${o.steps} | ${o.tokens === null ? 'n/a' : o.tokens.toLocaleString('en-US')} | ${fmt(o.tokensPerS, 0)} | ${o.wallS.toFixed(0)} |`;
  });
  return ['| run | flags | val loss | train loss (last 10% of steps) | steps | tokens | tokens/s (median step) | wall s |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

runCli('bench:sweep', async () => {
  const v = parseCommand(SWEEP_COMMAND, process.argv.slice(2)) as { configs: string; data: string; minutes: number; preset: string; append?: string; heading?: string; keep?: string; 'dry-run'?: boolean };
  const { base, runs } = readRuns(v.configs);
  if (!existsSync(join(v.data, 'train.bin'))) throw new ConfigError(`--data ${v.data}: no train.bin there (make one with npm run pretokenize)`);
  const data = resolve(v.data);
  if (v['dry-run']) {
    for (const r of runs) console.log(`npm run train -- --preset ${String(r.flags.preset ?? v.preset)} --data ${data} --max-minutes ${v.minutes} --out … --overwrite --no-progress ${toArgv(r.flags).join(' ')}`);
    return;
  }
  if (v.keep !== undefined) mkdirSync(v.keep, { recursive: true });
  const scratch = v.keep !== undefined ? resolve(v.keep) : mkdtempSync(join(tmpdir(), 'tsgrad-sweep-'));
  const outcomes: Outcome[] = [];
  try {
    for (const [i, r] of runs.entries()) {
      const { preset, ...flags } = r.flags;
      outcomes.push(await runOne({ ...r, flags }, i, { data, minutes: v.minutes, preset: String(preset ?? v.preset), scratch, keep: v.keep !== undefined }));
    }
  } finally {
    if (v.keep === undefined) rmSync(scratch, { recursive: true, force: true });
  }
  const baseArgs = toArgv(base).join(' ');
  const about =
    `\`--preset ${v.preset} --data ${v.data} --max-minutes ${v.minutes}${baseArgs ? ' ' + baseArgs : ''}\` and each run's flags below; ` +
    `${cpus()[0].model} (${cpus().length} cores), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
  const md = `${about}\n\n${table(runs, outcomes)}`;
  if (v.append === undefined) {
    console.log(md);
  } else {
    appendFileSync(v.append, `\n## ${v.heading ?? `Sweep: --max-minutes ${v.minutes}`}\n\n${md}\n`);
    process.stderr.write(`\nappended the table to ${v.append}\n`);
  }
  if (outcomes.some((o) => o.error !== null)) throw new Error(`${outcomes.filter((o) => o.error !== null).length} of ${runs.length} runs failed (see the table)`);
});
