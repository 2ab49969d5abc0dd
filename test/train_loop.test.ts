// The training loop (issue 4): the overfit loop drives the loss below 0.1, a resumed run logs
// exactly the losses of an uninterrupted one, the outputs a user reads are there, and bad input
// is one line on stderr with a non-zero exit code and nothing in --out overwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainArgs } from '../src/train/config.ts';
import { train } from '../src/train/loop.ts';
import { useBackend } from '../src/train/backend_flag.ts';
import { cli, evalLines, losses, tmp, tokenDir } from './helpers/train_runs.ts';

const quiet = { log: () => {} };

test('overfit: the seed\'s repeated sentence is memorised (loss < 0.1)', async () => {
  const out = tmp();
  const cfg = parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '80', '--ctx', '16', '--batch-size', '4', '--no-progress', '--backend', 'cpu']);
  await useBackend(cfg.backend);
  const result = await train(cfg, quiet);
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

test('a killed run resumes: losses equal an uninterrupted run step for step (shuffled data, dropout, cosine lr, eval)', async () => {
  const data = tokenDir(4000, 600);
  const flags = (out: string) => ['--preset', 'tinystories', '--model', 'overfit', '--data', data, '--out', out, '--steps', '10', '--ctx', '16', '--batch-size', '2', '--eval-every', '3', '--eval-batches', '2', '--save-every', '1', '--dropout', '0.1', '--warmup', '2', '--no-progress', '--backend', 'cpu', '--sample-prompt', ''];
  await useBackend('cpu');
  const whole = tmp();
  await train(parseTrainArgs(flags(whole)), quiet);

  // the same run as a child process, killed (SIGKILL) once a checkpoint past step 3 exists
  const killed = tmp();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/train/train_cli.ts', ...flags(killed)], { stdio: 'ignore' });
  const state = join(killed, 'checkpoint', 'state.json');
  const stepOf = () => (existsSync(state) ? JSON.parse(readFileSync(state, 'utf8')).step : 0);
  while (stepOf() < 4 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(!existsSync(join(killed, 'final')), 'the child was killed before it finished');

  await train(parseTrainArgs([...flags(killed), '--resume']), quiet);
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
    [['--ctx', '1000'], 1, /ctx 1000 exceeds the model's n_ctx 64|longer than|n_ctx/],
    [['--resume'], 1, /no checkpoint/],
  ];
  for (const [args, code, message] of cases) {
    const r = cli('src/train/train_cli.ts', ['--preset', 'overfit', '--out', out, '--steps', '2', '--overwrite', ...args]);
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
  await train(parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '2', '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'cpu']), quiet);
  const before = statSync(join(out, 'checkpoint', 'state.json')).mtimeMs;
  const r = cli('src/train/train_cli.ts', ['--preset', 'overfit', '--out', out, '--steps', '4', '--ctx', '8', '--batch-size', '1', '--lr', '0.5', '--resume']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /different settings \(lr 0\.003 → 0\.5\)/);
  const fresh = cli('src/train/train_cli.ts', ['--preset', 'overfit', '--out', out, '--steps', '4', '--ctx', '8', '--batch-size', '1']);
  assert.equal(fresh.code, 1);
  assert.match(fresh.stderr, /already holds a training run/);
  assert.equal(statSync(join(out, 'checkpoint', 'state.json')).mtimeMs, before);
});
