// `npm run bench:tinystories -- --minutes M [--source DIR] [--out DIR] [--threads N] [--no-torch]`:
// the budgeted TinyStories training that users run, then the same budget in PyTorch on the same
// model, data and schedule, and both validation losses and samples side by side. A benchmark,
// not a test: its numbers depend on the machine and on what else runs on it.
//
// tsgrad: `npm run train:tinystories -- --source DIR --max-minutes M` (the preset and its tier
// for M minutes: src/train/config.ts), then `npm run eval` of its final/ over the whole of
// val.bin and a greedy `npm run generate` from "Once upon a time". PyTorch (where Debian's
// python3-torch is installed): bench/torch_tinystories.py with the run's own settings (shape,
// head vocabulary, T, B, optimizer, lr, min lr, warmup steps) for M minutes of training (its evaluation is
// not counted, tsgrad's evaluations are), evaluated over the same windows, its greedy sample.
// Promise: both losses are the mean per-token loss over all 50257 ids on every window of T + 1
// tokens of val.bin, the number `npm run eval` prints.
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/train/cli/run_cli.ts';
import { parseCommand, type Command } from '../src/train/cli/flags.ts';
import { parseTrainCommand, TINYSTORIES_COMMAND } from '../src/train/cli/commands.ts';
import { freshModelConfig } from '../src/train/config.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-torch installs
const PROMPT = 'Once upon a time';

const COMMAND: Command = {
  name: 'bench:tinystories',
  synopsis: '--minutes M [flags]',
  summary: 'Budgeted TinyStories training in tsgrad and, where python3-torch is installed, in PyTorch on the same model, data and schedule: both validation losses and samples.',
  flags: [
    { name: 'minutes', group: 'bench', type: 'number', arg: 'M', above: 0, required: true, help: 'the training budget of each (tsgrad: --max-minutes, its evaluations included)' },
    { name: 'source', group: 'bench', type: 'string', arg: 'DIR', default: '../shared/data/tinystories', help: 'TinyStories text: DIR/train.txt and DIR/valid.txt' },
    { name: 'out', group: 'bench', type: 'string', arg: 'DIR', default: 'out/bench-tinystories', help: "tsgrad's run directory (replaced)" },
    { name: 'threads', group: 'bench', type: 'int', arg: 'N', min: 1, defaultText: 'every core', help: "PyTorch's threads" },
    { name: 'no-torch', group: 'bench', type: 'switch', help: 'run tsgrad only' },
  ],
};

/** Runs a command from the repository root; its output goes to this process's (stderr for tsgrad's logs), its stdout is returned. */
function run(cmd: string, args: string[], echo: boolean): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (echo) process.stderr.write(chunk);
    });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

const tsx = (script: string, args: string[], echo = true) => run(process.execPath, ['--import', 'tsx', script, ...args], echo);

runCli('bench:tinystories', async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  const minutes = values.minutes as number;
  const out = values.out as string;
  const { cfg } = parseTrainCommand(TINYSTORIES_COMMAND, ['--max-minutes', String(minutes)], { preset: 'tinystories' });
  const shape = freshModelConfig(cfg); // the model the run builds: its tier's shape
  const data = join(ROOT, cfg.data!);

  await tsx('src/train/cli/tinystories.ts', ['--source', values.source as string, '--max-minutes', String(minutes), '--out', out, '--overwrite', '--no-progress']);
  const evalJson = await tsx('src/train/cli/eval.ts', ['--model', join(out, 'final'), '--data', join(data, 'val.bin'), '--ctx', String(cfg.ctx), '--batch-size', '16', '--json'], false);
  const tsgradLoss = (JSON.parse(evalJson) as { loss: number }).loss;
  const tsgradSample = await tsx('src/train/cli/generate.ts', ['--model', join(out, 'final'), '--prompt', PROMPT, '--greedy', '--max-new-tokens', '80', '--stop-at-eot'], false);

  let torch: { loss: number; sample: string; tokS: number } | string = 'skipped (--no-torch)';
  if (!values['no-torch']) {
    const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    if (!hasTorch) torch = `skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)`;
    else {
      const args = [
        'bench/torch_tinystories.py', '--data', data, '--minutes', String(minutes), '--threads', String(values.threads ?? cpus().length),
        '--n-layer', String(shape.n_layers), '--d-model', String(shape.d_model), '--n-head', String(shape.n_heads),
        '--ctx', String(cfg.ctx), '--batch', String(cfg.batchSize), '--lr', String(cfg.lr), '--min-lr', String(cfg.minLr),
        '--warmup-steps', String(cfg.warmup), '--head-vocab', cfg.headVocab, '--weight-decay', String(cfg.weightDecay),
        '--beta2', String(cfg.beta2), '--grad-clip', String(cfg.gradClip), '--seed', String(cfg.seed), '--prompt', PROMPT,
        '--optimizer', cfg.optimizer, '--muon-lr', String(cfg.muonLr),
      ];
      const log = await run(PYTHON, args, true);
      const result = JSON.parse(log.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as { val_loss: number; tok_s: number };
      const sample = log.split('\n').find((l) => l.startsWith('sample: '))!.slice(8);
      torch = { loss: result.val_loss, sample: JSON.parse(sample) as string, tokS: result.tok_s };
    }
  }

  console.log(`\nTinyStories, ${minutes} min, ${shape.n_layers}×${shape.d_model} (${shape.n_heads} heads), T=${cfg.ctx}, B=${cfg.batchSize}, head ${cfg.headVocab}, ${cfg.optimizer}${cfg.optimizer === 'muon' ? ` (lr ${cfg.muonLr})` : ''}, lr ${cfg.lr} → ${cfg.minLr}, warmup ${cfg.warmup}`);
  console.log(`tsgrad  val loss ${tsgradLoss.toFixed(4)}  sample: ${JSON.stringify(tsgradSample.trim())}`);
  if (typeof torch === 'string') console.log(`PyTorch ${torch}`);
  else console.log(`PyTorch val loss ${torch.loss.toFixed(4)} (${torch.tokS} tok/s)  sample: ${JSON.stringify(torch.sample)}`);
});
