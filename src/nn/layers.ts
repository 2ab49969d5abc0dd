// The basic layers, each a thin Module around one autograd op: Linear, Embedding,
// LayerNorm, GELU, Dropout. Weights are shaped as in PyTorch (Linear weight [out, in]).
// Initialisation follows PyTorch's defaults unless a std is given; randomness comes from the
// layer's own `rng` or `seed` if given, else from the global generator (manualSeed), so two
// fresh layers differ and a program is reproducible from its seed.
import { tensor, ones, zeros, randn, type Tensor } from '../autograd/tensor.ts';
import { defaultRng, rngFrom, type Rng } from '../autograd/random.ts';
import { linear } from '../autograd/ops/matmul.ts';
import { embedding } from '../autograd/ops/embedding.ts';
import { dropout } from '../autograd/ops/dropout.ts';
import { layerNorm } from '../autograd/ops/layernorm.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';
import { knownOptions } from './options.ts';

export interface InitOptions {
  /** The generator to draw the weights from (default: the global one, see manualSeed). */
  rng?: Rng;
  /** Draw the weights from a fresh Rng(seed) instead. */
  seed?: number;
  /** Normal(0, std) weights instead of PyTorch's default init. */
  std?: number;
}
const INIT_OPTIONS = { rng: true, seed: true, std: true } as const satisfies Record<keyof InitOptions, true>;

/** Uniform(−bound, bound) parameter, PyTorch's default for Linear. */
function uniform(shape: number[], bound: number, rng: Rng): Parameter {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = (2 * rng.uniform() - 1) * bound;
  return new Parameter(tensor(v, { shape }));
}

/** Normal(0, std) parameter; std 0 gives zeros without drawing numbers (a loader fills them in). */
function normal(shape: number[], std: number, rng: Rng): Parameter {
  return new Parameter(std === 0 ? zeros(shape) : randn(shape, { rng, std }));
}

/** y = x·Wᵀ + b, weight [outFeatures, inFeatures], bias [outFeatures]. */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: InitOptions & { bias?: boolean } = {}) {
    super();
    knownOptions('Linear', opts, { ...INIT_OPTIONS, bias: true });
    const rng = rngFrom(opts);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = opts.std !== undefined ? normal([outFeatures, inFeatures], opts.std, rng) : uniform([outFeatures, inFeatures], bound, rng);
    this.bias = opts.bias === false ? null : opts.std !== undefined ? new Parameter(zeros([outFeatures])) : uniform([outFeatures], bound, rng);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias); // [..., in] → [..., out]
  }
}

/** A table of numEmbeddings vectors of size embeddingDim, looked up by integer id. */
export class Embedding extends Module {
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: InitOptions = {}) {
    super();
    knownOptions('Embedding', opts, INIT_OPTIONS);
    this.weight = normal([numEmbeddings, embeddingDim], opts.std ?? 1, rngFrom(opts));
  }

  /** ids of shape idsShape → [...idsShape, embeddingDim]. */
  forward(ids: ArrayLike<number>, idsShape: number[] = [ids.length]): Tensor {
    return embedding(this.weight, ids, idsShape);
  }
}

/** Normalises the last axis to mean 0, variance 1, then scales and shifts per feature. */
export class LayerNorm extends Module {
  weight: Parameter;
  bias: Parameter;

  constructor(
    normalizedShape: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = new Parameter(ones([normalizedShape]));
    this.bias = new Parameter(zeros([normalizedShape]));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** GPT-2's tanh-approximated GELU (see ops/elementwise.ts for how it differs from the seed's). */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return x.gelu();
  }
}

/** Zeroes elements with probability p while training; the identity in eval mode. Masks come from `rng` (default: the global generator). */
export class Dropout extends Module {
  constructor(
    readonly p: number,
    readonly rng: Rng = defaultRng(),
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p, this.rng) : x;
  }
}
