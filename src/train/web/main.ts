// The tsgrad page's UI: train GPT-2 in the browser (the overfit preset, or TinyStories from a
// train.bin), watch the loss, the speed and samples, stop and resume (runs are kept in this
// browser's IndexedDB), download or open checkpoints and models (the folders `npm run train`
// writes), and generate from a prompt as the tokens come. The engine runs in the trainer worker
// (./trainer.worker.ts); this file only shows what it says. ?check=1 is the backend check
// (./check_page.ts).
// Automation: `?preset=overfit|tinystories&steps=N&head_vocab=full|data&backend=auto|cpu|webgpu|webasm|js&autostart=1`,
// and n_layer, d_model, n_heads (a fresh model's shape, as npm run train's --n-layer, --d-model,
// --n-heads; a value the page does not take is an error);
// document.body.dataset.state is `loading`, `ready`, then for each job `running` and `done`,
// `stopped` or `error`; dataset.step (steps done) and dataset.loss (the last step's) follow the
// run; window.tsgradRun (RunReport) holds the run's losses, speeds, samples and generated text.
import { LossChart } from './loss_chart.ts';
import { runChecks } from './check_page.ts';
import type { FreshModel, FromTrainer, PagePreset, Port, RunReport, SavedRun, ToTrainer } from './protocol.ts';
import { freshModelConfig, TRAIN_PRESETS } from '../config.ts';
import type { StepMetrics } from '../metrics.ts';

type State = 'loading' | 'ready' | 'running' | 'done' | 'stopped' | 'error';
type Answer = Extract<FromTrainer, { type: 'done' | 'error' | 'stopped' }>;

const body = document.body;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

function setState(state: State, text: string): void {
  body.dataset.state = state;
  $('status').textContent = text;
}

const worker = new Worker(new URL('./trainer.worker.js', import.meta.url), { type: 'module', name: 'tsgrad trainer' });
worker.onerror = (e) => setState('error', `the trainer worker failed: ${e.message}`);
const port = worker as unknown as Port<FromTrainer, ToTrainer>;

$('isolation').textContent = crossOriginIsolated
  ? `Cross-origin isolated: the cpu backend can use ${navigator.hardwareConcurrency} threads.`
  : 'Not cross-origin isolated (the server sent no COOP/COEP headers): the cpu backend runs on one thread.';

if (params.has('check')) {
  body.classList.add('check');
  runChecks(port, params.get('backends'), setState).catch((e: unknown) => setState('error', e instanceof Error ? e.message : String(e)));
} else {
  trainerPage();
}

/** Sets a menu from the URL's parameter `name`, when given; a value the menu does not offer is an error. */
function fromUrl(menu: HTMLSelectElement, name: string): void {
  const value = params.get(name);
  if (value === null) return;
  const offered = [...menu.options].map((o) => o.value);
  if (!offered.includes(value)) throw new Error(`?${name}=${value}: the page offers ${offered.join(', ')}`);
  menu.value = value;
}

/** A fresh model's shape from the URL's n_layer, d_model and n_heads, where given (null: the preset's). */
function shapeFromUrl(): Pick<FreshModel, 'nLayer' | 'dModel' | 'nHeads'> {
  const whole = (name: string) => {
    const value = params.get(name);
    if (value !== null && !/^[1-9]\d*$/.test(value)) throw new Error(`?${name}=${value}: a whole number ≥ 1`);
    return value === null ? null : Number(value);
  };
  return { nLayer: whole('n_layer'), dModel: whole('d_model'), nHeads: whole('n_heads') };
}

function trainerPage(): void {
  const report: RunReport = { backend: '', detail: '', losses: [], stepRates: [], samples: [], doneLine: null, generated: '', tokenMessages: 0, message: '' };
  (window as unknown as { tsgradRun: RunReport }).tsgradRun = report;
  const chart = new LossChart($('chart'));
  const preset = $<HTMLSelectElement>('preset');
  const steps = $<HTMLInputElement>('steps');
  const backend = $<HTMLSelectElement>('backend');
  const headVocab = $<HTMLSelectElement>('head-vocab');
  /** What the trainer last said is kept here (runs, the model Generate uses, the picked data), and what the server serves. */
  let kept: { runs: SavedRun[]; model: string | null; data: string | null } = { runs: [], model: null, data: null };
  let servedData: string | null = null;
  let busy = false;
  let total = 0; // the run's steps
  let rates: number[] = [];
  let shape: Pick<FreshModel, 'nLayer' | 'dModel' | 'nHeads'> = { nLayer: null, dModel: null, nHeads: null };
  /** The model a fresh run of the preset builds: the URL's shape, the head menu's head. */
  const fresh = (): FreshModel => ({ ...shape, headVocab: headVocab.value as FreshModel['headVocab'] });

  // ---- what the trainer says ----
  const pending: ((a: Answer) => void)[] = [];
  const log = (line: string) => {
    const div = $('log').appendChild(document.createElement('div'));
    div.textContent = line;
    div.scrollIntoView({ block: 'nearest' });
    if (line.startsWith('done: ')) report.doneLine = line;
  };
  const onStep = (m: StepMetrics) => {
    chart.add(m);
    report.losses[m.step] = m.loss;
    report.stepRates.push(m.tokens_per_s);
    rates = [...rates.slice(-9), m.tokens_per_s];
    body.dataset.step = String(m.step + 1);
    body.dataset.loss = String(m.loss);
    $('stat-step').textContent = `${m.step + 1} / ${total}`;
    $('stat-loss').textContent = m.loss.toFixed(4);
    $('stat-rate').textContent = (rates.reduce((a, b) => a + b, 0) / rates.length).toFixed(0);
    $('stat-time').textContent = `${m.elapsed_s.toFixed(1)} s`;
  };
  port.onmessage = ({ data: m }) => {
    if (m.type === 'done' || m.type === 'error' || m.type === 'stopped') pending.shift()?.(m);
    else if (m.type === 'log') log(m.line);
    else if (m.type === 'step') onStep(m.m);
    else if (m.type === 'start') {
      total = m.steps;
      rates = [];
      chart.reset(m.records);
      report.losses = m.records.flatMap((r) => ('loss' in r ? [r.loss] : []));
      $('stat-step').textContent = `${m.from} / ${m.steps}`;
    } else if (m.type === 'sample') {
      report.samples.push({ step: m.step, text: m.text });
      const li = $('samples').appendChild(document.createElement('li'));
      li.append(Object.assign(document.createElement('span'), { className: 'at', textContent: `step ${m.step}` }), m.text);
      li.scrollIntoView({ block: 'nearest' });
    } else if (m.type === 'token') {
      $('output').textContent = m.text;
      report.generated = m.text;
      report.tokenMessages++;
    } else if (m.type === 'status') {
      kept = { runs: m.runs, model: m.model, data: m.data };
      showStatus();
    }
    else if (m.type === 'backend') {
      report.backend = m.name;
      report.detail = m.detail;
      $('backend-info').textContent = `runs ${m.name}: ${m.detail}${m.why ? ` (auto passed over ${m.why})` : ''}`;
    } else if (m.type === 'file') {
      const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([m.bytes as BlobPart])), download: m.name });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } else log(`${m.type}: ${JSON.stringify(m)}`); // a check result: not asked here
  };

  function showStatus(): void {
    const { model, data } = kept;
    const run = kept.runs.find((r) => r.preset === preset.value);
    const saved = run?.checkpoint ? `checkpoint at step ${run.checkpoint.step} of ${run.checkpoint.steps}${run.final ? ', final model' : ''}` : run?.final ? 'final model' : null;
    const itsHead = run?.checkpoint ? ` (head ${run.checkpoint.headVocab})` : '';
    $('saved-info').textContent = saved ? `This browser keeps the ${preset.value} run${itsHead}: ${saved}. Train starts over (replacing it); Resume continues it, on its own model.` : `This browser keeps no ${preset.value} run yet.`;
    $<HTMLButtonElement>('resume').disabled = busy || !run?.checkpoint;
    $<HTMLButtonElement>('download-checkpoint').disabled = busy || !run?.checkpoint;
    $<HTMLButtonElement>('download-final').disabled = busy || !run?.final;
    $('model-info').textContent = model ? `Generate uses ${model}.` : run?.final || run?.checkpoint ? `Generate uses the ${preset.value} run kept in this browser.` : 'No model yet: train one, or open a model folder below.';
    const { n_layers, d_model } = freshModelConfig({ ...TRAIN_PRESETS[preset.value], ...fresh() });
    const head = headVocab.value === 'full' ? "a head row for each of GPT-2's 50,257 ids" : `a head row for each id of the ${preset.value === 'overfit' ? 'sentence' : 'data'} and one that the others share`;
    $('preset-info').textContent =
      `A fresh run: GPT-2 with ${n_layers} layers, d_model ${d_model} and ${head}. ` +
      (preset.value === 'overfit'
        ? "It memorises 'Hello, I am a large language model.' × 500, 4 × 32 tokens a step."
        : data
          ? `Data: ${data}.`
          : (servedData ?? 'Pick train.bin (and val.bin) below, made by npm run pretokenize, or start the page with npm run web -- --data DIR.'));
  }

  // ---- jobs ----
  const buttons = ['train', 'resume', 'generate', 'download-checkpoint', 'download-final', 'open-files', 'open-folder', 'backend', 'preset', 'head-vocab'];
  function setBusy(on: boolean, job: string): void {
    busy = on;
    for (const id of buttons) $<HTMLButtonElement>(id).disabled = on;
    $<HTMLButtonElement>('stop').disabled = !(on && job === 'train');
    if (!on) showStatus();
  }

  /** Asks the trainer and waits for its answer; `quiet` jobs (page start-up) leave the state alone. */
  async function run(msg: ToTrainer, doing: string, quiet = false, transfer: ArrayBuffer[] = []): Promise<Answer> {
    const answer = new Promise<Answer>((resolve) => pending.push(resolve));
    port.postMessage(msg, transfer);
    if (!quiet) {
      setBusy(true, msg.type);
      setState('running', doing);
    }
    const a = await answer;
    if (a.type === 'error' || !quiet) {
      report.message = a.message;
      setState(a.type === 'error' ? 'error' : a.type === 'stopped' ? 'stopped' : 'done', a.type === 'error' ? `${a.job}: ${a.message}` : a.message || `${doing.replace(/…$/, '')}: done`);
    }
    if (!quiet) setBusy(false, msg.type);
    return a;
  }

  const trainRun = (resume: boolean) => {
    const n = Number(steps.value);
    const checkpoint = kept.runs.find((r) => r.preset === preset.value)?.checkpoint;
    if (resume && checkpoint && n <= checkpoint.step) return setState('error', `the checkpoint is at step ${checkpoint.step}: raise steps above it to train further`);
    if (!resume) {
      $('samples').replaceChildren();
      report.stepRates = [];
      report.samples = [];
      report.doneLine = null;
    }
    return run({ type: 'train', preset: preset.value as PagePreset, steps: n, resume, fresh: fresh() }, `${resume ? 'resuming' : 'training'} ${preset.value}…`);
  };
  $('train').onclick = () => trainRun(false);
  $('resume').onclick = () => trainRun(true);
  $('stop').onclick = () => {
    port.postMessage({ type: 'stop' });
    $<HTMLButtonElement>('stop').disabled = true;
  };
  $('generate').onclick = () => {
    $('output').textContent = '';
    report.generated = '';
    report.tokenMessages = 0;
    run(
      {
        type: 'generate',
        preset: preset.value as PagePreset,
        prompt: $<HTMLInputElement>('prompt').value,
        maxNewTokens: Number($<HTMLInputElement>('max-tokens').value),
        temperature: Number($<HTMLInputElement>('temperature').value),
        topK: Number($<HTMLInputElement>('top-k').value),
      },
      'generating…',
    );
  };
  $('download-checkpoint').onclick = () => run({ type: 'download', preset: preset.value as PagePreset, folder: 'checkpoint' }, 'packing the checkpoint…');
  $('download-final').onclick = () => run({ type: 'download', preset: preset.value as PagePreset, folder: 'final' }, 'packing the final model…');
  backend.onchange = () => run({ type: 'backend', choice: backend.value }, `starting ${backend.value}…`);
  /** The preset's own steps and head, as `npm run train -- --preset NAME` has them. */
  const presetDefaults = () => {
    const { steps: n, headVocab: head } = TRAIN_PRESETS[preset.value];
    steps.value = String(n);
    headVocab.value = head;
  };
  preset.onchange = () => {
    presetDefaults();
    showStatus();
  };
  headVocab.onchange = showStatus;
  for (const id of ['open-files', 'open-folder']) {
    const input = $<HTMLInputElement>(id);
    input.onchange = async () => {
      const files = await Promise.all([...(input.files ?? [])].map(async (f) => ({ path: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
      input.value = '';
      if (files.length > 0) await run({ type: 'open', files }, `opening ${files.length} file${files.length === 1 ? '' : 's'}…`, false, files.map((f) => f.bytes.buffer as ArrayBuffer));
    };
  }

  // ---- start-up: the URL's settings, the backend, what this browser keeps, data served with the page ----
  (async () => {
    fromUrl(preset, 'preset');
    presetDefaults();
    steps.value = params.get('steps') ?? steps.value;
    fromUrl(headVocab, 'head_vocab');
    fromUrl(backend, 'backend');
    shape = shapeFromUrl();
    freshModelConfig({ ...TRAIN_PRESETS[preset.value], ...fresh() }); // d_model a multiple of n_heads
    const head = await fetch('data/train.bin', { method: 'HEAD' });
    if (head.ok) servedData = `data/train.bin served with the page (${(Number(head.headers.get('Content-Length')) / 2).toLocaleString('en')} tokens); picking files here uses those instead.`;
    for (const [msg, doing] of [[{ type: 'backend', choice: backend.value }, 'starting the backend…'], [{ type: 'status' }, 'reading what this browser keeps…']] as const) {
      $('status').textContent = doing;
      if ((await run(msg, doing, true)).type === 'error') return;
    }
    setState('ready', 'ready');
    setBusy(false, '');
    if (params.get('autostart') === '1') await trainRun(false);
  })().catch((e: unknown) => setState('error', e instanceof Error ? e.message : String(e)));
}
