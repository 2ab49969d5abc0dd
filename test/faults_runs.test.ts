// How a training run survives what goes wrong around it: a second run pointed at the same
// --out, a signal, a torn metrics line, weights that blow up, and bad files or flags found
// before anything is written. Each case is what a user would do, run as they would run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/data/model_files.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { RUN_OUTPUTS } from '../src/train/run_dir.node.ts';
import { MetricsFile } from '../src/train/metrics.node.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { ConfigError } from '../src/train/errors.ts';
import { cli, losses, startCli, tmp, tokenDir } from './helpers/train_runs.ts';

const quiet = { log: () => {} };
const tiny = (out: string, ...more: string[]) => ['--preset', 'overfit', '--out', out, '--steps', '2', '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'cpu', ...more];

/** Every file under dir with its contents, to show that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files[p] = readFileSync(p, 'base64');
    }
  };
  walk(dir);
  return files;
}

test('a fresh run refuses an --out that holds any output of another run, and touches nothing', async () => {
  await useBackend('cpu');
  for (const name of RUN_OUTPUTS) {
    const out = tmp();
    const isDir = !name.includes('.') || name.startsWith('checkpoint');
    if (isDir) {
      mkdirSync(join(out, name));
      writeFileSync(join(out, name, 'state.json'), '{"left": "by another run"}\n');
    } else {
      writeFileSync(join(out, name), 'left by another run\n');
    }
    const before = snapshot(out);
    await assert.rejects(trainOnDisk(parseTrainArgs(tiny(out)), quiet), new RegExp(`already holds.*${name.replace('.', '\\.')}.*--resume.*--overwrite`), name);
    assert.deepEqual(snapshot(out), before, `${name}: --out changed`);
  }
});

test('killed between the renames of a save: the same command without --resume refuses, --resume continues from checkpoint.old', async () => {
  await useBackend('cpu');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out, '--save-every', '1')), quiet);
  // the state a kill between "checkpoint → checkpoint.old" and "checkpoint.tmp → checkpoint" leaves
  renameSync(join(out, 'checkpoint'), join(out, 'checkpoint.old'));
  cpSync(join(out, 'checkpoint.old'), join(out, 'checkpoint.tmp'), { recursive: true });
  const before = snapshot(out);
  const again = cli('src/train/cli/train.ts', tiny(out, '--steps', '4'));
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr.trim(), /^train: \S+ already holds a training run \(checkpoint\.old, checkpoint\.tmp, final, metrics\.jsonl, loss\.svg\); pass --resume to continue it, --overwrite to start over, or another --out$/);
  assert.deepEqual(snapshot(out), before);
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '4', '--resume')), quiet);
  assert.equal(losses(out).length, 4);
});

test('--overwrite starts over: the earlier run\'s outputs are gone, files of the user stay', async () => {
  await useBackend('cpu');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out)), quiet);
  mkdirSync(join(out, 'best'));
  writeFileSync(join(out, 'best', 'model.safetensors'), 'stale');
  mkdirSync(join(out, 'checkpoint.old'));
  writeFileSync(join(out, 'notes.txt'), 'mine\n');
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '1', '--overwrite')), quiet);
  assert.deepEqual(readdirSync(out).sort(), ['checkpoint', 'final', 'loss.svg', 'metrics.jsonl', 'notes.txt']);
  assert.equal(losses(out).length, 1);
});

test('SIGINT or SIGTERM: the step under way finishes, a checkpoint is saved, one line says so; --resume logs the losses of an uninterrupted run', async () => {
  await useBackend('cpu');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const out = tmp();
    const { child, done } = startCli('src/train/cli/train.ts', tiny(out, '--steps', '100000')); // no --save-every: no checkpoint but this one
    let exited = false;
    void done.then(() => (exited = true));
    const logged = () => (existsSync(join(out, 'metrics.jsonl')) ? readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').length - 1 : 0);
    while (logged() < 3 && !exited) await new Promise((r) => setTimeout(r, 20));
    child.kill(signal);
    const hung = setTimeout(() => child.kill('SIGKILL'), 120_000); // a run that ignores the signal fails below, not hangs the suite
    const r = await done;
    clearTimeout(hung);
    assert.equal(r.code, 1, r.stderr);
    const m = new RegExp(`^train: stopped by ${signal} at step (\\d+); the last checkpoint, at step \\1, is in ${out}/checkpoint; continue with --resume$`).exec(r.stderr.trim());
    assert.ok(m, r.stderr);
    const n = Number(m[1]);
    assert.equal(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).step, n);
    assert.equal(losses(out).length, n, 'every step done is logged');
    await trainOnDisk(parseTrainArgs(tiny(out, '--steps', String(n + 2), '--resume')), quiet);
    const whole = tmp();
    await trainOnDisk(parseTrainArgs(tiny(whole, '--steps', String(n + 2))), quiet);
    assert.deepEqual(losses(out), losses(whole));
  }
});

test('a torn last line in metrics.jsonl (an append cut short by a full disk) and records past the checkpoint are dropped on --resume', async () => {
  await useBackend('cpu');
  const whole = tmp();
  await trainOnDisk(parseTrainArgs(tiny(whole, '--steps', '5')), quiet);
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '3')), quiet); // checkpoint at step 3
  const path = join(out, 'metrics.jsonl');
  // the run went on past its checkpoint, then the disk filled up in the middle of an append
  writeFileSync(path, readFileSync(path, 'utf8') + '{"step":3,"loss":7.5,"lr":0.003,"grad_norm":1,"tokens_per_s":9,"elapsed_s":1}\n{"step":4,"loss":7.1,"lr":0.0');
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '5', '--resume')), quiet);
  assert.deepEqual(losses(out), losses(whole));
  assert.ok(readFileSync(path, 'utf8').endsWith('}\n'));
});

test('a full disk during a metrics append: one line naming the file (ENOSPC alone names none)', { skip: !existsSync('/dev/full') && 'needs /dev/full' }, () => {
  const out = tmp();
  const log = new MetricsFile(out, 0);
  rmSync(log.path);
  symlinkSync('/dev/full', log.path); // every write fails with ENOSPC
  assert.throws(() => log.write({ step: 0, val_loss: 1 }), (err: Error) => err.message === `${log.path}: ENOSPC: no space left on device, write`);
});

test('a metrics.jsonl line that is not JSON before the end stops --resume with one line naming the file and the line', async () => {
  await useBackend('cpu');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '3')), quiet);
  const path = join(out, 'metrics.jsonl');
  const lines = readFileSync(path, 'utf8').split('\n');
  lines[1] = lines[1].slice(0, 20);
  writeFileSync(path, lines.join('\n'));
  const before = snapshot(out);
  const r = cli('src/train/cli/train.ts', tiny(out, '--steps', '5', '--resume'));
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), new RegExp(`^train: ${path} line 2: not valid JSON \\(.*\\)$`));
  assert.deepEqual(snapshot(out), before);
});

test('weights that are not finite are never saved, and the stop says which checkpoint is on disk', async () => {
  // an lr of 1e30 makes the first update overflow the weights
  for (const optimizer of ['adamw', 'sgd']) {
    const out = tmp();
    const r = cli('src/train/cli/train.ts', tiny(out, '--steps', '20', '--optimizer', optimizer, '--lr', '1e30', '--save-every', '1'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), new RegExp(`^train: the weights at step 1 \\(after step 0's update\\) are not finite \\(global norm Infinity in float32\\); stopped without saving them; no checkpoint was saved in ${out}$`));
    assert.deepEqual(readdirSync(out).sort(), ['metrics.jsonl'], optimizer);
  }
  // a checkpoint whose weights give a NaN loss: the stop names it
  await useBackend('cpu');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out, '--steps', '2')), quiet);
  const weights = join(out, 'checkpoint', 'model.safetensors');
  const saved = readSafetensors(weights);
  saved.get('wpe.weight')!.data[0] = NaN; // position 0, read by every window
  await writeSafetensors(weights, [...saved].map(([name, t]) => ({ name, shape: t.shape, data: () => t.data })));
  const r = cli('src/train/cli/train.ts', tiny(out, '--steps', '4', '--resume'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), new RegExp(`^train: loss is NaN at step 2; stopped before its update; the last checkpoint, at step 2, is in ${out}/checkpoint$`));
});

test('bad files in --data or --out: one line naming the file, before anything is written', async () => {
  // a directory, or a FIFO, where train.bin should be (a FIFO opened plainly blocks the open forever)
  const dirData = tokenDir(400, 400);
  rmSync(join(dirData, 'train.bin'));
  mkdirSync(join(dirData, 'train.bin'));
  const fifoData = tokenDir(400, 400);
  rmSync(join(fifoData, 'train.bin'));
  assert.equal(spawnSync('mkfifo', [join(fifoData, 'train.bin')]).status, 0);
  // an id past the vocabulary at the very end of val.bin: found before the first step, not at the first evaluation
  const badVal = tokenDir(400, 400);
  writeFileSync(join(badVal, 'val.bin'), new Uint8Array(new Uint16Array([1, 2, 3, 60000]).buffer), { flag: 'a' });
  const cases: [string, RegExp][] = [
    [dirData, new RegExp(`^train: ${dirData}/train\\.bin: a directory, not a regular file$`)],
    [fifoData, new RegExp(`^train: ${fifoData}/train\\.bin: a FIFO \\(named pipe\\), not a regular file$`)],
    [badVal, new RegExp(`^train: ${badVal}/val\\.bin: token 403 is 60000, not below vocab size 50257$`)],
  ];
  for (const [data, message] of cases) {
    const out = tmp();
    const r = cli('src/train/cli/train.ts', ['--preset', 'tinystories', '--model', 'overfit', '--data', data, '--out', out, '--steps', '4', '--ctx', '8', '--batch-size', '1', '--eval-every', '2', '--sample-prompt', '', '--no-progress'], {}, 120_000);
    assert.equal(r.signal, null, `${data}: hung`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
    assert.deepEqual(readdirSync(out), [], `${data}: --out was written`);
  }
  // state.json without its config
  await useBackend('cpu');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(tiny(out, '--save-every', '1')), quiet);
  const statePath = join(out, 'checkpoint', 'state.json');
  const { config: _, ...noConfig } = JSON.parse(readFileSync(statePath, 'utf8'));
  writeFileSync(statePath, JSON.stringify(noConfig));
  const r = cli('src/train/cli/train.ts', tiny(out, '--steps', '4', '--resume'));
  assert.equal(r.code, 1);
  assert.match(r.stderr.trim(), new RegExp(`^train: --resume: ${statePath} is not a tsgrad training state \\('config' is missing\\)$`));
});

test('train:tinystories checks --out before it pretokenizes anything', () => {
  const source = tmp();
  writeFileSync(join(source, 'train.txt'), 'Once upon a time there was a cat.\n<|endoftext|>\nThe end.\n');
  writeFileSync(join(source, 'valid.txt'), 'A dog ran.\n');
  const data = join(tmp(), 'tokens');
  const out = tmp();
  writeFileSync(join(out, 'metrics.jsonl'), '{"step":0,"loss":10}\n');
  const r = cli('src/train/cli/tinystories.ts', ['--source', source, '--data', data, '--out', out, '--steps', '2']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), /^train:tinystories: \S+ already holds a training run \(metrics\.jsonl\)/);
  assert.ok(!existsSync(data), 'pretokenized before checking --out');
});

test('--seed must be an integer in [0, 2³² − 1] (the seed is 32 bits: larger ones would alias)', () => {
  for (const seed of ['-1', '4294967296', '1e300']) {
    assert.throws(() => parseTrainArgs([`--seed=${seed}`]), (err: Error) => err instanceof ConfigError && err.message.startsWith(`--seed: expected an integer in [0, 4294967295], got '${seed}'`), seed);
  }
  assert.equal(parseTrainArgs(['--seed', '4294967295']).seed, 4294967295);
});
