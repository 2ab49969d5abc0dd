// Step 2: one op, forward and backward. C = A·B, and backward gives dA = dC·Bᵀ, dB = Aᵀ·dC.
import { tensor } from '../../src/index.ts';
import { show } from './show.ts';

const A = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true }); // [3, 2]
const B = tensor([[1, 0, -1, 2], [0, 1, 1, -2]], { requiresGrad: true }); // [2, 4]
const C = A.matmul(B); // [3, 4]
console.log('C', JSON.stringify(C.shape), '=', show(C));

// Pretend the loss is Σ C ⊙ G for a fixed G, so dL/dC = G.
const G = tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]);
C.backward(G);
console.log('dA = G·Bᵀ =', show(A.grad), JSON.stringify(A.grad!.shape));
console.log('dB = Aᵀ·G =', show(B.grad), JSON.stringify(B.grad!.shape));

// The same numbers from the formulas, with ops of their own (no graph needed):
console.log('check dA:', show(G.matmul(B.detach().transpose())));
console.log('check dB:', show(A.detach().transpose().matmul(G)));
