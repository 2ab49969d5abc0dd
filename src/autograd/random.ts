// A small seeded pseudo-random generator (sfc32) used wherever tsgrad needs randomness:
// weight init, dropout masks, sampling, data shuffling. Same seed, same numbers, on every
// platform; its state can be saved and restored so a resumed run continues the stream.
// One global generator (defaultRng, seeded 0 at start; manualSeed(n) reseeds it, as PyTorch's
// torch.manual_seed) serves every layer, randn and dropout not given its own rng or seed, so
// two fresh layers get different weights and a program's numbers follow from its seed.
// Promise: deterministic; uniform() in [0, 1); normal() standard normal (Box–Muller).

export class Rng {
  private s: Uint32Array; // sfc32 state: a, b, c, counter

  /** Only the seed's low 32 bits count; a seed that is not an integer is an error. */
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng: seed must be an integer, got ${seed}`);
    this.s = new Uint32Array(4);
    // spread the seed into the state with splitmix32, then discard a few outputs
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32 random bits. */
  nextUint32(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller (one of the pair; simple and stateless). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1], so log is finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A uniformly random permutation of 0 … n−1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** The generator's state, for checkpoints. */
  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng.setState: expected 4 numbers, got ${state.length}`);
    this.s.set(state);
  }
}

const global = new Rng(0);

/** The global generator: what layers, randn, dropout and generate draw from without an rng or seed of their own. */
export function defaultRng(): Rng {
  return global;
}

/**
 * Reseeds the global generator (PyTorch's torch.manual_seed): the same seed, then the same
 * sequence of layer inits, randn calls and dropout masks, gives the same numbers. Only the
 * seed's low 32 bits count.
 */
export function manualSeed(seed: number): void {
  global.setState(new Rng(seed).getState());
}

/** `rng` if given, else a fresh Rng(seed) if a seed is given, else the global generator. */
export function rngFrom(opts: { rng?: Rng; seed?: number }): Rng {
  return opts.rng ?? (opts.seed !== undefined ? new Rng(opts.seed) : global);
}
