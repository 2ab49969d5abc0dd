// Tests of the test helpers themselves: gradcheck must reject a deliberately wrong backward
// (a missing factor, a swapped element, a gradient that never arrives), checkFloat32 must
// reject a kernel that is off by more than its tolerance, and both must accept correct ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../src/autograd/index.ts';
import { fromOp } from '../src/autograd/tensor.ts';
import { assertSameFunction, checkFloat32, gradcheck, scalarize } from './helpers/gradcheck.ts';
import { t64 } from './helpers/arbitraries.ts';

/** x² with a backward of our choosing. */
function square(x: Tensor, backward: (g: Tensor, x: Tensor) => Tensor): Tensor {
  const out = x.detach().mul(x.detach());
  return fromOp('square', out.storage, x.shape, x, [x], (g) => [backward(g, x)]);
}

test('gradcheck accepts a correct backward and returns a tiny error', () => {
  const worst = gradcheck((x) => square(x, (g, x) => g.mul(x).mul(2)), [t64([2, 3], 1)]);
  assert.ok(worst < 1e-8, `worst ${worst}`);
});

test('gradcheck rejects a backward missing a factor of 2', () => {
  assert.throws(() => gradcheck((x) => square(x, (g, x) => g.mul(x)), [t64([2, 3], 1)]), /gradcheck: input 0 .* flat index 0: analytic/);
});

test('gradcheck rejects a backward that swaps two elements', () => {
  const swapped = (g: Tensor, x: Tensor) => {
    const d = Float64Array.from(g.mul(x).mul(2).data);
    [d[0], d[1]] = [d[1], d[0]];
    return tensor(d, { shape: x.shape, dtype: 'float64' });
  };
  assert.throws(() => gradcheck((x) => square(x, swapped), [t64([4], 2)]), /gradcheck/);
});

test('gradcheck rejects a gradient that never reaches an input', () => {
  const cut = (x: Tensor, y: Tensor) => x.mul(y.detach());
  assert.throws(() => gradcheck(cut, [t64([3], 1), t64([3], 2)]), /input 1 .*no gradient reached this input/);
});

test('checkFloat32 rejects an op that is wrong only in float32', () => {
  const sloppy = (x: Tensor) => (x.dtype === 'float32' ? x.mul(1 + 1e-3) : x);
  assert.throws(() => checkFloat32(sloppy, [t64([5], 3)]), /float32 vs float64 forward/);
  checkFloat32((x) => x.mul(1 + 1e-3), [t64([5], 3)]);
});

test('assertSameFunction rejects a different backward with the same forward', () => {
  assert.throws(
    () => assertSameFunction((x) => square(x, (g, x) => g.mul(x).mul(2)), (x) => square(x, (g, x) => g.mul(x).mul(2.001)), [t64([3], 4)]),
    /gradient of input 0/,
  );
});

test('scalarize keeps scalars and projects other outputs with a fixed random matrix', () => {
  const s = tensor([[2.5]], { dtype: 'float64' });
  assert.equal(scalarize(s).item(), 2.5);
  const y = t64([3, 2], 5);
  assert.equal(scalarize(y).item(), scalarize(y).item()); // deterministic
  assert.notEqual(scalarize(y).item(), y.sum().item());
});
