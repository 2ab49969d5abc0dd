// The reference backend ('js'): every kernel in plain TypeScript over host typed arrays.
// Promise: always available, always correct, float32 and float64. Other backends are
// tested against it, and it is where float64 gradient checks run. Each kernel writes into
// output arrays made here: new ones (`new Float32Array(n)`) for the reference backend, so a
// tensor's numbers are its own for as long as it lives.
import type { Backend, BackendKernels } from '../backend.ts';
import { numel } from '../shape.ts';
import { completeBackend } from '../composed.ts';
import { allocLike, host, newArray, onHost, type Alloc } from './host.ts';
import * as ew from './elementwise.ts';
import * as lay from './layout.ts';
import { reduce } from './reduce.ts';
import { matmul } from './matmul.ts';
import * as sm from './softmax.ts';
import * as ln from './layernorm.ts';
import * as att from './attention.ts';
import * as emb from './embedding.ts';
import { adamw } from './adamw.ts';

/** A kernel as a backend method: its arguments checked to be on the host, its outputs made by `outs`. */
export const hostKernel = <A extends object, O>(kernel: (out: O, a: A) => void, outs: (a: A) => O) => (args: A): O => {
  const a = onHost(args) as A;
  const out = outs(a);
  kernel(out, a);
  return out;
};

/**
 * The reference kernels as a host backend whose kernels write into arrays from `alloc`
 * (zero-filled, of the inputs' precision). The reference backend passes `newArray`; a fast
 * host backend may pass its own allocator (the 'cpu' backend's memory pool) and replace the
 * kernels it has faster versions of. linearCrossEntropy and newtonSchulz (matmuls and
 * elementwise ops) are left to completeBackend.
 */
export function hostKernels(name: string, alloc: Alloc): BackendKernels {
  const like = allocLike(alloc);
  return {
    name,
    asyncOnly: false,
    fromHost: (x) => x,
    toHost: host,
    toHostAsync: async (x) => host(x),
    fill: (n, value, dtype) => alloc(dtype, n).fill(value),
    unary(op, xs) {
      const x = host(xs);
      const out = like(x, x.length);
      ew.unary(out, op, x);
      return out;
    },
    binary: hostKernel(ew.binary, (a) => like(a.a, numel(a.outShape))),
    maskedFill: hostKernel(ew.maskedFill, (a) => like(a.x, a.x.length)),
    permute: hostKernel(lay.permute, (a) => like(a.x, a.x.length)),
    slice: hostKernel(lay.slice, (a) => like(a.x, numel(a.size))),
    pad: hostKernel(lay.pad, (a) => like(a.x, numel(a.outShape))),
    reduce: hostKernel(reduce, (a) => like(a.x, numel(a.shape) / a.shape[a.axis])),
    matmul(as, bs, p) {
      const a = host(as);
      const out = like(a, p.batch * p.m * p.n);
      matmul(out, a, host(bs), p);
      return out;
    },

    softmax: hostKernel(sm.softmax, (a) => like(a.x, a.x.length)),
    softmaxBackward: hostKernel(sm.softmaxBackward, (a) => like(a.y, a.y.length)),
    logSoftmax: hostKernel(sm.logSoftmax, (a) => like(a.x, a.x.length)),
    logSoftmaxBackward: hostKernel(sm.logSoftmaxBackward, (a) => like(a.y, a.y.length)),
    crossEntropy: hostKernel(sm.crossEntropy, (a) => ({ loss: like(a.logits, a.rows), lse: like(a.logits, a.rows) })),
    crossEntropyBackward: hostKernel(sm.crossEntropyBackward, (a) => like(a.logits, a.logits.length)),
    layerNorm: hostKernel(ln.layerNorm, (a) => ({ y: like(a.x, a.x.length), mean: like(a.x, a.rows), rstd: like(a.x, a.rows) })),
    layerNormBackward: hostKernel(ln.layerNormBackward, (a) => ({ dx: like(a.x, a.x.length), dweight: like(a.weight, a.cols), dbias: like(a.weight, a.cols) })),
    attention: hostKernel(att.attention, (a) => ({ out: like(a.q, a.q.length), lse: like(a.q, a.BH * a.Tq) })),
    attentionBackward: hostKernel(att.attentionBackward, (a) => ({ dq: like(a.q, a.q.length), dk: like(a.k, a.k.length), dv: like(a.v, a.v.length) })),
    embedding: hostKernel(emb.embedding, (a) => like(a.weight, a.ids.length * a.C)),
    embeddingBackward: hostKernel(emb.embeddingBackward, (a) => like(a.dy, a.V * a.C)),
    adamw: hostKernel(adamw, (a) => ({ param: like(a.param, a.param.length), m: like(a.m, a.m.length), v: like(a.v, a.v.length) })),
  };
}

export const referenceBackend: Backend = completeBackend(hostKernels('js', newArray));
