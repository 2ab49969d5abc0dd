// Step 11: every kernel runs behind the Backend interface. Wrap the reference backend to
// count kernel calls, make it current, and watch a forward and a backward pass use it.
import { referenceBackend, setBackend, getBackend, randn, tensor, type Backend } from '../../src/index.ts';
import { causalAttention } from '../../src/index.ts';

const calls = new Map<string, number>();
const counting = Object.fromEntries(
  Object.entries(referenceBackend).map(([name, fn]) => [
    name,
    typeof fn === 'function' ? (...args: unknown[]) => (calls.set(name, (calls.get(name) ?? 0) + 1), (fn as (...a: unknown[]) => unknown)(...args)) : fn,
  ]),
) as unknown as Backend;

await setBackend({ ...counting, name: 'counting' });
console.log('current backend:', getBackend().name);
const x = randn([1, 2, 4, 8], { seed: 0, requiresGrad: true }); // created on the current backend
const w = tensor(new Float32Array(8 * 8).fill(0.1), { shape: [8, 8], requiresGrad: true });
const h = x.matmul(w); // [1, 2, 4, 8]
const y = causalAttention(h, h, h).sum();
const forward = new Map(calls);
y.backward();
const fmt = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}×${n}`).join(' ');
console.log('forward :', fmt(forward));
for (const [k, n] of forward) calls.set(k, (calls.get(k) ?? 0) - n);
for (const [k, n] of calls) if (n === 0) calls.delete(k);
console.log('backward:', fmt(calls));
await setBackend('js');
console.log('back to:', getBackend().name);
