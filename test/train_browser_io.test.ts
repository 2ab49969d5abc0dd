// The page's IO, in Node (no browser needed): the files a page holds in memory are the files
// `npm run train` writes on disk, so runs and models move between the two unchanged.
//   - TokenArray (a .bin in memory) gives TokenDataset's windows, and the page's batches
//     (batches.web.ts) are Node's (batches.node.ts) for the same files and seed; a bad .bin is
//     one line naming it.
//   - modelToFiles writes the bytes saveModel writes; modelFromFiles reads them back; a folder
//     missing a file or holding a corrupt one is one line naming it.
//   - IndexedDBRunStore (on fake-indexeddb, the IndexedDB of the tests): a run stopped and
//     resumed logs the losses of an uninterrupted one, and a checkpoint crosses between the
//     page and `npm run train --resume` both ways, step for step.
//   - sortFiles: a run folder, a downloaded .zip and .bin files are told apart; a broken .zip is
//     one line naming it.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/autograd/random.ts';
import { TokenArray } from '../src/data/token_array.ts';
import { saveModel } from '../src/data/model_files.ts';
import { modelFromFiles, modelToFiles, type Files } from '../src/gpt2/hf_files.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { pageBatches } from '../src/train/batches.web.ts';
import { openBatches } from '../src/train/batches.node.ts';
import { checkpointFromFiles, CHECKPOINT_FILES } from '../src/train/checkpoint_files.ts';
import { TRAIN_PRESETS, type TrainConfig } from '../src/train/config.ts';
import { train } from '../src/train/loop.ts';
import { textBatches } from '../src/train/batches.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { IndexedDBRunStore } from '../src/train/run_store.web.ts';
import { sortFiles, zipFolder } from '../src/train/web/opened_files.ts';
import { losses, tmp, tokenDir } from './helpers/train_runs.ts';

const quiet = { log: () => {} };
const readFolder = (dir: string): Files => Object.fromEntries(readdirSync(dir).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
const stepLosses = async (store: IndexedDBRunStore) => (await store.records()).flatMap((r) => ('loss' in r ? [r.loss] : []));

test('TokenArray: the windows of TokenDataset; the page trains on the batches Node trains on', async () => {
  const dir = tokenDir(700, 300);
  const cfg: TrainConfig = { ...TRAIN_PRESETS.tinystories, data: dir, ctx: 16, batchSize: 3, evalBatches: 2 };
  const inMemory = (name: string) => new TokenArray(name, new Uint8Array(readFileSync(join(dir, name))));
  const page = pageBatches({ train: inMemory('train.bin'), val: inMemory('val.bin') })(cfg);
  const node = openBatches(cfg);
  try {
    const [rngPage, rngNode] = [new Rng(5), new Rng(5)];
    for (let i = 0; i < 30; i++) assert.deepEqual(await page.next(rngPage), await node.next(rngNode), `batch ${i}`);
    assert.deepEqual(page.state(), node.state());
    assert.deepEqual(page.vocabulary!(), node.vocabulary!(), 'the ids a compact head keeps');
    assert.deepEqual([...(page.evalBatches(3, 2) as Iterable<unknown>)], [...(node.evalBatches(3, 2) as Iterable<unknown>)]);
  } finally {
    node.close();
  }
});

test('TokenArray: a file that is not uint16 GPT-2 ids, or too short, is one line naming it', () => {
  assert.throws(() => new TokenArray('picked/train.bin', new Uint8Array(7)), { message: 'picked/train.bin: 7 bytes is an odd length, so not a file of uint16 tokens' });
  const big = new Uint8Array(8);
  new DataView(big.buffer).setUint16(4, 60000, true);
  assert.throws(() => new TokenArray('picked/train.bin', big), { message: 'picked/train.bin: token 2 is 60000, not below vocab size 50257' });
  assert.throws(() => new TokenArray('picked/val.bin', new Uint8Array(8)).windows(16), { message: 'picked/val.bin: 4 tokens is too few for one window of 16 inputs + 1 target' });
  assert.throws(() => pageBatches(null)({ ...TRAIN_PRESETS.tinystories }), /the tinystories preset trains on a train\.bin: pick one/);
});

test('modelToFiles holds the bytes saveModel writes, and modelFromFiles reads them back; a bad folder is one line', async () => {
  await useBackend('cpu');
  const model = new GPT2Model(makeConfig({ n_layers: 1, d_model: 16, n_heads: 2, n_ctx: 8 }, 'overfit'), { seed: 3 });
  const dir = join(tmp(), 'final');
  mkdirSync(dir);
  await saveModel(model, dir);
  const files = await modelToFiles(model);
  assert.deepEqual(files, readFolder(dir));
  const back = modelFromFiles(files, 'out/final');
  for (const [name, p] of model.namedParameters()) assert.deepEqual(await back.stateDict().get(name)!.toArray(), await p.toArray(), name);

  assert.throws(() => modelFromFiles({ 'config.json': files['config.json'] }, 'picked'), { message: 'picked: no model.safetensors (a model folder holds config.json and model.safetensors)' });
  const cut = { ...files, 'model.safetensors': files['model.safetensors'].subarray(0, 1000) };
  assert.throws(() => modelFromFiles(cut, 'picked'), /^Error: picked\/model\.safetensors: /);
  assert.throws(() => modelFromFiles({ ...files, 'config.json': new TextEncoder().encode('{"n_layer": ') }, 'picked'), /^Error: picked\/config\.json: not valid JSON/);
  assert.throws(() => checkpointFromFiles(files, 'picked'), { message: `picked: no optimizer.safetensors, state.json (a checkpoint folder holds ${CHECKPOINT_FILES.join(', ')})` });
});

test('IndexedDB: a run stopped at step 2 and resumed logs the losses of an uninterrupted run', async () => {
  await useBackend('cpu');
  const cfg = (steps: number, resume = false): TrainConfig => ({ ...TRAIN_PRESETS.overfit, steps, ctx: 8, batchSize: 2, saveEvery: 1, resume, backend: 'cpu', progress: false });
  const whole = new IndexedDBRunStore('whole');
  await train(cfg(4), { store: whole, openData: textBatches, ...quiet });
  const store = new IndexedDBRunStore('stopped');
  await train(cfg(2), { store, openData: textBatches, ...quiet });
  assert.deepEqual(await store.outputs(), ['checkpoint', 'final', 'metrics']);
  await assert.rejects(train(cfg(4), { store, openData: textBatches, ...quiet }), /this browser's storage \(run stopped\) already holds a training run \(checkpoint, final, metrics\); pass --resume/);
  await train(cfg(4, true), { store, openData: textBatches, ...quiet });
  assert.deepEqual(await stepLosses(store), await stepLosses(whole));
  assert.equal((await stepLosses(store)).length, 4);
  assert.equal((await store.latestCheckpoint())!.state.step, 4);
  await store.clear();
  assert.deepEqual(await store.outputs(), []);
  assert.deepEqual(await whole.outputs(), ['checkpoint', 'final', 'metrics'], 'clearing one run left the other');
});

test('a checkpoint crosses between npm run train and the page both ways, step for step', async () => {
  await useBackend('cpu');
  const args = ['--preset', 'overfit', '--ctx', '8', '--batch-size', '2', '--save-every', '1', '--no-progress', '--backend', 'cpu'];
  const page = (steps: number): TrainConfig => ({ ...parseTrainArgs([...args, '--steps', String(steps)]), resume: true });
  const whole = tmp();
  await trainOnDisk(parseTrainArgs([...args, '--out', whole, '--steps', '6']), quiet);

  // Node → page: steps 0-1 on disk, 2-3 in the browser's store
  const out = tmp();
  await trainOnDisk(parseTrainArgs([...args, '--out', out, '--steps', '2']), quiet);
  const store = new IndexedDBRunStore('crossing');
  await store.putFolder('checkpoint', readFolder(join(out, 'checkpoint')));
  await train(page(4), { store, openData: textBatches, ...quiet });
  assert.deepEqual(await stepLosses(store), losses(whole).slice(2, 4));

  // page → Node: the page's checkpoint, as a downloaded .zip unpacks, resumed on disk for steps 4-5
  const [folder] = sortFiles([{ path: 'tsgrad-overfit-checkpoint.zip', bytes: zipFolder('checkpoint', (await store.folder('checkpoint'))!) }]).checkpoints;
  assert.equal(folder.where, 'tsgrad-overfit-checkpoint.zip/checkpoint');
  for (const [name, bytes] of Object.entries(folder.files)) writeFileSync(join(out, 'checkpoint', name), bytes);
  await trainOnDisk({ ...parseTrainArgs([...args, '--out', out, '--steps', '6']), resume: true }, quiet);
  assert.deepEqual(losses(out), [...losses(whole).slice(0, 2), ...losses(whole).slice(4, 6)], 'metrics.jsonl: steps 0-1, then the resumed 4-5');
});

test('sortFiles: a whole run folder gives its checkpoint and its models apart; .bin files by name; a broken .zip is one line', async () => {
  const f = (path: string) => ({ path, bytes: new Uint8Array([1]) });
  const sorted = sortFiles([
    ...['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json'].map((n) => f(`run/checkpoint/${n}`)),
    ...['config.json', 'model.safetensors'].map((n) => f(`run/final/${n}`)),
    f('run/metrics.jsonl'),
    f('data/train.bin'),
  ]);
  assert.deepEqual(sorted.checkpoints.map((c) => [c.where, Object.keys(c.files).sort()]), [['run/checkpoint', [...CHECKPOINT_FILES]]]);
  assert.deepEqual(sorted.models.map((m) => m.where), ['run/final']);
  assert.deepEqual(sorted.bins.map((b) => b.path), ['data/train.bin']);
  assert.deepEqual(sorted.ignored, ['run/metrics.jsonl']);
  assert.throws(() => sortFiles([f('run.zip')]), /^Error: run\.zip: not a \.zip file that unpacks \(/);
});
