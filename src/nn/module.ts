// Module: the base class of every layer, as torch.nn.Module. Parameters are the Parameter
// fields (./parameter.ts), frozen ones included; submodules are Module fields and arrays of
// Modules (ModuleList).
// Promise: namedParameters() lists each parameter once, under dotted names ('h.0.attn.c_attn.weight'),
// in field order; a parameter reachable twice (a tied weight) is listed under its first name.
import { hostLike, type Tensor } from '../autograd/tensor.ts';
import { fmt, sameShape } from '../autograd/shape.ts';
import { Parameter } from './parameter.ts';

export abstract class Module {
  training = true;

  /** Own parameters and those of submodules, by dotted name. */
  namedParameters(prefix = '', seen = new Set<Parameter>()): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [key, value] of Object.entries(this)) {
      const name = prefix + key;
      if (value instanceof Parameter) {
        if (!seen.has(value)) {
          seen.add(value);
          out.push([name, value]);
        }
      } else if (value instanceof Module) {
        out.push(...value.namedParameters(name + '.', seen));
      } else if (Array.isArray(value)) {
        value.forEach((m, i) => {
          if (m instanceof Module) out.push(...m.namedParameters(`${name}.${i}.`, seen));
        });
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Submodules, depth first, this one included. */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const value of Object.values(this)) {
      if (value instanceof Module) out.push(...value.modules());
      else if (Array.isArray(value)) for (const m of value) if (m instanceof Module) out.push(...m.modules());
    }
    return out;
  }

  /** Training mode (dropout active) or, with false, evaluation mode; for every submodule. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Number of parameters (a tied weight counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** The parameters by name (the tensors themselves, not copies), frozen ones included. */
  stateDict(): Map<string, Parameter> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies values into the parameters, checking names and shapes. The parameter objects
   * keep their identity (optimizers and tied weights still point at them).
   * strict: every parameter must be present and no unknown name may appear.
   */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const own = new Map(this.namedParameters());
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const unexpected = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length > 0 || unexpected.length > 0) {
        throw new Error(`loadStateDict: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
      }
    }
    for (const [name, value] of state) {
      const p = own.get(name);
      if (p === undefined) continue;
      if (!sameShape(p.shape, value.shape)) {
        throw new Error(`loadStateDict: ${name} has shape ${fmt(value.shape)} but the model expects ${fmt(p.shape)}`);
      }
      p.storage = p.backend.fromHost(hostLike(p, value.data));
    }
  }
}
