// The page's engine: a dedicated Worker that runs what the UI asks (./protocol.ts) with the
// same src/ engine as Node: the training loop (../loop.ts) with the browser's IO (runs kept in
// IndexedDB, ../run_store.web.ts; batches from the seed's sentence or a .bin in memory,
// ../batches.web.ts; a Stop button), generation, and the backend check. It lives off the
// page's main thread because the cpu backend blocks its calling thread in Atomics.wait, which a
// page's main thread may not do; the cpu backend starts its own Web Workers from here.
// Requests are answered one at a time, in order; 'stop' is heard between two training steps
// (the loop gives the event loop a turn after each).
import { BackendUnavailable, getBackend } from '../../autograd/backends/registry.ts';
import type { Backend } from '../../autograd/backend.ts';
import { decode, encodeOrdinary } from '../../data/tokenizer.ts';
import { TokenArray } from '../../data/token_array.ts';
import { generate } from '../../gpt2/generate.ts';
import { modelFromFiles, type Files } from '../../gpt2/hf_files.ts';
import type { GPT2Model } from '../../gpt2/model.ts';
import { pageBatches, type PageData } from '../batches.web.ts';
import { checkpointFromFiles } from '../checkpoint_files.ts';
import { recordedSetting, TRAIN_PRESETS, type TrainConfig } from '../config.ts';
import type { StopRequests, TrainProgress } from '../io.ts';
import { train, TrainingStopped } from '../loop.ts';
import { recordsBefore } from '../metrics.ts';
import { IndexedDBRunStore } from '../run_store.web.ts';
import { backendCheck } from './backend_check.ts';
import { chooseBackend, describe, useBackend } from './backend_choice.ts';
import { sortFiles, zipFolder, type Folder } from './opened_files.ts';
import { FRESH_MODEL_KEYS, PAGE_PRESETS, type CheckResult, type FreshModel, type FromTrainer, type Job, type PagePreset, type Port, type SavedRun, type ToTrainer } from './protocol.ts';

const port = self as unknown as Port<ToTrainer, FromTrainer>;
const post = (m: FromTrainer, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const log = (line: string) => post({ type: 'log', line });

/**
 * The page's runs: each preset as `npm run train` has it, plus a sample while it trains (the
 * overfit preset has no validation data; its samples show the sentence being learnt).
 */
const PAGE_SETTINGS: Record<PagePreset, Partial<TrainConfig>> = {
  overfit: { evalEvery: 20, samplePrompt: 'Hello, I am', sampleTokens: 12 },
  tinystories: {},
};

function pageConfig(preset: PagePreset, steps: number, resume: boolean, model: FreshModel, store: IndexedDBRunStore, data: PageData | null): TrainConfig {
  const base = TRAIN_PRESETS[preset];
  return {
    ...base,
    ...PAGE_SETTINGS[preset],
    ...model,
    steps,
    resume,
    overwrite: !resume, // Train starts over; the page keeps one run per preset
    backend: getBackend().name,
    out: store.name,
    // the data a resume must find again; a loader's state also checks the window count
    data: base.data === null ? null : data === null ? 'none' : `train.bin of ${data.train.tokens.length} tokens`,
    progress: false,
  };
}

/** The .bin files picked in the page, or null. */
let picked: PageData | null = null;
/** Served by `npm run web -- --data DIR` as data/train.bin and data/val.bin (fetched once), or null. */
let served: Promise<PageData | null> | null = null;
/** The model Generate uses: the last one trained or opened (its folder's files). */
let current: { label: string; files: Files } | null = null;
/** That model, built on a backend. */
let built: { files: Files; backend: Backend; model: GPT2Model } | null = null;
/** Asks the training run under way to stop; null when none runs. */
let requestStop: (() => void) | null = null;

async function fetchBin(name: string): Promise<TokenArray | null> {
  const url = new URL(`data/${name}`, self.location.href);
  const res = await fetch(url);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new TokenArray(url.pathname, new Uint8Array(await res.arrayBuffer()));
}

function servedData(): Promise<PageData | null> {
  served ??= (async () => {
    const train = await fetchBin('train.bin');
    return train === null ? null : { train, val: await fetchBin('val.bin') };
  })();
  return served;
}

const describeData = (d: PageData) => `${d.train.where} (${d.train.tokens.length.toLocaleString('en')} tokens)` + (d.val ? `, ${d.val.where} (${d.val.tokens.length.toLocaleString('en')} tokens)` : ', no val.bin');

async function savedRuns(): Promise<SavedRun[]> {
  return Promise.all(
    PAGE_PRESETS.map(async (preset) => {
      const store = new IndexedDBRunStore(preset);
      const saved = await store.latestCheckpoint();
      const checkpoint = saved === null ? null : { step: saved.state.step, steps: saved.state.config.steps, headVocab: recordedSetting(saved.state.config, 'headVocab') as FreshModel['headVocab'] };
      return { preset, checkpoint, final: (await store.outputs()).includes('final') };
    }),
  );
}

async function status(): Promise<string> {
  post({ type: 'status', runs: await savedRuns(), model: current?.label ?? null, data: picked ? describeData(picked) : null });
  return '';
}

async function check(name: string): Promise<CheckResult> {
  try {
    const backend = await useBackend(name);
    const t0 = performance.now();
    const values = await backendCheck();
    return { type: 'checked', backend: name, detail: await describe(backend), ms: performance.now() - t0, values };
  } catch (e) {
    if (e instanceof BackendUnavailable) return { type: 'unavailable', backend: name, reason: e.message };
    return { type: 'failed', backend: name, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

async function chooseBackendJob(choice: string): Promise<string> {
  const { backend, detail, why } = await chooseBackend(choice);
  post({ type: 'backend', name: backend.name, detail, why });
  return `backend ${backend.name}`;
}

/**
 * Sorts what was picked: data to train on, a checkpoint to resume (kept in this browser), a
 * model to generate from. Every file is read and checked before anything the page holds is
 * replaced, so a bad one is an error that loses nothing.
 */
async function open(files: Parameters<typeof sortFiles>[0]): Promise<string> {
  const sorted = sortFiles(files);
  let data: PageData | null = null;
  if (sorted.bins.length > 0) {
    const val = sorted.bins.filter((f) => /(^|\/)val\.bin$/.test(f.path));
    const train = sorted.bins.filter((f) => !val.includes(f));
    if (train.length !== 1 || val.length > 1) throw new Error(`pick one train.bin (and at most one val.bin), not ${sorted.bins.map((f) => f.path).join(', ')}`);
    data = { train: new TokenArray(train[0].path, train[0].bytes), val: val.length ? new TokenArray(val[0].path, val[0].bytes) : null };
  }
  const checkpoints: { preset: PagePreset; step: number; where: string; files: Files }[] = [];
  for (const { where, files } of sorted.checkpoints) {
    const saved = checkpointFromFiles(files, where);
    const { step, config } = saved.state;
    const preset = config.preset as PagePreset;
    if (!PAGE_PRESETS.includes(preset)) throw new Error(`${where}/state.json: a run of the ${preset} preset; this page trains ${PAGE_PRESETS.join(' and ')}`);
    modelFromFiles(files, where); // its weights match its config
    await saved.optimizer();
    checkpoints.push({ preset, step, where, files });
  }
  const rank = (f: Folder) => (/final$/.test(f.where) ? 0 : /best$/.test(f.where) ? 1 : 2);
  const models = [...sorted.models].sort((a, b) => rank(b) - rank(a)).map(({ where, files }) => {
    const model = modelFromFiles(files, where);
    return { label: `${where} (${(model.numParameters() / 1e6).toFixed(2)}M parameters, ${model.cfg.n_layers} layers)`, files };
  });
  if (data === null && checkpoints.length === 0 && models.length === 0) {
    throw new Error(`nothing to open in ${sorted.ignored.join(', ') || 'no files'}: pick train.bin/val.bin, a model folder (config.json + model.safetensors) or a checkpoint (.zip or folder)`);
  }

  // all checked: now replace
  const said: string[] = [];
  if (data !== null) {
    picked = data;
    said.push(`data: ${describeData(data)}`);
  }
  for (const { preset, step, where, files } of checkpoints) {
    const store = new IndexedDBRunStore(preset);
    await store.clear();
    await store.putFolder('checkpoint', files);
    current = { label: `${where} (the ${preset} run at step ${step})`, files };
    said.push(`checkpoint of the ${preset} run at step ${step} (${where}), kept in this browser in place of its run: Resume continues it`);
  }
  for (const model of models) {
    current = model;
    said.push(`model ${model.label}`);
  }
  if (current !== null) said.push(`Generate uses ${current.label}`);
  for (const line of said) log(line);
  await status();
  return said.join('; ');
}

async function trainJob({ preset, steps, resume, fresh }: Extract<ToTrainer, { type: 'train' }>): Promise<string> {
  const store = new IndexedDBRunStore(preset);
  const data = TRAIN_PRESETS[preset].data === null ? null : (picked ?? (await servedData()));
  // a resumed run keeps its own model (the page's settings choose a fresh run's)
  const saved = resume ? await store.latestCheckpoint() : null;
  const model = saved === null ? fresh : (Object.fromEntries(FRESH_MODEL_KEYS.map((k) => [k, recordedSetting(saved.state.config, k)])) as FreshModel);
  const cfg = pageConfig(preset, steps, resume, model, store, data);
  const kept = resume ? await store.records() : [];
  let reason: string | null = null;
  const stop: StopRequests = { get reason() { return reason; }, onFirst: null, lastWords: () => '' }; // prettier-ignore
  let stepsDone = 0;
  requestStop = () => {
    if (reason !== null) return;
    reason = 'Stop';
    log(`Stop: finishing step ${stepsDone}, then saving a checkpoint in this browser`);
  };
  const progress = (c: TrainConfig, firstStep: number): TrainProgress => {
    stepsDone = firstStep;
    post({ type: 'start', from: firstStep, steps: c.steps, records: recordsBefore(kept, firstStep), tokensPerStep: c.batchSize * c.ctx * c.gradAccum });
    return {
      update: (done, m) => {
        stepsDone = done;
        post({ type: 'step', m });
      },
      interrupt: (line) => {
        // the loop's samples are 'sample: "…"' (a JSON string)
        if (line.startsWith('sample: ')) post({ type: 'sample', step: stepsDone, text: JSON.parse(line.slice('sample: '.length)) });
        else log(line);
      },
      stop: () => {},
    };
  };
  try {
    const result = await train(cfg, { store, openData: pageBatches(data), log, progress, stop });
    current = { label: `the ${preset} run's final model (step ${result.steps})`, files: (await store.folder('final'))! };
    return `done: ${result.steps} steps, final loss ${result.finalLoss.toFixed(4)}, ${result.tokensPerSecond.toFixed(0)} tokens/s`;
  } catch (e) {
    if (!(e instanceof TrainingStopped && reason !== null)) throw e;
    const files = await store.folder('checkpoint');
    if (files !== null) current = { label: `the ${preset} run's checkpoint (step ${stepsDone})`, files };
    throw new Stopped(`stopped at step ${stepsDone}; its checkpoint is kept in this browser: Resume continues it`);
  } finally {
    requestStop = null;
    await status();
  }
}

class Stopped extends Error {}

async function generateJob(req: Extract<ToTrainer, { type: 'generate' }>): Promise<string> {
  if (current === null) {
    const store = new IndexedDBRunStore(req.preset);
    const files = (await store.folder('final')) ?? (await store.folder('checkpoint'));
    if (files === null) throw new Error(`no model to generate from: train the ${req.preset} preset, or open a model folder (final/ or best/)`);
    current = { label: `the ${req.preset} run kept in this browser`, files };
  }
  if (built === null || built.files !== current.files || built.backend !== getBackend()) {
    built = { files: current.files, backend: getBackend(), model: modelFromFiles(current.files, current.label) };
  }
  const prompt = encodeOrdinary(req.prompt);
  if (prompt.length === 0) throw new Error('the prompt is empty: type a few words to continue');
  const ids: number[] = [];
  await generate(built.model, prompt, {
    maxNewTokens: req.maxNewTokens,
    temperature: req.temperature,
    topK: req.topK > 0 ? req.topK : null,
    stopAtEot: true,
    onToken: (id) => {
      ids.push(id);
      post({ type: 'token', text: decode([...prompt, ...ids]), tokens: ids.length });
    },
  });
  return `${ids.length} tokens from ${current.label} on ${getBackend().name}`;
}

async function download(preset: PagePreset, folder: 'checkpoint' | 'final'): Promise<string> {
  const store = new IndexedDBRunStore(preset);
  const files = await store.folder(folder);
  if (files === null) throw new Error(`this browser keeps no ${folder} of the ${preset} run${folder === 'final' ? ' (it is written when a run finishes)' : ''}`);
  const step = folder === 'checkpoint' ? `-step${checkpointFromFiles(files, store.checkpointName).state.step}` : '';
  const bytes = zipFolder(folder, files);
  post({ type: 'file', name: `tsgrad-${preset}-${folder}${step}.zip`, bytes }, [bytes.buffer as ArrayBuffer]);
  return `${folder} of the ${preset} run, ${(bytes.length / 1e6).toFixed(1)} MB`;
}

async function answer(msg: ToTrainer): Promise<void> {
  if (msg.type === 'check') return post(await check(msg.backend));
  const job: Job = msg.type === 'stop' ? 'train' : msg.type;
  try {
    let message = '';
    if (msg.type === 'backend') message = await chooseBackendJob(msg.choice);
    else if (msg.type === 'open') message = await open(msg.files);
    else if (msg.type === 'train') message = await trainJob(msg);
    else if (msg.type === 'generate') message = await generateJob(msg);
    else if (msg.type === 'download') message = await download(msg.preset, msg.folder);
    else if (msg.type === 'status') message = await status();
    post({ type: 'done', job, message });
  } catch (e) {
    if (e instanceof Stopped) post({ type: 'stopped', job: 'train', message: e.message });
    else post({ type: 'error', job, message: e instanceof Error ? e.message : String(e) });
  }
}

let queue = Promise.resolve();
port.onmessage = ({ data }) => {
  if (data.type === 'stop') requestStop?.();
  else queue = queue.then(() => answer(data));
};
