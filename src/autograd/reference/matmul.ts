// Reference matrix product: the triple loop, for every batch. Transposed operands are
// read through swapped strides, so the backward products dA = dC·Bᵀ and dB = Aᵀ·dC need
// no transpose copies. Accumulates in a JS number (float64), stores in the output type.
import type { HostArray, MatmulParams } from '../backend.ts';

/** out [batch, m, n] = op(a) · op(b). */
export function matmul(out: HostArray, a: HostArray, b: HostArray, p: MatmulParams): void {
  const { batch, m, k, n, transA, transB } = p;
  // element (i, l) of op(A) is a[i*ars + l*acs]; element (l, j) of op(B) is b[l*brs + j*bcs]
  const [ars, acs] = transA ? [1, m] : [k, 1];
  const [brs, bcs] = transB ? [1, k] : [n, 1];
  for (let bi = 0; bi < batch; bi++) {
    const aOff = p.aBatched ? bi * m * k : 0;
    const bOff = p.bBatched ? bi * k * n : 0;
    const cOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) acc += a[aOff + i * ars + l * acs] * b[bOff + l * brs + j * bcs];
        out[cOff + i * n + j] = acc;
      }
    }
  }
}
