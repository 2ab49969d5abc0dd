// linearCrossEntropy as two matmuls around the cross-entropy kernels, for any backend:
//   logits = x·wᵀ [N, V];  loss, lse = crossEntropy(logits)
//   dlogits = crossEntropyBackward(logits, …) (logits recomputed);  dx = dlogits·w;  dw = dlogitsᵀ·x
// Promise: exactly the composition of the backend's own kernels, so a backend that has no fused
// version (the reference, the gpu.js backends) stays correct and keeps data on its device.
import type { Backend, MatmulParams } from './backend.ts';

const product = (m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulParams => ({ batch: 1, m, k, n, transA, transB, aBatched: false, bBatched: false });

/** The two kernels, calling whatever `self()` returns (the finished backend) for the pieces. */
export function composedLinearCrossEntropy(self: () => Backend): Pick<Backend, 'linearCrossEntropy' | 'linearCrossEntropyBackward'> {
  return {
    linearCrossEntropy(x, w, targets, N, C, V, ignoreIndex) {
      const be = self();
      const logits = be.matmul(x, w, product(N, C, V, false, true)); // [N, V]
      return be.crossEntropy(logits, targets, N, V, ignoreIndex);
    },
    linearCrossEntropyBackward(x, w, lse, targets, dloss, N, C, V, ignoreIndex) {
      const be = self();
      const logits = be.matmul(x, w, product(N, C, V, false, true)); // [N, V], recomputed
      const dlogits = be.crossEntropyBackward(logits, lse, targets, dloss, N, V, ignoreIndex); // [N, V]
      return {
        dx: be.matmul(dlogits, w, product(N, V, C, false, false)), // [N, C]
        dw: be.matmul(dlogits, x, product(V, N, C, true, false)), // [V, C]
      };
    },
  };
}
