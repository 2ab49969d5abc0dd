// Step 4: nn layers are Modules; their parameters are their Parameter fields, found by walking them.
import { tensor, Linear, LayerNorm, GELU, Rng, Module } from '../../src/index.ts';
import { show } from './show.ts';

class TinyMLP extends Module {
  ln = new LayerNorm(4);
  fc = new Linear(4, 8, { rng: new Rng(0), std: 0.5 });
  gelu = new GELU();
  proj = new Linear(8, 2, { rng: new Rng(1), std: 0.5 });
  forward(x: ReturnType<typeof tensor>) {
    return this.proj.forward(this.gelu.forward(this.fc.forward(this.ln.forward(x))));
  }
}

const m = new TinyMLP();
for (const [name, p] of m.namedParameters()) console.log(name.padEnd(12), JSON.stringify(p.shape));
console.log('parameters:', m.numParameters());

const x = tensor([[1, 2, 3, 4], [0, 0, 1, -1]]); // [B=2, C=4]
const h = m.ln.forward(x);
console.log('layerNorm rows:', show(h));
console.log('gelu(-1, 0, 1, 3):', show(tensor([-1, 0, 1, 3]).gelu()));
m.ln.weight.requiresGrad = false; // frozen: still a parameter, but it gets no gradient
const y = m.forward(x); // [2, 2]
console.log('y', JSON.stringify(y.shape), '=', show(y));
y.sum().backward();
console.log('fc.bias.grad', show(m.fc.bias!.grad));
console.log('frozen ln.weight: grad', m.ln.weight.grad, '| in stateDict', m.stateDict().has('ln.weight'), '| parameters', m.numParameters());
