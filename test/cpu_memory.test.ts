// Memory reuse between training steps (src/autograd/backends/memory.ts), the 'cpu' backend's
// pool: arrays from a finished step are handed out again zero-filled, kept and foreign arrays
// never are, a failed step gives nothing back, and GPT-2 training steps inside the scope
// allocate nothing new after the first (SGD: after the second) while computing exactly the
// numbers they compute without it. The reference backend has no pool: there a tensor kept
// past a step keeps its numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryPoolOf, releaseMemory, reuseMemory } from '../src/autograd/backends/memory.ts';
import { tensor, type Tensor } from '../src/autograd/tensor.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { AdamW } from '../src/nn/optim/adamw.ts';
import { SGD } from '../src/nn/optim/sgd.ts';
import { stateTensors, type Optimizer } from '../src/nn/optim/optimizer.ts';
import { Rng } from '../src/autograd/random.ts';
import { referenceBackend, setBackend } from '../src/autograd/backends/registry.ts';
import { createCpuBackend } from '../src/autograd/backends/cpu/index.ts';
import { nodeThreads } from '../src/autograd/backends/cpu/threads.node.ts';
import { withProfiling } from '../src/autograd/backends/profile.ts';
import '../src/autograd/backends/available.ts';

test("a finished step's arrays come back zero-filled; kept, foreign and failed-step arrays do not", async () => {
  const cpu = await createCpuBackend(nodeThreads);
  const pool = cpu.memoryPool;
  releaseMemory(cpu);
  const user = new Float32Array([1, 2, 3]);
  let kept!: Tensor;
  let made!: Float32Array;
  await reuseMemory(cpu, async () => {
    const a = tensor(user, { backend: cpu }); // the caller's own array: never pooled
    const b = a.mul(2); // an output from the pool
    kept = b.add(1);
    made = b.storage as Float32Array;
    return null;
  }, () => [kept]);
  assert.deepEqual([...user], [1, 2, 3]);
  assert.deepEqual([...kept.data], [3, 5, 7]);
  const again = pool.alloc('float32', 3);
  assert.equal(again, made, "the step's temporary is handed out again");
  assert.deepEqual([...again], [0, 0, 0], 'zero-filled, like a fresh array');
  assert.notEqual(pool.alloc('float32', 3), user);
  assert.notEqual(pool.alloc('float32', 3), kept.storage);

  let lost!: Float32Array;
  await assert.rejects(
    reuseMemory(cpu, async () => {
      lost = tensor([1, 2], { backend: cpu }).mul(3).storage as Float32Array;
      throw new Error('step failed');
    }, () => []),
    /step failed/,
  );
  assert.notEqual(pool.alloc('float32', 2), lost, 'a step that throws gives nothing back');
  await assert.rejects(reuseMemory(cpu, () => reuseMemory(cpu, async () => 0, () => []), () => []), /already open/);
  assert.equal(memoryPoolOf(withProfiling(cpu)), pool, 'the profiling wrapper leads to the same pool');
  releaseMemory(cpu);
});

test('the reference backend has no pool: a tensor held past a step keeps its numbers', async () => {
  assert.equal(memoryPoolOf(referenceBackend), null);
  let logits!: Tensor;
  for (let step = 0; step < 3; step++) {
    await reuseMemory(referenceBackend, async () => {
      const out = tensor([1, 2, 3], { backend: referenceBackend }).mul(step + 1);
      if (step === 0) logits = out; // kept by the caller, not listed in keep()
    }, () => []);
  }
  assert.deepEqual([...logits.data], [1, 2, 3]);
});

/** Losses of `steps` AdamW (or SGD with momentum) steps of a tiny GPT-2 on cpu, with or without the step scope. */
async function run(steps: number, scoped: boolean, opt: 'adamw' | 'sgd') {
  const cpu = await setBackend('cpu');
  const pool = memoryPoolOf(cpu)!;
  releaseMemory(cpu);
  const cfg = makeConfig({ n_layers: 2, d_model: 16, n_heads: 2, vocab_size: 50, n_ctx: 8, dropout: 0 });
  const model = new GPT2Model(cfg, { seed: 1 });
  const params = model.parameters();
  const optimizer: Optimizer = opt === 'adamw' ? new AdamW(params, { lr: 1e-2 }) : new SGD(params, { lr: 0.1, momentum: 0.9 });
  const rng = new Rng(2);
  const ids = Int32Array.from({ length: 2 * 8 }, () => rng.int(50));
  const targets = Int32Array.from({ length: 2 * 8 }, () => rng.int(50));
  const losses: number[] = [];
  const fresh: number[] = [];
  for (let s = 0; s < steps; s++) {
    const step = async () => {
      const loss = model.loss(ids, [2, 8], targets);
      loss.backward();
      const value = (await loss.toArray())[0];
      optimizer.step();
      optimizer.zeroGrad();
      return value;
    };
    const before = pool.stats.fresh;
    losses.push(scoped ? await reuseMemory(cpu, step, () => [...params, ...stateTensors(optimizer)]) : await step());
    fresh.push(pool.stats.fresh - before);
  }
  releaseMemory(cpu);
  await setBackend('js');
  return { losses, fresh };
}

// AdamW's steps are alike from the first; SGD's first step makes no momentum buffer yet, so its
// pattern settles one step later.
for (const [opt, settled] of [['adamw', 1], ['sgd', 2]] as const) {
  test(`GPT-2 steps on cpu with ${opt} inside reuseMemory: same losses, no new arrays once settled`, async () => {
    const plain = await run(5, false, opt);
    const scoped = await run(5, true, opt);
    assert.deepEqual(scoped.losses, plain.losses, 'bit-identical losses');
    assert.ok(plain.losses[4] < plain.losses[0], 'the model learns');
    assert.ok(scoped.fresh[0] > 0);
    assert.ok(scoped.fresh.slice(settled).every((n) => n === 0), `fresh arrays per step: ${scoped.fresh}`);
    assert.ok(plain.fresh.slice(1).every((n) => n > 0), 'without the scope every step allocates');
  });
}
