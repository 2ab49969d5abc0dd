// What every optimizer offers the training loop.
import { hostLike, Tensor } from '../../autograd/tensor.ts';

export interface Optimizer {
  /** Applies one update to every parameter that has a gradient (a parameter without one, e.g. a frozen one, is left alone). */
  step(): void;
  zeroGrad(): void;
  /** Sets the learning rate of every group (a schedule calls this before each step). */
  setLr(lr: number): void;
  params(): Tensor[];
  /**
   * The tensors it carries from one step to the next, per parameter, as PyTorch's
   * `optimizer.state[p]`: AdamW's moments m and v, SGD's momentum buffer. A parameter gets
   * its entry at its first update.
   */
  readonly state: Map<Tensor, Record<string, Tensor>>;
}

/** Every tensor in an optimizer's state (all parameters' moments or buffers). */
export function stateTensors(optimizer: Optimizer): Tensor[] {
  return [...optimizer.state.values()].flatMap((s) => Object.values(s));
}

/** A momentum buffer per parameter, as SGD and Muon keep them. */
export type MomentumBuffers = Map<Tensor, { momentum: Tensor }>;

/** The buffers as float32 arrays in params' order (null for a parameter not yet updated), for checkpoints. */
export function momentumArrays(params: Tensor[], buffers: MomentumBuffers): Promise<(Float32Array | null)[]> {
  return Promise.all(params.map(async (p) => {
    const b = buffers.get(p)?.momentum;
    return b === undefined ? null : Float32Array.from(await b.toArray());
  }));
}

/** Buffers from momentumArrays' output (a checkpoint's): one array or null per parameter, each of its size. */
export function momentumFromArrays(who: string, params: Tensor[], arrays: (ArrayLike<number> | null)[]): MomentumBuffers {
  if (arrays.length !== params.length) throw new Error(`${who}.loadStateDict: ${arrays.length} buffers for ${params.length} parameters`);
  const buffers: MomentumBuffers = new Map();
  params.forEach((p, i) => {
    const b = arrays[i];
    if (b === null) return;
    if (b.length !== p.size) throw new Error(`${who}.loadStateDict: buffer ${i} has ${b.length} numbers, its parameter ${p.size}`);
    buffers.set(p, { momentum: new Tensor(p.backend.fromHost(hostLike(p, b)), p.shape, p.dtype, p.backend) });
  });
  return buffers;
}
