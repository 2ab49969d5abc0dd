// Step 7: the loss. crossEntropy = mean of −log softmax(logits)[target]; its gradient is
// (softmax − onehot) / rows. GPT-2 trains with linearCrossEntropy(x, W): the lm head x·Wᵀ and
// that loss in one op, which makes its gradients in the forward.
import { tensor, crossEntropy, linearCrossEntropy } from '../../src/index.ts';
import { num, show } from './show.ts';

const logits = tensor([[2, 1, 0.1], [0.5, 2.5, -1]], { requiresGrad: true }); // [rows=2, V=3]
const targets = [0, 2];
const loss = crossEntropy(logits, targets);

const p = logits.detach().softmax(-1);
const byHand = (-Math.log(p.data[0 * 3 + 0]) - Math.log(p.data[1 * 3 + 2])) / 2;
console.log('softmax =', show(p));
console.log('loss', num(loss.item()), '| by hand', num(byHand));

loss.backward();
console.log('dlogits            =', show(logits.grad));
console.log('(softmax − onehot)/2 =', show(p.sub(tensor([[1, 0, 0], [0, 0, 1]])).div(2)));

// ignoreIndex −1 skips a row (the mean is over the rows that count)
console.log('with row 1 ignored:', num(crossEntropy(logits.detach(), [0, -1]).item()), '= −log p[0][0] =', num(-Math.log(p.data[0])));

// The head and the loss in one op: with x = I, x·Wᵀ = Wᵀ, so W = logitsᵀ gives the same logits
const x = tensor([[1, 0], [0, 1]], { requiresGrad: true }); // [rows=2, C=2]
const W = tensor([[2, 0.5], [1, 2.5], [0.1, -1]], { requiresGrad: true }); // [V=3, C=2]
const fused = linearCrossEntropy(x, W, targets);
console.log('linearCrossEntropy', num(fused.item()), '= crossEntropy(x·Wᵀ)', num(loss.item()));
fused.backward(); // scales the dW and dx that the forward made
console.log('dW      =', show(W.grad));
console.log('dlogitsᵀ·x =', show(logits.grad!.transpose(0, 1).matmul(x.detach())));
