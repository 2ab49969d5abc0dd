// fast-check arbitraries for the op property tests: small shapes, broadcastable shape
// pairs, batched-matmul shape pairs; and seeded float64 input tensors in safe domains.
// Values come from a seed (part of the counterexample), so every failure is reproducible.
import { test } from 'node:test';
import fc from 'fast-check';
import { Rng, tensor, type Tensor } from '../../src/autograd/index.ts';

/** A shape of rank minRank … maxRank, each dim 1 … maxDim. */
export function shapeArb(minRank = 0, maxRank = 3, maxDim = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/**
 * Two shapes that broadcast (NumPy rules): both derive from one output shape; each may
 * drop leading dims (leading broadcast) and set any dim to 1 (size-1 broadcast).
 */
export function broadcastPairArb(maxRank = 3, maxDim = 3): fc.Arbitrary<[number[], number[]]> {
  return fc
    .record({
      out: shapeArb(1, maxRank, maxDim),
      onesA: fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
      onesB: fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
      dropA: fc.nat(maxRank),
      dropB: fc.nat(maxRank),
    })
    .map(({ out, onesA, onesB, dropA, dropB }) => {
      const make = (ones: boolean[], drop: number) => out.slice(Math.min(drop, out.length)).map((d, i) => (ones[i] ? 1 : d));
      return [make(onesA, dropA), make(onesB, dropB)] as [number[], number[]];
    });
}

/**
 * Batched matmul operands [..., m, k] @ [..., k, n] with broadcast batch dims: each side
 * has 0–2 batch dims drawn from a common batch shape, some set to 1 or dropped, so the
 * cases include 2-D @ 2-D, a shared 2-D operand on either side, and partial broadcasts.
 */
export function matmulPairArb(): fc.Arbitrary<[number[], number[]]> {
  return fc
    .record({
      batch: shapeArb(0, 2, 3),
      m: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 4 }),
      n: fc.integer({ min: 1, max: 3 }),
      onesA: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      onesB: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      dropA: fc.nat(2),
      dropB: fc.nat(2),
    })
    .map(({ batch, m, k, n, onesA, onesB, dropA, dropB }) => {
      const b = (ones: boolean[], drop: number) => batch.slice(Math.min(drop, batch.length)).map((d, i) => (ones[i] ? 1 : d));
      return [
        [...b(onesA, dropA), m, k],
        [...b(onesB, dropB), k, n],
      ] as [number[], number[]];
    });
}

export const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

export type Domain =
  /** N(0, 1) */
  | 'normal'
  /** uniform in [lo, hi] */
  | { lo: number; hi: number }
  /** |x| in [0.1, 2], random sign: at least 0.1 from relu's kink at 0 */
  | 'awayFromZero'
  /** a shuffled ramp in about [−1.25, 1.25]: values pairwise ≥ 1.75/n apart (no max ties) */
  | 'distinct';

/** Float64 numbers of a shape from a seed, in a domain where every op here is smooth. */
export function values(shape: number[], seed: number, domain: Domain = 'normal'): Float64Array {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  if (domain === 'distinct') {
    const perm = rng.permutation(n);
    const step = 2.5 / n; // consecutive ranks are `step` apart; noise < 0.3·step keeps gaps ≥ 0.7·step
    for (let i = 0; i < n; i++) out[i] = (perm[i] - n / 2) * step + 0.3 * step * rng.uniform();
    return out;
  }
  for (let i = 0; i < n; i++) {
    if (domain === 'normal') out[i] = rng.normal();
    else if (domain === 'awayFromZero') out[i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.1 + 1.9 * rng.uniform());
    else out[i] = domain.lo + (domain.hi - domain.lo) * rng.uniform();
  }
  return out;
}

/** A float64 leaf tensor with values(shape, seed, domain). */
export function t64(shape: number[], seed: number, domain: Domain = 'normal', requiresGrad = false): Tensor {
  return tensor(values(shape, seed, domain), { shape: [...shape], dtype: 'float64', requiresGrad });
}

/** Run count for the properties, overridable for a longer soak: TSGRAD_RUNS=500. */
export function runs(n: number): number {
  const env = Number(process.env.TSGRAD_RUNS);
  return Number.isFinite(env) && env > 0 ? env : n;
}

/**
 * A node:test test that asserts a fast-check property. On failure fast-check shrinks the
 * input and the thrown error (includeErrorInReport) is printed with the counterexample.
 */
export function property<T>(name: string, arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns = 150): void {
  test(name, () => {
    fc.assert(
      fc.property(arb, (v) => {
        body(v);
      }),
      { numRuns: runs(numRuns), includeErrorInReport: true },
    );
  });
}
