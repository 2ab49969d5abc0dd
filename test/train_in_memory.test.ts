// The training loop without Node: src/train/loop.ts with the in-memory run store bundles for a
// browser with no Node builtin, runs in a context that has only a browser's globals, and logs
// the losses `npm run train` logs on disk; in memory, a resume continues a run step for step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { useBackend } from '../src/train/cli/backend.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { train } from '../src/train/loop.ts';
import { MemoryRunStore } from '../src/train/in_memory.ts';
import { textBatches } from '../src/train/batches.ts';
import { TRAIN_PRESETS, type TrainConfig } from '../src/train/config.ts';
import { browserBundle, nodeBuiltins } from './helpers/bundle.ts';
import { losses, tmp } from './helpers/train_runs.ts';

const quiet = { log: () => {} };
const stepLosses = (store: MemoryRunStore) => store.records.filter((r) => 'loss' in r).map((r) => (r as { loss: number }).loss);

test('the loop and the in-memory store bundle for a browser and train there: the losses of npm run train', async () => {
  const program = `
    import { train } from './src/train/loop.ts';
    import { MemoryRunStore } from './src/train/in_memory.ts';
    import { textBatches } from './src/train/batches.ts';
    import { TRAIN_PRESETS } from './src/train/config.ts';
    const cfg = { ...TRAIN_PRESETS.overfit, steps: 3, ctx: 8, batchSize: 1, backend: 'js', evalEvery: 0 };
    const store = new MemoryRunStore('browser-run');
    globalThis.done = train(cfg, { store, openData: textBatches, log: () => {} }).then(() => JSON.stringify(store.records.map((r) => r.loss)));
  `;
  const { code, inputs } = await browserBundle(program);
  assert.deepEqual(nodeBuiltins(inputs), [], 'the loop pulls in Node builtins');
  assert.deepEqual(inputs.filter((f) => /\.node\.ts$|\/cli\//.test(f)), [], 'the loop pulls in a Node adapter');
  // a browser's globals, not Node's: no process, no require, no Buffer, no setImmediate
  const context: { done?: Promise<string> } & Record<string, unknown> = { console, TextEncoder, TextDecoder, setTimeout, performance };
  runInNewContext(code, context);
  const inBrowser = JSON.parse(await context.done!) as number[];

  await useBackend('js');
  const out = tmp();
  await trainOnDisk(parseTrainArgs(['--preset', 'overfit', '--out', out, '--steps', '3', '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'js']), quiet);
  assert.deepEqual(inBrowser, losses(out));
});

test('in memory: a run stopped at step 2 and resumed logs the losses of an uninterrupted run, and keeps a copy of each checkpoint', async () => {
  await useBackend('cpu');
  const cfg = (steps: number, resume = false): TrainConfig => ({ ...TRAIN_PRESETS.overfit, steps, ctx: 8, batchSize: 2, dropout: 0.1, saveEvery: 1, resume, backend: 'cpu' });
  const whole = new MemoryRunStore();
  await train(cfg(4), { store: whole, openData: textBatches, ...quiet });
  const store = new MemoryRunStore();
  await train(cfg(2), { store, openData: textBatches, ...quiet });
  const saved = store.checkpoint!.weights.get('wte.weight')!.data.slice();
  await assert.rejects(train(cfg(4), { store, openData: textBatches, ...quiet }), /memory already holds a training run \(checkpoint, final, metrics\); pass --resume/);
  await train(cfg(4, true), { store, openData: textBatches, ...quiet });
  assert.deepEqual(stepLosses(store), stepLosses(whole));
  assert.equal(stepLosses(store).length, 4);
  assert.notDeepEqual(store.checkpoint!.weights.get('wte.weight')!.data, saved, 'the checkpoint moved on');
  assert.equal(store.checkpoint!.state.step, 4);
});
