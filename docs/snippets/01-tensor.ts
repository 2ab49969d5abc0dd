// Step 1 of the tour: a Tensor is numbers + shape + (for results of ops) the recipe that made them.
import { tensor } from '../../src/index.ts';
import { show } from './show.ts';

const a = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true }); // a leaf: we want dL/da
const b = tensor([10, 20, 30]); // a constant: no gradient needed

console.log('a.shape', JSON.stringify(a.shape), 'dtype', a.dtype, 'backend', a.backend.name);
console.log('a.data', a.data); // the storage: a flat row-major Float32Array

const c = a.mul(b); // b is broadcast over a's rows: [2, 3] * [3] → [2, 3]
console.log('c =', show(c));
console.log('c.gradFn.op', c.gradFn?.op, '| parents', c.gradFn?.parents.length, '| a is a leaf:', a.gradFn === null);

const loss = c.sum(); // a scalar, so backward() needs no seed gradient
console.log('loss =', loss.item());
loss.backward();
console.log('dloss/da =', show(a.grad)); // each row gets b: d(Σ a·b)/da = b
console.log('b.grad =', b.grad, '(b does not require grad)');
