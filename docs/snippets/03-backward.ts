// Step 3: backward() orders the graph and sums the gradients a node receives from its children.
import { tensor } from '../../src/index.ts';
import { show } from './show.ts';

const x = tensor([0.5, -1, 2], { requiresGrad: true });
const y = x.mul(x); // y = x²
const z = y.add(x).tanh(); // z = tanh(x² + x): x reaches z along two paths
const loss = z.sum();

// Walk the recipe from the loss back to the leaf, as backward() does (depth first).
const ops: string[] = [];
const visit = (t: typeof loss, depth: number) => {
  ops.push(`${'  '.repeat(depth)}${t.gradFn?.op ?? 'leaf'} ${JSON.stringify(t.shape)}`);
  for (const p of t.gradFn?.parents ?? []) if (p.requiresGrad) visit(p, depth + 1);
};
visit(loss, 0);
console.log(ops.join('\n'));

loss.backward();
// d/dx tanh(x² + x) = (1 − tanh²(x² + x)) · (2x + 1): the 2x path and the 1 path, summed
const expected = [0.5, -1, 2].map((v) => (1 - Math.tanh(v * v + v) ** 2) * (2 * v + 1));
console.log('x.grad   =', show(x.grad));
console.log('by hand  =', show(tensor(expected)));
console.log('graph freed after backward:', loss.gradFn === null);
