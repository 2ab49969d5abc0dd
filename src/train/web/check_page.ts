// The page's check mode (?check=1): the backend check (./backend_check.ts) in the trainer worker
// on each backend, showing which backends run in this browser, on what, how long the check took,
// the GPT-2 losses, and how far each backend's numbers are from the reference 'js' computed on
// this page. `&backends=js,cpu` picks the backends (default js, cpu, webgpu, webasm);
// document.body.dataset.state is `running`, then `done` (every backend answered, available or
// not) or `error` (the worker failed); `window.tsgradReport` (PageReport) is set when done.
import { checkErrors } from './backend_check.ts';
import type { CheckResult, FromTrainer, PageReport, Port, ToTrainer } from './protocol.ts';

const DEFAULT_BACKENDS = ['js', 'cpu', 'webgpu', 'webasm'];

export async function runChecks(port: Port<FromTrainer, ToTrainer>, asked: string | null, setState: (state: 'running' | 'done', text: string) => void): Promise<void> {
  const rows = document.getElementById('check-rows')!;
  const row = (cells: string[], className: string) => {
    const tr = document.createElement('tr');
    tr.className = className;
    for (const text of cells) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
    rows.append(tr);
  };
  const show = (r: CheckResult, reference: CheckResult | undefined) => {
    if (r.type === 'unavailable') return row([r.backend, 'unavailable', r.reason, '', '', ''], 'unavailable');
    if (r.type === 'failed') return row([r.backend, 'failed', r.error, '', '', ''], 'failed');
    const losses = r.values['gpt2.losses'].map((l) => l.toFixed(4)).join(' → ');
    const vsJs = reference?.type === 'checked' && r.backend !== 'js' ? Math.max(...Object.values(checkErrors(r.values, reference.values))).toExponential(1) : '';
    row([r.backend, 'ran', r.detail, `${(r.ms / 1000).toFixed(1)} s`, losses, vsJs], 'ran');
  };
  const backends = asked ? asked.split(',').map((s) => s.trim()).filter((s) => s) : DEFAULT_BACKENDS;
  const results: CheckResult[] = [];
  for (const backend of backends) {
    setState('running', `checking ${backend}…`);
    const answer = new Promise<CheckResult>((resolve) => (port.onmessage = (e) => resolve(e.data as CheckResult)));
    port.postMessage({ type: 'check', backend });
    const r = await answer;
    results.push(r);
    show(r, results.find((x) => x.backend === 'js'));
  }
  const report: PageReport = { crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, userAgent: navigator.userAgent, results };
  (window as unknown as { tsgradReport: PageReport }).tsgradReport = report;
  const ran = results.filter((r) => r.type === 'checked').map((r) => r.backend);
  setState('done', `done: ${ran.length ? ran.join(', ') : 'no backend'} ran`);
}
