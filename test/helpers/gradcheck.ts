// Gradient checking: the analytic gradient from backward() against central finite
// differences, both in float64; and a float32 forward checked against the float64 one.
// Every failure throws an Error naming the input, flat index and both numbers, so a
// fast-check property that calls these prints a shrunk, reproducible counterexample.
import { noGrad, randn, tensor, type Tensor } from '../../src/autograd/index.ts';

/**
 * Finite-difference step and tolerances, float64 throughout.
 *
 *   numeric = (f(x + eps) − f(x − eps)) / (2·eps),  eps = 1e-6
 *
 * Error of the central difference: truncation ≈ eps²·|f'''|/6 ≈ 1e-13 for the O(1)–O(10)
 * third derivatives of the smooth functions we test, plus rounding ≈ ε_mach·|f|/eps ≈
 * 1.1e-16·|f|/1e-6 ≈ 1e-10·|f|, i.e. ≤ 1e-8 for |f| ≤ 100 (our losses are sums over
 * ≤ ~100 O(1) terms). The check  |analytic − numeric| ≤ 1e-6 + 1e-4·|numeric|  therefore
 * leaves ≥ 100× headroom over that noise, while a real gradient bug (a wrong factor, a
 * missing term, a transposed index) is off by O(|g|), far above it.
 * Inputs must keep eps ≪ the distance to any kink (relu at 0, max ties): callers draw
 * values at least 0.1 away from them.
 */
export const GRADCHECK_EPS = 1e-6;
export const GRADCHECK_ATOL = 1e-6;
export const GRADCHECK_RTOL = 1e-4;

/** A function of float64 tensors; returns a scalar, or any tensor (then projected). */
export type TensorFn = (...inputs: Tensor[]) => Tensor;

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the fixed random projection that reduces a non-scalar output to a scalar. */
  projectionSeed?: number;
}

/** Fresh float64 leaves with the same numbers (so each evaluation builds its own graph). */
function leaves(xs: Tensor[], requiresGrad: boolean): Tensor[] {
  return xs.map((x) => tensor(Float64Array.from(x.data), { shape: [...x.shape], dtype: 'float64', requiresGrad }));
}

/**
 * Reduces f's output to a scalar: as-is when it has one element, else Σ out ⊙ R with a
 * fixed R ~ N(0,1) of the output's shape. A random projection makes every output element
 * matter with a different weight, so a gradient that swaps or sums two outputs is caught
 * (a plain sum would hide, e.g., a softmax gradient that forgets the Jacobian).
 */
export function scalarize(out: Tensor, projectionSeed = 1234): Tensor {
  if (out.size === 1) return out.reshape([]);
  const R = randn(out.shape, { seed: projectionSeed, dtype: out.dtype });
  return out.mul(R).sum();
}

function describe(xs: Tensor[]): string {
  return xs.map((x) => `[${x.shape.join(',')}]`).join(', ');
}

/**
 * Throws unless the analytic gradient of scalarize(f(...inputs)) w.r.t. every input equals
 * central finite differences within |a − n| ≤ atol + rtol·|n|. Inputs must be float64;
 * their values are copied, never modified. Returns the largest |a − n| seen.
 */
export function gradcheck(f: TensorFn, inputs: Tensor[], opts: GradcheckOptions = {}): number {
  const eps = opts.eps ?? GRADCHECK_EPS;
  const atol = opts.atol ?? GRADCHECK_ATOL;
  const rtol = opts.rtol ?? GRADCHECK_RTOL;
  const seed = opts.projectionSeed ?? 1234;
  for (const x of inputs) if (x.dtype !== 'float64') throw new Error(`gradcheck: inputs must be float64, got ${x.dtype}`);

  // analytic
  const xs = leaves(inputs, true);
  const loss = scalarize(f(...xs), seed);
  if (loss.dtype !== 'float64') throw new Error(`gradcheck: f returned ${loss.dtype}, expected float64`);
  loss.backward();

  // numeric: perturb one element at a time, on fresh copies, without a graph
  const base = inputs.map((x) => Float64Array.from(x.data));
  const evalAt = (which: number, at: number, value: number): number =>
    noGrad(() => {
      const ys = inputs.map((x, i) => {
        const d = Float64Array.from(base[i]);
        if (i === which) d[at] = value;
        return tensor(d, { shape: [...x.shape], dtype: 'float64' });
      });
      return scalarize(f(...ys), seed).item();
    });

  let worst = 0;
  for (let i = 0; i < inputs.length; i++) {
    const g = xs[i].grad;
    if (g !== null && (g.size !== inputs[i].size || g.shape.join(',') !== inputs[i].shape.join(','))) {
      throw new Error(`gradcheck: input ${i} of ${describe(inputs)} got a gradient of shape [${g.shape.join(',')}]`);
    }
    const analytic = g === null ? new Float64Array(inputs[i].size) : g.data;
    for (let j = 0; j < base[i].length; j++) {
      const x0 = base[i][j];
      const numeric = (evalAt(i, j, x0 + eps) - evalAt(i, j, x0 - eps)) / (2 * eps);
      const a = analytic[j];
      const err = Math.abs(a - numeric);
      if (!(err <= atol + rtol * Math.abs(numeric))) {
        throw new Error(
          `gradcheck: input ${i} (of ${describe(inputs)}) flat index ${j}: analytic ${a} vs numeric ${numeric} ` +
            `(|diff| ${err.toExponential(3)} > ${atol} + ${rtol}·|numeric|)${g === null ? ' [no gradient reached this input]' : ''}`,
        );
      }
      worst = Math.max(worst, err);
    }
  }
  return worst;
}

/**
 * A constant (mask, exponent, target table) in the dtype of x, without a gradient: lets one
 * TensorFn close over float64 constants and still run on checkFloat32's float32 inputs.
 */
export function like(c: Tensor, x: Tensor): Tensor {
  return c.dtype === x.dtype ? c : tensor(c.data, { shape: [...c.shape], dtype: x.dtype });
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  what?: string;
}

/** Throws unless |a − b| ≤ atol + rtol·|b| elementwise (shapes must match). NaN ≠ anything. */
export function assertClose(a: Tensor | ArrayLike<number>, b: Tensor | ArrayLike<number>, opts: CloseOptions = {}): void {
  const atol = opts.atol ?? 1e-12;
  const rtol = opts.rtol ?? 1e-9;
  const what = opts.what ?? 'values';
  const isT = (x: Tensor | ArrayLike<number>): x is Tensor => typeof (x as Tensor).backward === 'function';
  if (isT(a) && isT(b) && a.shape.join(',') !== b.shape.join(',')) {
    throw new Error(`${what}: shape [${a.shape.join(',')}] vs [${b.shape.join(',')}]`);
  }
  const da = isT(a) ? a.data : a;
  const db = isT(b) ? b.data : b;
  if (da.length !== db.length) throw new Error(`${what}: ${da.length} vs ${db.length} elements`);
  for (let i = 0; i < da.length; i++) {
    const x = da[i];
    const y = db[i];
    if (x === y) continue; // also equal infinities
    const err = Math.abs(x - y);
    if (!(err <= atol + rtol * Math.abs(y))) {
      throw new Error(`${what}: flat index ${i}: ${x} vs ${y} (|diff| ${err.toExponential(3)} > ${atol} + ${rtol}·|expected|)`);
    }
  }
}

/**
 * float32 forward tolerance by default: |f32 − f64| ≤ 1e-5 + 1e-5·|f64|. float32 rounds
 * at 2⁻²⁴ ≈ 6e-8 relative; an op chain of depth d over reductions of n ≤ ~16 O(1) terms
 * accumulates ≲ (d + n)·6e-8·max|term| ≈ 1e-6, so 1e-5 is ~10× headroom, while a kernel
 * that reads the wrong element or forgets a term is off by O(1).
 */
export const F32_ATOL = 1e-5;
export const F32_RTOL = 1e-5;

/**
 * Runs f on float32 copies of the (float64) inputs and on float64 copies of those same
 * float32-rounded numbers, and throws unless the outputs agree within the tolerance.
 * (Rounding the float64 inputs first means only the op's own float32 error is measured.)
 * With grads: true also compares the gradients of the projected output w.r.t. each input.
 */
export function checkFloat32(f: TensorFn, inputs: Tensor[], opts: CloseOptions & { grads?: boolean; gradAtol?: number; gradRtol?: number } = {}): void {
  const atol = opts.atol ?? F32_ATOL;
  const rtol = opts.rtol ?? F32_RTOL;
  const grads = opts.grads ?? false;
  const x32 = inputs.map((x) => tensor(Float32Array.from(x.data), { shape: [...x.shape], dtype: 'float32', requiresGrad: grads }));
  const x64 = x32.map((x) => tensor(Float64Array.from(x.data), { shape: [...x.shape], dtype: 'float64', requiresGrad: grads }));
  const run = (xs: Tensor[]) => (grads ? f(...xs) : noGrad(() => f(...xs)));
  const y32 = run(x32);
  const y64 = run(x64);
  if (y32.dtype !== 'float32') throw new Error(`checkFloat32: f returned ${y32.dtype} for float32 inputs`);
  assertClose(y32, y64, { atol, rtol, what: `${opts.what ?? 'f'}: float32 vs float64 forward` });
  if (!grads) return;
  scalarize(y32).backward();
  scalarize(y64).backward();
  x32.forEach((x, i) => {
    const g32 = x.grad;
    const g64 = x64[i].grad;
    if (g32 === null || g64 === null) throw new Error(`checkFloat32: input ${i} got no gradient`);
    assertClose(g32, g64, { atol: opts.gradAtol ?? 1e-4, rtol: opts.gradRtol ?? 1e-4, what: `${opts.what ?? 'f'}: float32 vs float64 gradient of input ${i}` });
  });
}

/**
 * Throws unless f and g (e.g. a fused kernel and its composition from primitive ops) give
 * the same forward output and the same gradients of the projected output w.r.t. every
 * input, in float64. Default tolerance 1e-10 + 1e-8·|expected|: both are float64
 * computations of the same formula in a different order, so they differ only by rounding
 * (≈ 1e-15 relative per op), far below it.
 */
export function assertSameFunction(f: TensorFn, g: TensorFn, inputs: Tensor[], opts: CloseOptions = {}): void {
  const atol = opts.atol ?? 1e-10;
  const rtol = opts.rtol ?? 1e-8;
  const what = opts.what ?? 'fused vs composed';
  const xf = leaves(inputs, true);
  const xg = leaves(inputs, true);
  const yf = f(...xf);
  const yg = g(...xg);
  assertClose(yf, yg, { atol, rtol, what: `${what}: forward` });
  scalarize(yf).backward();
  scalarize(yg).backward();
  xf.forEach((x, i) => {
    const gf = x.grad;
    const gg = xg[i].grad;
    if (gf === null || gg === null) throw new Error(`${what}: input ${i} got no gradient (${gf === null ? 'first' : 'second'} function)`);
    assertClose(gf, gg, { atol, rtol, what: `${what}: gradient of input ${i}` });
  });
}
