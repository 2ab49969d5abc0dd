// The compact head (--head-vocab data, src/gpt2/head_vocab.ts) as properties over random kept
// ids, tokens and targets, against the full-vocabulary model that holds the same rows (each
// unseen id's row a copy of other's): its logits for kept ids are that model's, unseen ids'
// are other's minus log(V − K); its probabilities over all 50,257 ids sum to 1; its loss is
// −log of that distribution at the target, kept or unseen, and its gradients those of the
// cross-entropy of its logits. Its model directory keeps the ids and loads back the same model;
// generation draws real ids, unseen ones included. A --head-vocab data run keeps train.bin's
// ids, records them in its checkpoint, resumes on them, and `npm run eval` and `npm run
// generate` read its final/ as the model it trained; the overfit preset's run keeps the
// sentence's ids and learns the sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { noGrad, tensor } from '../src/autograd/tensor.ts';
import { crossEntropy } from '../src/autograd/ops/cross_entropy.ts';
import { makeConfig, VOCAB_SIZE, type GPT2Config } from '../src/gpt2/config.ts';
import { COMPACT_MODEL_TYPE, fromHfConfig } from '../src/gpt2/hf.ts';
import { HeadVocab } from '../src/gpt2/head_vocab.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { generate } from '../src/gpt2/generate.ts';
import { loadModel, saveModel } from '../src/data/model_files.ts';
import { Rng } from '../src/autograd/random.ts';
import { TokenDataset } from '../src/data/dataset.ts';
import { evalBatches } from '../src/data/loader.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { evaluate } from '../src/train/evaluate.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { OVERFIT_TEXT } from '../src/train/batches.ts';
import { encodeOrdinary } from '../src/data/tokenizer.ts';
import { cli, losses, tmp } from './helpers/train_runs.ts';

const V = VOCAB_SIZE;
const T = 6;
const shape = (d_model: number, extra: Partial<GPT2Config> = {}) => makeConfig({ n_layers: 1, d_model, n_heads: 2, n_ctx: T, dropout: 0, ...extra });

/** K distinct ids of [0, V), ascending, drawn with seed. */
function keptIds(K: number, seed: number): number[] {
  const rng = new Rng(seed);
  const ids = new Set<number>();
  while (ids.size < K) ids.add(rng.int(V));
  return [...ids].sort((a, b) => a - b);
}

/** The full-vocabulary model that computes what `compact` does for kept ids: its rows, and other's for every unseen id. */
async function fullTwin(compact: GPT2Model): Promise<GPT2Model> {
  const { head_ids: _, ...cfg } = compact.cfg;
  const full = new GPT2Model(cfg, { init: false });
  const state = new Map(compact.namedParameters().map(([n, p]) => [n, p]));
  const rows = await compact.wte.weight.toArray();
  const C = compact.cfg.d_model;
  const wte = new Float32Array(V * C);
  compact.vocab!.rowOf.forEach((row, id) => wte.set(rows.subarray(row * C, (row + 1) * C), id * C));
  state.set('wte.weight', tensor(wte, { shape: [V, C] }));
  full.loadStateDict(state);
  return full;
}

/** A case: kept ids, inputs and targets with unseen ids among them (and −1 targets, ignored). */
const caseArb = fc.record({
  K: fc.integer({ min: 1, max: 300 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  B: fc.integer({ min: 1, max: 2 }),
  d_model: fc.constantFrom(4, 8),
});

function tokensFor(kept: number[], n: number, rng: Rng, ignore: boolean): Int32Array {
  // half kept ids, half any id (almost always unseen), some −1 when ignoring is allowed
  return Int32Array.from({ length: n }, () => {
    const u = rng.uniform();
    if (ignore && u < 0.15) return -1;
    return u < 0.55 ? kept[rng.int(kept.length)] : rng.int(V);
  });
}

test('compact head: logits of kept ids are the full twin\'s, unseen ids\' are other\'s minus log(V − K); probabilities over all 50,257 ids sum to 1; the loss is −log p(target), kept or unseen', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ K, seed, B, d_model }) => {
      const kept = keptIds(K, seed);
      const model = new GPT2Model(shape(d_model, { head_ids: kept }), { seed });
      const twin = await fullTwin(model);
      const rng = new Rng(seed + 1);
      const x = tokensFor(kept, B * T, rng, false);
      const y = tokensFor(kept, B * T, rng, true);
      if (y.every((t) => t === -1)) y[0] = kept[0];
      const logits = await noGrad(() => model.forward(x, [B, T])).toArray(); // [B, T, V]
      const full = await noGrad(() => twin.forward(x, [B, T])).toArray();
      const shift = Math.log(V - K);
      const vocab = new HeadVocab(kept, V);
      let lossSum = 0;
      let counted = 0;
      for (let r = 0; r < B * T; r++) {
        const row = logits.subarray(r * V, (r + 1) * V);
        for (let v = 0; v < V; v += v % 97 === 0 ? 1 : 13) {
          const want = full[r * V + v] - (vocab.rowOf[v] === vocab.other ? shift : 0);
          assert.ok(Math.abs(row[v] - want) <= 1e-5 * (1 + Math.abs(want)), `row ${r} id ${v}: ${row[v]} vs ${want}`);
        }
        for (const id of kept) assert.equal(row[id], full[r * V + id], `kept id ${id}: the twin's logit`);
        let max = -Infinity;
        for (const l of row) max = Math.max(max, l);
        let z = 0;
        for (const l of row) z += Math.exp(l - max);
        let total = 0;
        for (const l of row) total += Math.exp(l - max) / z;
        assert.ok(Math.abs(total - 1) < 1e-9, `row ${r}: probabilities sum to ${total}`);
        if (y[r] !== -1) {
          lossSum += -(row[y[r]] - max - Math.log(z));
          counted++;
        }
      }
      const loss = (await noGrad(() => model.loss(x, [B, T], y)).toArray())[0];
      const want = lossSum / counted;
      assert.ok(Math.abs(loss - want) <= 2e-5 * Math.abs(want), `loss ${loss} vs −mean log p(target) ${want}`);
    }),
    { numRuns: 25 },
  );
});

test('compact head: loss and its gradients equal the cross-entropy of forward\'s logits over all ids', async () => {
  await fc.assert(
    fc.asyncProperty(caseArb, async ({ K, seed, B, d_model }) => {
      const kept = keptIds(K, seed);
      const model = new GPT2Model(shape(d_model, { head_ids: kept }), { seed });
      const rng = new Rng(seed + 2);
      const x = tokensFor(kept, B * T, rng, false);
      const y = tokensFor(kept, B * T, rng, true);
      if (y.every((t) => t === -1)) y[0] = kept[0];
      const grads = async (loss: () => ReturnType<GPT2Model['loss']>) => {
        model.zeroGrad();
        const l = loss();
        l.backward();
        return { loss: (await l.toArray())[0], g: await Promise.all(model.parameters().map((p) => p.grad!.toArray())) };
      };
      const fused = await grads(() => model.loss(x, [B, T], y));
      const composed = await grads(() => crossEntropy(model.forward(x, [B, T]), y, { ignoreIndex: -1 }));
      assert.ok(Math.abs(fused.loss - composed.loss) <= 2e-5 * Math.abs(composed.loss), `${fused.loss} vs ${composed.loss}`);
      // the composed path adds the 50,256 − K unseen ids' gradients into other's row one by one
      // in float32 (relative error up to ~n·2⁻²⁴ ≈ 3e-3); the fused one makes that row's at once
      fused.g.forEach((g, i) => {
        const [name] = model.namedParameters()[i];
        const c = composed.g[i];
        let scale = 0;
        for (const v of c) scale = Math.max(scale, Math.abs(v));
        const tol = (name === 'wte.weight' ? 5e-3 : 1e-4) * scale + 1e-7;
        for (let j = 0; j < g.length; j++) assert.ok(Math.abs(g[j] - c[j]) <= tol, `${name}[${j}]: ${g[j]} vs ${c[j]}`);
      });
    }),
    { numRuns: 15 },
  );
});

test('HeadVocab: rows of every id, the other row for unseen ones; bad id lists are refused in one line', () => {
  const vocab = new HeadVocab([3, 7, 9], 12);
  assert.equal(vocab.rows, 4);
  assert.deepEqual([...vocab.toRows([7, 0, 9, -1, 3, 11], 'here')], [1, 3, 2, -1, 0, 3]);
  assert.deepEqual([...vocab.columnOf], [3, 4, 5, 0, 6, 7, 8, 1, 9, 2, 10, 11], 'kept ids first (their rows), then the unseen in order');
  assert.deepEqual(vocab.countOther(vocab.toRows([7, 0, -1, 11], 'here')), { counted: 3, other: 2 });
  assert.deepEqual([...vocab.logitShift()].map((s) => Math.round(Math.exp(-s))), [9, 9, 9, 1, 9, 9, 9, 1, 9, 1, 9, 9], 'an unseen id: 1/9 of other (V − K = 9)');
  assert.throws(() => vocab.toRows([12], 'GPT2Model.loss: target'), /^Error: GPT2Model.loss: target: id 12 at position 0 is out of range \[0, 12\)$/);
  assert.throws(() => new HeadVocab([], 12), /0 ids kept of a vocabulary of 12/);
  assert.throws(() => new HeadVocab([...Array(12).keys()], 12), /12 ids kept of a vocabulary of 12/);
  assert.throws(() => new HeadVocab([3, 3], 12), /ids must be ascending, but 3 follows 3 at position 1/);
  assert.throws(() => makeConfig({ head_ids: [5, 60000] }), /GPT2Config: head_ids: id 60000 at position 1 is out of range \[0, 50257\)/);
});

test('a compact model directory: tsgrad\'s model type and the kept ids in config.json, wte of K + 1 rows; it loads back the same model', async () => {
  const kept = keptIds(50, 3);
  const model = new GPT2Model(shape(8, { head_ids: kept }), { seed: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-head-'));
  try {
    await saveModel(model, dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.model_type, COMPACT_MODEL_TYPE);
    assert.deepEqual(config.head_ids, kept);
    assert.equal(config.vocab_size, V);
    const loaded = loadModel(dir);
    assert.deepEqual(loaded.cfg.head_ids, kept);
    assert.deepEqual(loaded.wte.weight.shape, [51, 8]);
    const x = Int32Array.from([kept[0], 17, kept[9], 50256, 5, kept[49]]);
    assert.deepEqual(await noGrad(() => loaded.forward(x, [1, T])).toArray(), await noGrad(() => model.forward(x, [1, T])).toArray());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => fromHfConfig({ model_type: COMPACT_MODEL_TYPE }, 'x/config.json'), /^Error: x\/config.json: model_type tsgrad_gpt2_compact_head needs head_ids, the ids its compact head keeps$/);
  assert.throws(() => fromHfConfig({ model_type: 'gpt2', head_ids: [1] }, 'x/config.json'), /^Error: x\/config.json: head_ids belongs to model_type tsgrad_gpt2_compact_head, not "gpt2"$/);
  assert.throws(() => fromHfConfig({ model_type: COMPACT_MODEL_TYPE, head_ids: [2, 1] }, 'x/config.json'), /x\/config.json: GPT2Config: head_ids: ids must be ascending/);
});

test('generation from a compact head draws real ids, unseen ones spread among the unseen, the same for the same seed', async () => {
  const kept = keptIds(3, 5);
  const model = new GPT2Model(shape(8, { head_ids: kept, n_ctx: 64 }), { seed: 5 });
  const draw = (seed: number) => generate(model, [kept[0]], { maxNewTokens: 60, temperature: 1, seed });
  const ids = await draw(11);
  assert.deepEqual(await draw(11), ids);
  const unseen = ids.filter((id) => !kept.includes(id));
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < V));
  assert.ok(unseen.length >= 5, `${unseen.length} unseen ids drawn in 60 (other's share is about 1/4)`);
  assert.ok(new Set(unseen).size >= unseen.length - 1, 'unseen draws spread over the 50,254 unseen ids');
});

test('a --head-vocab data run keeps the ids of train.bin, resumes on them, and eval and generate read its final/', async () => {
  await useBackend('cpu');
  // train.bin draws on 200 ids; val.bin on those and on ids train.bin never holds
  const data = tmp();
  const kept = keptIds(200, 9);
  const rng = new Rng(9);
  const ids = (n: number, unseen: boolean) => Uint16Array.from({ length: n }, () => (unseen && rng.uniform() < 0.2 ? rng.int(V) : kept[rng.int(kept.length)]));
  writeFileSync(join(data, 'train.bin'), ids(4000, false));
  writeFileSync(join(data, 'val.bin'), ids(400, true));
  const scanned = new TokenDataset(join(data, 'train.bin'), 8, { fullScan: true });
  const trainSeen = [...scanned.idsSeen()];
  scanned.close();
  const flags = (out: string, steps: number) => ['--preset', 'tinystories', '--model', 'overfit', '--head-vocab', 'data', '--data', data, '--out', out, '--steps', String(steps), '--ctx', '8', '--batch-size', '2', '--lr-schedule', 'constant', '--eval-every', '3', '--eval-batches', '2', '--sample-prompt', '', '--no-progress', '--backend', 'cpu'];
  const quiet = { log: () => {} };
  const whole = tmp();
  await trainOnDisk(parseTrainArgs(flags(whole, 6)), quiet);
  const parted = tmp();
  await trainOnDisk(parseTrainArgs(flags(parted, 3)), quiet);
  assert.deepEqual(JSON.parse(readFileSync(join(parted, 'checkpoint', 'state.json'), 'utf8')).head_ids, trainSeen, 'the checkpoint records the kept ids');
  await trainOnDisk(parseTrainArgs([...flags(parted, 6), '--resume']), quiet);
  assert.deepEqual(losses(parted), losses(whole), 'resumed on the same head');

  const final = join(whole, 'final');
  const model = loadModel(final);
  assert.deepEqual(model.cfg.head_ids, trainSeen);
  const val = new TokenDataset(join(data, 'val.bin'), 8);
  const inProcess = (await evaluate(model, evalBatches(val, 8, Infinity), 8)).loss;
  val.close();
  const r = cli('src/train/cli/eval.ts', ['--model', final, '--data', join(data, 'val.bin'), '--ctx', '8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { loss } = JSON.parse(r.stdout);
  assert.ok(Math.abs(loss - inProcess) < 1e-6 && loss > Math.log(V - 200) * 0.15, `npm run eval ${loss}, in process ${inProcess}`);
  const g = cli('src/train/cli/generate.ts', ['--model', final, '--prompt-ids', String(kept[0]), '--max-new-tokens', '20', '--seed', '1', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(JSON.parse(g.stdout).ids.length, 20);
});

test("the overfit preset with --head-vocab data keeps the sentence's ids, learns the sentence, resumes on them, and generate writes it", async () => {
  await useBackend('cpu');
  const sentenceIds = [...new Set(encodeOrdinary(OVERFIT_TEXT))].sort((a, b) => a - b);
  const flags = (out: string, steps: number) => ['--preset', 'overfit', '--head-vocab', 'data', '--out', out, '--steps', String(steps), '--no-progress', '--backend', 'cpu'];
  const lines: string[] = [];
  const whole = tmp();
  await trainOnDisk(parseTrainArgs(flags(whole, 60)), { log: (line) => lines.push(line) });
  assert.match(lines.join('\n'), new RegExp(`head ${sentenceIds.length} ids of train data \\+ other`));
  const curve = losses(whole);
  assert.ok(Math.abs(curve[0] - Math.log(sentenceIds.length + 1)) < 0.5, `a fresh model's loss ${curve[0]} is about log(K + 1) = ${Math.log(sentenceIds.length + 1)}`);
  assert.ok(curve[59] < 0.1, `the sentence is learnt: loss ${curve[59]} at step 59`);
  const parted = tmp();
  await trainOnDisk(parseTrainArgs(flags(parted, 30)), { log: () => {} });
  assert.deepEqual(JSON.parse(readFileSync(join(parted, 'checkpoint', 'state.json'), 'utf8')).head_ids, sentenceIds, 'the checkpoint records the kept ids');
  await trainOnDisk(parseTrainArgs([...flags(parted, 60), '--resume']), { log: () => {} });
  assert.deepEqual(losses(parted), curve, 'resumed on the same head');
  assert.deepEqual(loadModel(join(whole, 'final')).cfg.head_ids, sentenceIds);
  const g = cli('src/train/cli/generate.ts', ['--model', join(whole, 'final'), '--prompt', 'Hello, I am', '--max-new-tokens', '8', '--greedy', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.ok(JSON.parse(g.stdout).text.startsWith(' a large language model.'), g.stdout);
});
