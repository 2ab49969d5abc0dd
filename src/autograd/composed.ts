// linearCrossEntropy composed of the backend's own kernels, for any backend:
//   logits = x·wᵀ [N, V];  loss, lse = crossEntropy(logits)
//   with grad: dlogits = crossEntropyBackward(logits, lse, dloss = 1);  dx = dlogits·w;  dw = dlogitsᵀ·x
// Promise: exactly the composition of the backend's own kernels, so a backend that has no fused
// version (the reference, the host fallbacks) stays correct and keeps data where it computes.
import type { Backend, MatmulParams } from './backend.ts';

const product = (m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulParams => ({ batch: 1, m, k, n, transA, transB, aBatched: false, bBatched: false });

/** The kernel, calling whatever `self()` returns (the finished backend) for the pieces. */
export function composedLinearCrossEntropy(self: () => Backend): Pick<Backend, 'linearCrossEntropy'> {
  return {
    linearCrossEntropy(x, w, targets, N, C, V, ignoreIndex, withGrad) {
      const be = self();
      const logits = be.matmul(x, w, product(N, C, V, false, true)); // [N, V]
      const { loss, lse } = be.crossEntropy(logits, targets, N, V, ignoreIndex);
      if (!withGrad) return { loss, dx: null, dw: null };
      const ones = be.fill(N, 1, x instanceof Float64Array ? 'float64' : 'float32'); // dΣloss/dloss
      const dlogits = be.crossEntropyBackward(logits, lse, targets, ones, N, V, ignoreIndex); // [N, V]
      return {
        loss,
        dx: be.matmul(dlogits, w, product(N, V, C, false, false)), // [N, C]
        dw: be.matmul(dlogits, x, product(V, N, C, true, false)), // [V, C]
      };
    },
  };
}
