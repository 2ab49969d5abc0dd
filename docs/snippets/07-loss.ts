// Step 7: the loss. crossEntropy = mean of −log softmax(logits)[target]; its gradient is
// (softmax − onehot) / rows.
import { tensor, crossEntropy } from '../../src/index.ts';
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
