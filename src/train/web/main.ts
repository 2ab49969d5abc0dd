// The tsgrad page's UI, for now a diagnostic: it runs the backend check (./backend_check.ts)
// in the trainer worker on each backend, and shows which backends run in this browser, on
// what, how long the check took, the GPT-2 losses, and how far each backend's numbers are
// from the reference 'js' computed on this page.
// Automation: `?backends=js,cpu` picks the backends (default js, cpu, webgpu, webasm);
// document.body.dataset.state is `running`, then `done` (every backend answered, available
// or not) or `error` (the worker failed); `window.tsgradReport` (PageReport) is set when done.
import { checkErrors } from './backend_check.ts';
import type { FromTrainer, PageReport, Port, ToTrainer } from './protocol.ts';

const DEFAULT_BACKENDS = ['js', 'cpu', 'webgpu', 'webasm'];

const body = document.body;
const status = document.getElementById('status')!;
const rows = document.getElementById('backends')!;

function setState(state: 'running' | 'done' | 'error', text: string): void {
  body.dataset.state = state;
  status.textContent = text;
}

/** Appends a table row of plain-text cells. */
function row(cells: string[], className: string): void {
  const tr = document.createElement('tr');
  tr.className = className;
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  rows.append(tr);
}

function show(r: FromTrainer, reference: FromTrainer | undefined): void {
  if (r.type === 'unavailable') return row([r.backend, 'unavailable', r.reason, '', '', ''], 'unavailable');
  if (r.type === 'failed') return row([r.backend, 'failed', r.error, '', '', ''], 'failed');
  const losses = r.values['gpt2.losses'].map((l) => l.toFixed(4)).join(' → ');
  let vsJs = '';
  if (reference?.type === 'checked' && r.backend !== 'js') {
    const worst = Math.max(...Object.values(checkErrors(r.values, reference.values)));
    vsJs = worst.toExponential(1);
  }
  row([r.backend, 'ran', r.detail, `${(r.ms / 1000).toFixed(1)} s`, losses, vsJs], 'ran');
}

async function main(): Promise<void> {
  const asked = new URLSearchParams(location.search).get('backends');
  const backends = asked ? asked.split(',').map((s) => s.trim()).filter((s) => s) : DEFAULT_BACKENDS;
  document.getElementById('isolation')!.textContent = crossOriginIsolated
    ? `cross-origin isolated: the cpu backend can use ${navigator.hardwareConcurrency} threads`
    : 'not cross-origin isolated (the server sent no COOP/COEP headers): the cpu backend runs on one thread';
  const worker = new Worker(new URL('./trainer.worker.js', import.meta.url), { type: 'module', name: 'tsgrad trainer' });
  worker.onerror = (e) => setState('error', `the trainer worker failed: ${e.message}`);
  const port = worker as unknown as Port<FromTrainer, ToTrainer>;
  const results: FromTrainer[] = [];
  for (const backend of backends) {
    setState('running', `checking ${backend}…`);
    const answer = new Promise<FromTrainer>((resolve) => (port.onmessage = (e) => resolve(e.data)));
    port.postMessage({ type: 'check', backend });
    const r = await answer;
    results.push(r);
    show(r, results.find((x) => x.backend === 'js'));
  }
  worker.terminate();
  const report: PageReport = { crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, userAgent: navigator.userAgent, results };
  (window as unknown as { tsgradReport: PageReport }).tsgradReport = report;
  const ran = results.filter((r) => r.type === 'checked').map((r) => r.backend);
  setState('done', `done: ${ran.length ? ran.join(', ') : 'no backend'} ran`);
}

main().catch((e: unknown) => setState('error', e instanceof Error ? e.message : String(e)));
