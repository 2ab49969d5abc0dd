// The training loop in Node (trainOnDisk, the commands): the overfit loop drives the loss below 0.1, a resumed run logs
// exactly the losses of an uninterrupted one, the outputs a user reads are there, and bad input
// is one line on stderr with a non-zero exit code and nothing in --out overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { cli, evalLines, losses, tmp, tokenDir } from './helpers/train_runs.ts';
import { loadModel } from '../src/data/model_files.ts';
import { buildModel } from '../src/train/loop.ts';
import { evaluate } from '../src/train/evaluate.ts';
import type { Batch } from '../src/data/loader.ts';
import { openBatches } from '../src/train/batches.node.ts';
import { noGrad } from '../src/autograd/tensor.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { makeConfig } from '../src/gpt2/config.ts';

const quiet = { log: () => {} };

test('overfit: the seed\'s repeated sentence is memorised (loss < 0.1)', async () => {
  const out = tmp();
  const cfg = parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '80', '--ctx', '16', '--batch-size', '4', '--no-progress', '--backend', 'cpu']);
  await useBackend(cfg.backend);
  const result = await trainOnDisk(cfg, quiet);
  const l = losses(out);
  assert.equal(l.length, 80);
  assert.ok(l[0] > 10, `first loss ${l[0]} should be near ln(50257) ≈ 10.8`);
  assert.ok(result.finalLoss < 0.1, `final loss ${result.finalLoss} should be below 0.1`);
  // what the run leaves for a person
  const first = JSON.parse(readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n')[0]);
  assert.deepEqual(Object.keys(first).sort(), ['elapsed_s', 'grad_norm', 'loss', 'lr', 'step', 'tokens_per_s']);
  assert.match(readFileSync(join(out, 'loss.svg'), 'utf8'), /^<svg/);
  for (const f of ['final/config.json', 'final/model.safetensors', 'checkpoint/state.json', 'checkpoint/optimizer.safetensors']) assert.ok(existsSync(join(out, f)), f);
});

test('--grad-accum 2 at batch B takes the step of batch 2B on the same windows: same loss, gradient norm and weights', async () => {
  // SGD at lr 1 without momentum, decay or clipping: the step is w − g, so the weights after one
  // step show the gradient itself (an Adam step would hide a wrong scale: it divides it out)
  const run = async (batch: string, accum: string) => {
    const out = tmp();
    const cfg = parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '1', '--ctx', '8', '--batch-size', batch, '--grad-accum', accum, '--optimizer', 'sgd', '--lr', '1', '--momentum', '0', '--weight-decay', '0', '--grad-clip', '0', '--dropout', '0', '--no-progress', '--backend', 'cpu']);
    await useBackend(cfg.backend);
    await trainOnDisk(cfg, quiet);
    const [metrics] = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return { cfg, metrics, weights: new Map(loadModel(join(out, 'final')).namedParameters().map(([n, p]) => [n, p.data])) };
  };
  const accumulated = await run('2', '2'); // two micro-batches of 2 windows: the rng draws windows 1-2, then 3-4
  const whole = await run('4', '1'); // one batch of the same 4 windows
  assert.ok(Math.abs(accumulated.metrics.loss - whole.metrics.loss) <= 1e-6 * whole.metrics.loss, `loss ${accumulated.metrics.loss} vs ${whole.metrics.loss}`);
  assert.ok(Math.abs(accumulated.metrics.grad_norm - whole.metrics.grad_norm) <= 1e-6 * whole.metrics.grad_norm, `grad norm ${accumulated.metrics.grad_norm} vs ${whole.metrics.grad_norm}`);
  const init = new Map((await buildModel(whole.cfg)).namedParameters().map(([n, p]) => [n, p.data]));
  let moved = 0;
  for (const [name, w] of whole.weights) {
    const a = accumulated.weights.get(name)!;
    const w0 = init.get(name)!;
    for (let i = 0; i < w.length; i++) {
      // |w| ≤ ~1, float32: a few ulps of rounding between summing 2 + 2 windows and 4
      assert.ok(Math.abs(a[i] - w[i]) <= 1e-6, `${name}[${i}]: ${a[i]} with --grad-accum 2, ${w[i]} with the whole batch`);
      moved = Math.max(moved, Math.abs(w[i] - w0[i]));
    }
  }
  assert.ok(moved > 1e-2, `the step moved the weights by at most ${moved}`);
});

test('evaluation of a model with dropout: the eval-mode loss, and the training mode restored after', async () => {
  const T = 8;
  const model = new GPT2Model(makeConfig({ n_layers: 2, d_model: 16, n_heads: 2, vocab_size: 50257, n_ctx: T, dropout: 0.3 }), { seed: 4 });
  const data = tokenDir(200, 5 * (T + 1)); // val.bin: 5 windows → batches of 2, 2 and 1
  const cfg = parseTrainArgs(['--preset', 'tinystories', '--data', data, '--ctx', String(T), '--batch-size', '2', '--eval-batches', '10', '--backend', 'js']);
  const source = openBatches(cfg);
  const batches = [...(source.evalBatches(cfg.batchSize, cfg.evalBatches) as Iterable<Batch>)];
  assert.deepEqual(batches.map((b) => b.x.length / T), [2, 2, 1]);
  // the mean over windows with dropout off, by hand
  model.eval();
  const want = batches.reduce((s, b) => s + noGrad(() => model.loss(b.x, [b.x.length / T, T], b.y)).item() * (b.x.length / T), 0) / 5;
  model.train();
  const withDropout = noGrad(() => model.loss(batches[0].x, [2, T], batches[0].y)).item();
  assert.notEqual(withDropout, noGrad(() => model.eval().loss(batches[0].x, [2, T], batches[0].y)).item(), 'dropout changes the training-mode loss');
  model.train();

  assert.deepEqual(await evaluate(model, batches, T), { loss: want, windows: 5 });
  assert.deepEqual(await evaluate(model, source.evalBatches(cfg.batchSize, cfg.evalBatches)!, T), { loss: want, windows: 5 }); // the loop's validation loss
  assert.ok(model.modules().every((m) => m.training), 'every module is back in training mode');
  model.eval();
  assert.equal((await evaluate(model, batches, T)).loss, want);
  assert.ok(model.modules().every((m) => !m.training), 'a model in eval mode stays there');
  source.close();
});

for (const optimizer of ['adamw', 'muon']) test(`a killed run resumes: losses equal an uninterrupted run step for step (shuffled data, dropout, cosine lr, eval; ${optimizer})`, async () => {
  const data = tokenDir(4000, 600);
  const flags = (out: string) => ['--preset', 'tinystories', '--model', 'overfit', '--data', data, '--out', out, '--steps', '10', '--ctx', '16', '--batch-size', '2', '--eval-every', '3', '--eval-batches', '2', '--save-every', '1', '--dropout', '0.1', '--warmup', '2', '--no-progress', '--backend', 'cpu', '--sample-prompt', '', '--optimizer', optimizer];
  await useBackend('cpu');
  const whole = tmp();
  await trainOnDisk(parseTrainArgs(flags(whole)), quiet);

  // the same run as a child process, killed (SIGKILL) once a checkpoint past step 3 exists
  const killed = tmp();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/train/cli/train.ts', ...flags(killed)], { stdio: 'ignore' });
  const state = join(killed, 'checkpoint', 'state.json');
  const stepOf = () => (existsSync(state) ? JSON.parse(readFileSync(state, 'utf8')).step : 0);
  while (stepOf() < 4 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(!existsSync(join(killed, 'final')), 'the child was killed before it finished');

  await trainOnDisk(parseTrainArgs([...flags(killed), '--resume']), quiet);
  assert.deepEqual(losses(killed), losses(whole));
  assert.deepEqual(evalLines(killed), evalLines(whole));
  assert.ok(existsSync(join(killed, 'best', 'model.safetensors')));
});

test('bad input: one line on stderr, exit code ≠ 0, nothing in --out overwritten, even with --overwrite', () => {
  const out = tmp();
  const sentinel = join(out, 'metrics.jsonl');
  writeFileSync(sentinel, 'keep me\n');
  const bin = tmp();
  writeFileSync(join(bin, 'train.bin'), new Uint8Array(101)); // odd length
  const noTrain = tmp();
  const cases: [string[], number, RegExp][] = [
    [['--bogus'], 2, /bogus/],
    [['--steps', 'abc'], 2, /--steps: expected an integer/],
    [['--lr-schedule', 'linear'], 2, /--lr-schedule/],
    [['--backend', 'quantum'], 2, /unknown backend 'quantum'/],
    [['--data', join(out, 'nope')], 1, /no such directory/],
    [['--data', noTrain], 1, /no train\.bin/],
    [['--data', bin, '--eval-every', '0'], 1, /odd length/],
    [['--ctx', '5000'], 1, /--ctx 5000 is longer than the overfit text/],
    [['--resume'], 1, /no checkpoint/],
  ];
  for (const [args, code, message] of cases) {
    const r = cli('src/train/cli/train.ts', ['--preset', 'overfit', '--out', out, '--steps', '2', '--overwrite', ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'));
    assert.equal(lines.length, 1, `${args.join(' ')}: expected one line, got ${r.stderr}`);
    assert.match(lines[0], message);
    assert.equal(readFileSync(sentinel, 'utf8'), 'keep me\n', `${args.join(' ')} touched --out`);
  }
});

test('resume refuses a checkpoint trained with different settings, and a fresh run refuses to replace one', async () => {
  const out = tmp();
  await useBackend('cpu');
  await trainOnDisk(parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '2', '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'cpu']), quiet);
  const before = statSync(join(out, 'checkpoint', 'state.json')).mtimeMs;
  const r = cli('src/train/cli/train.ts', ['--preset', 'overfit', '--out', out, '--steps', '4', '--ctx', '8', '--batch-size', '1', '--lr', '0.5', '--resume']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /different settings \(lr 0\.003 → 0\.5\)/);
  const fresh = cli('src/train/cli/train.ts', ['--preset', 'overfit', '--out', out, '--steps', '4', '--ctx', '8', '--batch-size', '1']);
  assert.equal(fresh.code, 1);
  assert.match(fresh.stderr, /already holds a training run/);
  assert.equal(statSync(join(out, 'checkpoint', 'state.json')).mtimeMs, before);
});

test('a checkpoint that does not record a newer setting (nLayer, dModel, nHeads, decayAll) resumes with that setting at its default', async () => {
  const out = tmp();
  const flags = ['--preset', 'overfit', '--out', out, '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'cpu'];
  await useBackend('cpu');
  await trainOnDisk(parseTrainArgs([...flags, '--steps', '2']), quiet);
  const statePath = join(out, 'checkpoint', 'state.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  for (const k of ['nLayer', 'dModel', 'nHeads', 'decayAll']) delete state.config[k];
  writeFileSync(statePath, JSON.stringify(state));
  const r = await trainOnDisk(parseTrainArgs([...flags, '--steps', '3', '--resume']), quiet);
  assert.equal(r.steps, 3);
});

test("--preset gpt2 has the settings of the seed's first run (cell 10), PyTorch's AdamW defaults included", () => {
  const cfg = parseTrainArgs(['--preset', 'gpt2']);
  const { model, data, ctx, batchSize, steps, optimizer, lr, lrSchedule, warmup, beta1, beta2, eps, weightDecay, decayAll, gradClip, gradAccum, dropout, logEvery, seedLog } = cfg;
  assert.deepEqual(
    { model, data, ctx, batchSize, steps, optimizer, lr, lrSchedule, warmup, beta1, beta2, eps, weightDecay, decayAll, gradClip, gradAccum, dropout, logEvery, seedLog },
    // GPT2Config(dropout=0); get_batch(tokens, block_size=1024, batch_size=2); optim.AdamW(model.parameters(), lr=3e-5); 200 steps; print every 10
    { model: 'gpt2', data: null, ctx: 1024, batchSize: 2, steps: 200, optimizer: 'adamw', lr: 3e-5, lrSchedule: 'constant', warmup: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayAll: true, gradClip: 0, gradAccum: 1, dropout: 0, logEvery: 10, seedLog: true },
  );
  assert.equal(parseTrainArgs(['--preset', 'tinystories']).decayAll, false, 'GPT-2 practice elsewhere: no decay on biases and LayerNorm');
});

test('--decay-all: AdamW decays biases and LayerNorm too (by lr·wd per step), as PyTorch\'s AdamW on model.parameters()', async () => {
  await useBackend('cpu');
  const run = async (...more: string[]) => {
    const out = tmp();
    await trainOnDisk(parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '1', '--ctx', '8', '--batch-size', '1', '--lr', '0.1', '--weight-decay', '0.5', '--no-progress', '--backend', 'cpu', ...more]), quiet);
    return new Map(loadModel(join(out, 'final')).namedParameters().map(([n, p]) => [n, p.data]));
  };
  const matrices = await run();
  const all = await run('--decay-all');
  // the same gradient step on both; --decay-all also multiplies by 1 − lr·wd = 0.95 first
  for (const name of ['ln_f.weight', 'h.0.attn.c_attn.bias']) {
    const a = all.get(name)!;
    const m = matrices.get(name)!;
    const before = name.endsWith('weight') ? 1 : 0; // LayerNorm weights start at 1, biases at 0
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - (m[i] - 0.05 * before)) < 1e-6, `${name}[${i}]: ${a[i]} with --decay-all, ${m[i]} without`);
  }
  assert.ok(all.get('ln_f.weight')!.every((v, i) => v !== matrices.get('ln_f.weight')![i]), 'LayerNorm decayed');
  const w = 'h.0.mlp.c_fc.weight'; // a matrix is decayed either way
  assert.deepEqual(all.get(w), matrices.get(w));
});

test("--out is made with its parents (the seed's cell 19 saved into a ./out nothing created)", async () => {
  await useBackend('cpu');
  const out = join(tmp(), 'runs', 'first');
  const data = tokenDir(400, 200);
  await trainOnDisk(parseTrainArgs(['--preset', 'tinystories', '--model', 'overfit', '--data', data, '--out', out, '--steps', '2', '--ctx', '8', '--batch-size', '1', '--eval-every', '1', '--eval-batches', '1', '--sample-prompt', '', '--no-progress', '--backend', 'cpu']), quiet);
  for (const f of ['best/model.safetensors', 'final/model.safetensors', 'checkpoint/state.json', 'metrics.jsonl']) assert.ok(existsSync(join(out, f)), f);
});
