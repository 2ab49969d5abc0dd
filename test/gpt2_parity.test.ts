// Parity with PyTorch on the host backends: the tiny GPT-2 fixture's logits, loss, every
// gradient (both loss paths) and 10 AdamW steps (losses and parameters) on the reference `js`
// backend and on `cpu`, the backend `auto` picks on most machines, each within its stated
// tolerances (test/helpers/parity.ts). The gpu.js backends run the same check in
// test/gpujs_backends.test.ts. The errors of every tensor are printed.
import { test } from 'node:test';
import '../src/autograd/backends/available.ts';
import { setBackend } from '../src/autograd/backends/registry.ts';
import { openBackend } from './helpers/backends.ts';
import { matchesPyTorch } from './helpers/parity.ts';

for (const name of ['js', 'cpu']) {
  test(`GPT-2 on ${name} matches PyTorch: logits, loss, every gradient, 10 AdamW steps and the parameters after them`, async (t) => {
    const backend = await openBackend(t, name, () => setBackend(name));
    if (backend) await matchesPyTorch(t, backend);
  });
}
