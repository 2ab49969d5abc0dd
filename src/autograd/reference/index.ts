// The reference backend ('js'): every kernel in plain TypeScript over host typed arrays.
// Promise: always available, always correct, float32 and float64. Other backends are
// tested against it, and it is where float64 gradient checks run. Each kernel writes into
// output arrays made here: new ones (`new Float32Array(n)`) for the reference backend, so a
// tensor's numbers are its own for as long as it lives.
import type { Backend, BackendKernels, HostArray } from '../backend.ts';
import { dtypeOf } from '../backend.ts';
import { numel } from '../shape.ts';
import { completeBackend } from '../composed.ts';
import { host, newArray, onHost, type Alloc } from './host.ts';
import * as ew from './elementwise.ts';
import * as lay from './layout.ts';
import { reduce } from './reduce.ts';
import { matmul } from './matmul.ts';
import * as sm from './softmax.ts';
import * as ln from './layernorm.ts';
import * as att from './attention.ts';
import * as emb from './embedding.ts';
import { adamw } from './adamw.ts';

/**
 * The reference kernels as a host backend whose kernels write into arrays from `alloc`
 * (zero-filled, of the inputs' precision). The reference backend passes `newArray`; a fast
 * host backend may pass its own allocator (the 'cpu' backend's memory pool) and replace the
 * kernels it has faster versions of. linearCrossEntropy is left to completeBackend.
 */
export function hostKernels(name: string, alloc: Alloc): BackendKernels {
  /** n numbers of x's precision. */
  const like = (x: HostArray, n: number): HostArray => alloc(dtypeOf(x), n);
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
    binary(a) {
      const h = onHost(a);
      const out = like(h.a, numel(a.outShape));
      ew.binary(out, h);
      return out;
    },
    maskedFill(a) {
      const h = onHost(a);
      const out = like(h.x, h.x.length);
      ew.maskedFill(out, h);
      return out;
    },
    permute(a) {
      const h = onHost(a);
      const out = like(h.x, h.x.length);
      lay.permute(out, h);
      return out;
    },
    slice(a) {
      const h = onHost(a);
      const out = like(h.x, numel(a.size));
      lay.slice(out, h);
      return out;
    },
    pad(a) {
      const h = onHost(a);
      const out = like(h.x, numel(a.outShape));
      lay.pad(out, h);
      return out;
    },
    reduce(a) {
      const h = onHost(a);
      const out = like(h.x, numel(a.shape) / a.shape[a.axis]);
      reduce(out, h);
      return out;
    },
    matmul(as, bs, p) {
      const a = host(as);
      const out = like(a, p.batch * p.m * p.n);
      matmul(out, a, host(bs), p);
      return out;
    },

    softmax(a) {
      const h = onHost(a);
      const out = like(h.x, h.x.length);
      sm.softmax(out, h);
      return out;
    },
    softmaxBackward(a) {
      const h = onHost(a);
      const dx = like(h.y, h.y.length);
      sm.softmaxBackward(dx, h);
      return dx;
    },
    logSoftmax(a) {
      const h = onHost(a);
      const out = like(h.x, h.x.length);
      sm.logSoftmax(out, h);
      return out;
    },
    logSoftmaxBackward(a) {
      const h = onHost(a);
      const dx = like(h.y, h.y.length);
      sm.logSoftmaxBackward(dx, h);
      return dx;
    },
    crossEntropy(a) {
      const h = onHost(a);
      const out = { loss: like(h.logits, a.rows), lse: like(h.logits, a.rows) };
      sm.crossEntropy(out, h);
      return out;
    },
    crossEntropyBackward(a) {
      const h = onHost(a);
      const dx = like(h.logits, h.logits.length);
      sm.crossEntropyBackward(dx, h);
      return dx;
    },
    layerNorm(a) {
      const h = onHost(a);
      const out = { y: like(h.x, h.x.length), mean: like(h.x, a.rows), rstd: like(h.x, a.rows) };
      ln.layerNorm(out, h);
      return out;
    },
    layerNormBackward(a) {
      const h = onHost(a);
      const out = { dx: like(h.x, h.x.length), dweight: like(h.weight, a.cols), dbias: like(h.weight, a.cols) };
      ln.layerNormBackward(out, h);
      return out;
    },
    attention(a) {
      const h = onHost(a);
      const out = { out: like(h.q, h.q.length), lse: like(h.q, a.BH * a.Tq) };
      att.attention(out, h);
      return out;
    },
    attentionBackward(a) {
      const h = onHost(a);
      const out = { dq: like(h.q, h.q.length), dk: like(h.k, h.k.length), dv: like(h.v, h.v.length) };
      att.attentionBackward(out, h);
      return out;
    },
    embedding(a) {
      const h = onHost(a);
      const out = like(h.weight, a.ids.length * a.C);
      emb.embedding(out, h);
      return out;
    },
    embeddingBackward(a) {
      const h = onHost(a);
      const dweight = like(h.dy, a.V * a.C);
      emb.embeddingBackward(dweight, h);
      return dweight;
    },
    adamw(a) {
      const h = onHost(a);
      const out = { param: like(h.param, h.param.length), m: like(h.m, h.m.length), v: like(h.v, h.v.length) };
      adamw(out, h);
      return out;
    },
  };
}

export const referenceBackend: Backend = completeBackend(hostKernels('js', newArray));
