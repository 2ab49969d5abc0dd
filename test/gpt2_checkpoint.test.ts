// Checkpoints in the Hugging Face layout: save → load round trips bit-exactly, the loader's
// leniencies (transformer. prefix, mask buffers, a tied lm_head.weight, F16/BF16/F64) and
// its refusals (truncated files, bad headers, overlaps, dtypes, shapes), atomic writes, and
// fromPretrained against the local fake hub (test/data_fake_hub.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig } from '../src/gpt2/config.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { loadModel, readSafetensors, saveModel, SafetensorsFile, writeSafetensors } from '../src/data/model_files.ts';
import { fromPretrained } from '../src/data/pretrained.ts';
import { loadTensors, saveTensors } from '../src/gpt2/hf.ts';
import { parseHeaderFromBytes, readTensor, serialize } from '../src/gpt2/safetensors.ts';
import { startFakeHub } from './data_fake_hub.ts';

const cfg = makeConfig({ n_layers: 2, d_model: 16, n_heads: 2, vocab_size: 30, n_ctx: 8, dropout: 0 });
const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-ckpt-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(tmp, `m${counter++}`);

function assertSameWeights(a: GPT2Model, b: GPT2Model): void {
  const pb = new Map(b.namedParameters());
  for (const [name, p] of a.namedParameters()) {
    assert.deepEqual(pb.get(name)!.shape, p.shape, name);
    assert.ok(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).equals(Buffer.from(pb.get(name)!.data.buffer, pb.get(name)!.data.byteOffset, pb.get(name)!.data.byteLength)), `${name} differs`);
  }
}

/** A safetensors file from a literal header object and data bytes (for malformed files). */
function rawFile(header: unknown, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** The model's checkpoint tensors with a few changed (renamed, added, dropped), as one file. */
async function customCheckpoint(model: GPT2Model, edit: (ts: { name: string; shape: number[]; data: Float32Array }[]) => typeof ts): Promise<string> {
  const dir = freshDir();
  await saveModel(model, dir);
  const ts = edit(await Promise.all(saveTensors(model).map(async (t) => ({ name: t.name, shape: t.shape, data: await t.data() }))));
  writeFileSync(join(dir, 'model.safetensors'), serialize(ts, { format: 'pt' }));
  return dir;
}

test('save → load round-trips bit-exactly, in the Hugging Face layout', async () => {
  const model = new GPT2Model(cfg, { seed: 11 });
  const dir = freshDir();
  await saveModel(model, dir);
  assertSameWeights(loadModel(dir), model);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']); // no temp files left
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(
    [config.n_embd, config.n_layer, config.n_head, config.n_positions, config.vocab_size, config.activation_function, config.model_type, config.n_inner, config.tie_word_embeddings],
    [16, 2, 2, 8, 30, 'gelu_new', 'gpt2', null, true],
  );
  assert.deepEqual(config.architectures, ['GPT2LMHeadModel']);
  const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
  assert.deepEqual(file.header.metadata, { format: 'pt' });
  assert.equal(file.header.dataStart % 8, 0);
  assert.deepEqual(file.header.tensors.get('h.0.attn.c_attn.weight')!.shape, [16, 48]); // Conv1D: [in, out]
  assert.deepEqual(file.header.tensors.get('h.1.mlp.c_proj.weight')!.shape, [64, 16]);
  assert.deepEqual(file.header.tensors.get('wte.weight')!.shape, [30, 16]);
  assert.ok(!file.header.tensors.has('lm_head.weight'));
  // the stored Conv1D weight is the transpose of ours
  const stored = file.read('h.0.attn.c_attn.weight');
  const ours = model.h[0].attn.c_attn.weight.data;
  assert.equal(stored[5 * 48 + 7], ours[7 * 16 + 5]);
  file.close();
});

test('an untied model saves transformer.-prefixed names and lm_head.weight, and round-trips', async () => {
  const model = new GPT2Model({ ...cfg, weight_tying: false }, { seed: 12 });
  const dir = freshDir();
  await saveModel(model, dir);
  const names = [...readSafetensors(join(dir, 'model.safetensors')).keys()];
  assert.ok(names.includes('transformer.wte.weight') && names.includes('lm_head.weight') && !names.includes('wte.weight'));
  const loaded = loadModel(dir);
  assert.notEqual(loaded.lm_head, null);
  assertSameWeights(loaded, model);
});

test('the loader accepts a transformer. prefix, mask buffers and an lm_head.weight equal to wte', async () => {
  const model = new GPT2Model(cfg, { seed: 13 });
  const dir = await customCheckpoint(model, (ts) => [
    ...ts.map((t) => ({ ...t, name: 'transformer.' + t.name })),
    { name: 'transformer.h.0.attn.bias', shape: [1, 1, 8, 8], data: new Float32Array(64).fill(1) },
    { name: 'transformer.h.1.attn.masked_bias', shape: [], data: Float32Array.of(-1e4) },
    { name: 'lm_head.weight', shape: [30, 16], data: Float32Array.from(model.wte.weight.data) },
  ]);
  assertSameWeights(loadModel(dir), model);
});

test('the loader refuses an lm_head.weight that differs from wte in a tied model, changing nothing', async () => {
  const model = new GPT2Model(cfg, { seed: 14 });
  const head = Float32Array.from(model.wte.weight.data);
  head[17] += 1;
  const dir = await customCheckpoint(model, (ts) => [...ts, { name: 'lm_head.weight', shape: [30, 16], data: head }]);
  assert.throws(() => loadModel(dir), /'lm_head.weight' differs from 'wte.weight' \(element 17/);
  // loading into an existing model checks everything before the first parameter changes
  const target = new GPT2Model(cfg, { seed: 15 });
  const untouched = new GPT2Model(cfg, { seed: 15 });
  const file = SafetensorsFile.open(join(dir, 'model.safetensors'));
  assert.throws(() => loadTensors(target, { tensors: file.header.tensors, read: (k) => file.read(k) }, 'x'), /differs/);
  file.close();
  assertSameWeights(target, untouched);
});

test('F16, BF16 and F64 tensors are converted to float32', async () => {
  // 1.5, −2, 0.099975586 (f16 0x2e66), 65504 (max f16), a subnormal 2^-24
  const f16 = Uint16Array.of(0x3e00, 0xc000, 0x2e66, 0x7bff, 0x0001);
  const bf16 = Uint16Array.of(0x3fc0, 0xc000, 0x3dcd); // 1.5, −2, ≈0.1
  const f64 = Float64Array.of(1.5, -2, 0.1);
  const data = new Uint8Array(f16.byteLength + bf16.byteLength + f64.byteLength + 6);
  data.set(new Uint8Array(f64.buffer), 0);
  data.set(new Uint8Array(f16.buffer), 24);
  data.set(new Uint8Array(bf16.buffer), 34);
  const path = join(tmp, 'dtypes.safetensors');
  writeFileSync(
    path,
    rawFile(
      {
        f64: { dtype: 'F64', shape: [3], data_offsets: [0, 24] },
        f16: { dtype: 'F16', shape: [5], data_offsets: [24, 34] },
        bf16: { dtype: 'BF16', shape: [3], data_offsets: [34, 40] },
        pad: { dtype: 'U8', shape: [6], data_offsets: [40, 46] },
      },
      data,
    ),
  );
  const file = SafetensorsFile.open(path);
  assert.deepEqual([...file.read('f64')], [1.5, -2, Math.fround(0.1)]);
  assert.deepEqual([...file.read('f16')], [1.5, -2, 0.0999755859375, 65504, 2 ** -24]);
  assert.deepEqual([...file.read('bf16')], [1.5, -2, 0.10009765625]);
  assert.throws(() => file.read('pad'), /tensor 'pad': dtype U8 is not a float type/);
  file.close();
  // a whole model stored in F16 loads (rounded to F16 precision)
  const model = new GPT2Model(cfg, { seed: 16 });
  const dir = freshDir();
  await saveModel(model, dir);
  const f32 = readSafetensors(join(dir, 'model.safetensors'));
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of f32) {
    const half = Uint16Array.from(t.data, toHalf);
    header[name] = { dtype: 'F16', shape: t.shape, data_offsets: [offset, offset + half.byteLength] };
    chunks.push(new Uint8Array(half.buffer));
    offset += half.byteLength;
  }
  writeFileSync(join(dir, 'model.safetensors'), rawFile(header, Buffer.concat(chunks)));
  const loaded = loadModel(dir);
  const a = loaded.h[1].mlp.c_fc.weight.data;
  const b = model.h[1].mlp.c_fc.weight.data;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(b[i]) * 2 ** -10 + 2 ** -24, `element ${i}: ${a[i]} vs ${b[i]}`);
});

/** float → IEEE half bits (round to nearest; normal range only, enough for small weights). */
function toHalf(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return m === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | m;
}

test('the pure codec: serialize → parse → read in memory, 8-aligned data, metadata kept', () => {
  const a = Float32Array.of(1, -2.5, 3e-8, 4);
  const bytes = serialize([{ name: 'a', shape: [2, 2], data: a }, { name: 'b', shape: [1], data: Float32Array.of(7) }], { format: 'pt' });
  const header = parseHeaderFromBytes(bytes, 'mem');
  assert.equal(header.dataStart % 8, 0);
  assert.deepEqual(header.metadata, { format: 'pt' });
  assert.deepEqual(header.tensors.get('a'), { dtype: 'F32', shape: [2, 2], begin: 0, end: 16 });
  assert.deepEqual(readTensor(bytes, header, 'a', 'mem'), a);
  assert.deepEqual([...readTensor(bytes, header, 'b', 'mem')], [7]);
  assert.throws(() => readTensor(bytes, header, 'c', 'mem'), /mem: no tensor named 'c'/);
});

test('malformed safetensors files are refused with the file name and the reason', () => {
  const good = serialize([
    { name: 'a', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
    { name: 'b', shape: [3], data: Float32Array.of(5, 6, 7) },
  ]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated.safetensors', good.subarray(0, good.length - 5), /tensor 'b' data_offsets \[16, 28\] lie outside the data area of 23 bytes \(truncated file\?\)/],
    ['tiny.safetensors', good.subarray(0, 5), /5 bytes is too short to be a safetensors file/],
    ['badlen.safetensors', rawFile({}, new Uint8Array(0), 1n << 40n), /header length 1099511627776 exceeds the 2 bytes after it/],
    ['badjson.safetensors', rawFile({}, new Uint8Array(0)).fill(0x7b, 8), /header is not valid JSON/],
    ['overlap.safetensors', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /tensors 'a' and 'b' overlap/],
    ['gap.safetensors', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /bytes 0–4 of the data area belong to no tensor/],
    ['dtype.safetensors', rawFile({ a: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a' has unknown dtype "F17"/],
    ['size.safetensors', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor 'a' of shape \[3\] and dtype F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/],
  ];
  for (const [name, bytes, error] of cases) {
    const path = join(tmp, name);
    writeFileSync(path, bytes);
    assert.throws(() => SafetensorsFile.open(path), (err: Error) => err.message.startsWith(path + ': ') && error.test(err.message), name);
  }
});

test('a checkpoint that does not fit the config is refused: shapes, names, dtypes', async () => {
  const model = new GPT2Model(cfg, { seed: 17 });
  const wrongShape = await customCheckpoint(model, (ts) => ts.map((t) => (t.name === 'wpe.weight' ? { ...t, shape: [4, 32] } : t)));
  assert.throws(() => loadModel(wrongShape), /'wpe.weight' has shape \[4,32\] but the config needs \[8,16\]/);
  const notTransposed = await customCheckpoint(model, (ts) => ts.map((t) => (t.name === 'h.0.mlp.c_fc.weight' ? { ...t, shape: [64, 16] } : t)));
  assert.throws(() => loadModel(notTransposed), /'h.0.mlp.c_fc.weight' has shape \[64,16\] but the config needs \[16,64\]/);
  const missing = await customCheckpoint(model, (ts) => ts.filter((t) => t.name !== 'ln_f.bias'));
  assert.throws(() => loadModel(missing), /does not match the config: missing ln_f.bias$/);
  const extra = await customCheckpoint(model, (ts) => [...ts, { name: 'h.2.ln_1.weight', shape: [16], data: new Float32Array(16) }]);
  assert.throws(() => loadModel(extra), /unexpected h.2.ln_1.weight/);
  const intDir = freshDir();
  await saveModel(model, intDir);
  const f = readSafetensors(join(intDir, 'model.safetensors'));
  const header: Record<string, unknown> = {};
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of f) {
    header[name] = { dtype: name === 'ln_f.weight' ? 'I32' : 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.byteLength;
  }
  writeFileSync(join(intDir, 'model.safetensors'), rawFile(header, Buffer.concat(chunks)));
  assert.throws(() => loadModel(intDir), /'ln_f.weight' has dtype I32, not a float type/);
  assert.throws(() => loadModel(join(tmp, 'nope')), /model directory '.*nope' not found/);
  writeFileSync(join(intDir, 'config.json'), '{"n_embd": 16, "activation_function": "relu"}');
  assert.throws(() => loadModel(intDir), /activation_function "relu" is not the tanh GELU/);
});

test('writes are atomic: a failed save leaves the old file and no temporary file', async () => {
  const dir = freshDir();
  const model = new GPT2Model(cfg, { seed: 18 });
  await saveModel(model, dir);
  const before = readFileSync(join(dir, 'model.safetensors'));
  const path = join(dir, 'model.safetensors');
  await assert.rejects(
    () =>
      writeSafetensors(path, [
        { name: 'a', shape: [2], data: () => Float32Array.of(1, 2) },
        { name: 'b', shape: [2], data: () => { throw new Error('disk full'); } }, // prettier-ignore
      ]),
    /disk full/,
  );
  assert.ok(readFileSync(path).equals(before));
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
});

test('fromPretrained downloads config.json and model.safetensors from $HF_ENDPOINT into the cache', async () => {
  const model = new GPT2Model(cfg, { seed: 19 });
  const served = freshDir();
  await saveModel(model, served);
  const hub = await startFakeHub({
    'openai-community/gpt2': { 'config.json': readFileSync(join(served, 'config.json')), 'model.safetensors': readFileSync(join(served, 'model.safetensors')) },
  });
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, TSGRAD_CACHE: process.env.TSGRAD_CACHE, HF_HOME: process.env.HF_HOME, HF_TOKEN: process.env.HF_TOKEN };
  process.env.HF_ENDPOINT = hub.endpoint;
  process.env.TSGRAD_CACHE = join(tmp, 'cache');
  process.env.HF_HOME = join(tmp, 'hf-home'); // no hub-library cache or token from this machine
  delete process.env.HF_TOKEN;
  try {
    const progress: string[] = [];
    const onDownload = (file: string, size: number) => ({ onProgress: (p: { received: number; total: number }) => assert.equal(p.total, size), done: () => progress.push(`${file} ${size}`) });
    const loaded = await fromPretrained('gpt2', { onDownload });
    assertSameWeights(loaded, model);
    const sizes = ['config.json', 'model.safetensors'].map((f) => `openai-community/gpt2/${f} ${readFileSync(join(served, f)).length}`);
    assert.deepEqual(progress, sizes);
    const urls = hub.requests.map((r) => r.url);
    assert.deepEqual(urls, ['/api/models/openai-community/gpt2/tree/main', '/openai-community/gpt2/resolve/main/config.json', '/openai-community/gpt2/resolve/main/model.safetensors']);
    assert.deepEqual(readdirSync(join(tmp, 'cache', 'models--openai-community--gpt2', 'main')).sort(), ['config.json', 'model.safetensors']);
    await fromPretrained('gpt2', { onDownload }); // cached: no new requests, no download reported
    assert.equal(hub.requests.length, 3);
    assert.equal(progress.length, 2);
  } finally {
    await hub.close();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});
