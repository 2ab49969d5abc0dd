// Elementwise ops with NumPy broadcasting, each forward next to its backward (micrograd style).
// Promise: out[i] = f(a[i], b[i]) over the broadcast shape; the gradient of a broadcast
// input is summed back over the dims it was stretched along (`unbroadcast`).
import type { BinaryOp, UnaryOp } from '../backend.ts';
import { isHost } from '../backend.ts';
import { broadcastShapes, fmt, sameShape } from '../shape.ts';
import { backendOf, fromOp, full, Tensor, wrap } from '../tensor.ts';

/** A number becomes a scalar tensor on the same backend, with the same dtype, as `like`. */
export function asTensor(x: Tensor | number, like: Tensor): Tensor {
  return x instanceof Tensor ? x : full([], x, { dtype: like.dtype, backend: like.backend });
}

/**
 * The gradient of a broadcast input: sum g over the leading dims that broadcasting added
 * and over the dims where the input had size 1, then give it the input's shape.
 */
export function unbroadcast(g: Tensor, shape: number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return g.sum(axes, true).reshape(shape);
}

function binaryOp(op: BinaryOp, a: Tensor, bIn: Tensor | number, backward: (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  const b = asTensor(bIn, a);
  const be = backendOf(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out: Tensor = fromOp(op, be.binary({ op, a: a.storage, aShape: a.shape, b: b.storage, bShape: b.shape, outShape: shape }), shape, a, [a, b], (g) => {
    const [ga, gb] = backward(g, a, b, out);
    return [ga && unbroadcast(ga, a.shape), gb && unbroadcast(gb, b.shape)];
  });
  return out;
}

// d(a+b) = da + db
export function add(a: Tensor, b: Tensor | number): Tensor {
  return binaryOp('add', a, b, (g) => [g, g]);
}

// d(a−b) = da − db
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return binaryOp('sub', a, b, (g) => [g, g.neg()]);
}

// d(a·b) = b·da + a·db
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return binaryOp('mul', a, b, (g, a, b) => [g.mul(b), g.mul(a)]);
}

// d(a/b) = da/b − a·db/b²
export function div(a: Tensor, b: Tensor | number): Tensor {
  return binaryOp('div', a, b, (g, a, b) => [g.div(b), g.mul(a).div(b.mul(b)).neg()]);
}

// d(aᵇ) = b·aᵇ⁻¹·da + aᵇ·ln(a)·db   (the db term only when b is a tensor that needs it)
export function pow(a: Tensor, b: Tensor | number): Tensor {
  const bNeedsGrad = b instanceof Tensor && b.requiresGrad;
  return binaryOp('pow', a, b, (g, a, b, out) => [g.mul(b).mul(a.pow(b.sub(1))), bNeedsGrad ? g.mul(out).mul(a.log()) : null]);
}

/** 1 where a equals b, else 0 (broadcasting). A comparison: it has no gradient. */
export function eq(a: Tensor, bIn: Tensor | number): Tensor {
  const b = asTensor(bIn, a);
  const be = backendOf('eq', a, b);
  const shape = broadcastShapes('eq', a.shape, b.shape);
  return wrap(be.binary({ op: 'eq', a: a.storage, aShape: a.shape, b: b.storage, bShape: b.shape, outShape: shape }), shape, a);
}

function unaryOp(op: UnaryOp, x: Tensor, backward: (g: Tensor, x: Tensor, out: Tensor) => Tensor): Tensor {
  const out: Tensor = fromOp(op, x.backend.unary(op, x.storage), x.shape, x, [x], (g) => [backward(g, x, out)]);
  return out;
}

// d(−x) = −dx
export function neg(x: Tensor): Tensor {
  return unaryOp('neg', x, (g) => g.neg());
}

// d(eˣ) = eˣ·dx
export function exp(x: Tensor): Tensor {
  return unaryOp('exp', x, (g, _x, out) => g.mul(out));
}

// d(ln x) = dx/x. A negative input would give NaN silently; on host memory we check.
export function log(x: Tensor): Tensor {
  if (isHost(x.storage)) {
    const i = x.storage.findIndex((v) => v < 0 || Number.isNaN(v));
    if (i >= 0) throw new Error(`log: input ${fmt(x.shape)} has ${x.storage[i]} at flat index ${i}; log of a negative number is NaN`);
  }
  return unaryOp('log', x, (g, x) => g.div(x));
}

// d(√x) = dx / (2√x)
export function sqrt(x: Tensor): Tensor {
  return unaryOp('sqrt', x, (g, _x, out) => g.div(out.mul(2)));
}

// d(tanh x) = (1 − tanh²x)·dx
export function tanh(x: Tensor): Tensor {
  return unaryOp('tanh', x, (g, _x, out) => g.mul(out.mul(out).neg().add(1)));
}

// d(relu x) = step(x)·dx
export function relu(x: Tensor): Tensor {
  return unaryOp('relu', x, (g, x) => g.mul(wrap(x.backend.unary('step', x.storage), x.shape, x)));
}

/**
 * GPT-2's GELU, the tanh approximation (Hugging Face `gelu_new`):
 *   gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 * The seed used torch's `nn.GELU()`, the exact erf form 0.5·x·(1 + erf(x/√2)); the two
 * differ by < 1e-3 everywhere, but pretrained GPT-2 weights expect the tanh form.
 * One unary kernel each way, like relu: d(gelu x) = gelu'(x)·dx, gelu' the unary 'gelu_grad'
 * (tests check both against the formula composed of primitive ops).
 */
export function gelu(x: Tensor): Tensor {
  return unaryOp('gelu', x, (g, x) => g.mul(wrap(x.backend.unary('gelu_grad', x.storage), x.shape, x)));
}

/** out = mask ? value : x, with mask (nonzero = true) broadcast to x. No gradient flows to the mask. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const be = backendOf('maskedFill', x, mask);
  if (!sameShape(broadcastShapes('maskedFill', x.shape, mask.shape), x.shape)) {
    throw new Error(`maskedFill: mask ${fmt(mask.shape)} must broadcast to the input ${fmt(x.shape)}`);
  }
  const filled = be.maskedFill({ x: x.storage, shape: x.shape, mask: mask.storage, maskShape: mask.shape, value });
  return fromOp('maskedFill', filled, x.shape, x, [x], (g) => [g.maskedFill(mask, 0)]);
}
