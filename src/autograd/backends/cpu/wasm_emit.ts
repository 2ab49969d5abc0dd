// A tiny WebAssembly binary emitter: just enough of the format to write the cpu kernels
// in TypeScript and turn them into bytes at run time (no .wasm files in the repo).
// Promise: `ModuleBuilder.build()` returns a valid module whose functions were written with
// the expression helpers below; every helper returns the bytes of one wasm expression.
//
// How to read kernel code written with it: wasm is a stack machine, and each helper emits
// its operands first and then its opcode, so `i32.add(get(a), i32.const(4))` is the bytes
// of `local.get a; i32.const 4; i32.add`. Nesting helpers reads like ordinary expressions.

/** The bytes of one or more wasm instructions. */
export type Code = number[];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

// ---- LEB128 and other encodings ------------------------------------------------------------

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0; // i32 only
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** Concatenates code fragments (later fragments run later). */
export function seq(...parts: (Code | Code[])[]): Code {
  const out: Code = [];
  for (const p of parts) {
    if (p.length > 0 && Array.isArray(p[0])) for (const q of p as Code[]) out.push(...q);
    else out.push(...(p as Code));
  }
  return out;
}

// ---- locals and control flow ---------------------------------------------------------------

export const get = (i: number): Code => [0x20, ...uleb(i)];
export const set = (i: number, v: Code): Code => [...v, 0x21, ...uleb(i)];
export const tee = (i: number, v: Code): Code => [...v, 0x22, ...uleb(i)];
export const call = (fn: number, ...args: Code[]): Code => [...args.flat(), 0x10, ...uleb(fn)];
export const drop = (v: Code): Code => [...v, 0x1a];
/** select(a, b, cond) = cond ? a : b */
export const select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];

// Blocks. Branch depths count outwards from the innermost enclosing block/loop (0).
export const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
export const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
export const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...uleb(depth)];
export const if_ = (cond: Code, then: Code, else_?: Code): Code =>
  else_ ? [...cond, 0x04, 0x40, ...then, 0x05, ...else_, 0x0b] : [...cond, 0x04, 0x40, ...then, 0x0b];
export const ret = (): Code => [0x0f];

/**
 * for (i = from; i < to; i += step) body   (signed i32 compare). Inside body, br(1) is
 * `break` and a branch to the loop head would skip the increment, so bodies avoid it.
 */
export function forRange(i: number, from: Code, to: Code, step: Code | number, body: Code): Code {
  const stepCode = typeof step === 'number' ? i32.const(step) : step;
  return seq(
    set(i, from),
    block(loop(brIf(1, i32.ge_s(get(i), to)), body, set(i, i32.add(get(i), stepCode)), br(0))),
  );
}

// ---- scalar instructions ---------------------------------------------------------------------

/** memarg: alignment (log2 bytes) and a constant byte offset. */
const mem = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
const bin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, op];
const un = (op: number) => (a: Code): Code => [...a, op];

export const i32 = {
  const: (n: number): Code => [0x41, ...sleb(n)],
  load: (addr: Code, offset = 0): Code => [...addr, 0x28, ...mem(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x36, ...mem(2, offset)],
  eqz: un(0x45),
  eq: bin(0x46),
  ne: bin(0x47),
  lt_s: bin(0x48),
  lt_u: bin(0x49),
  gt_s: bin(0x4a),
  le_s: bin(0x4c),
  ge_s: bin(0x4e),
  add: bin(0x6a),
  sub: bin(0x6b),
  mul: bin(0x6c),
  and: bin(0x71),
  or: bin(0x72),
  shl: bin(0x74),
  shr_s: bin(0x75),
  /** min/max of signed ints, via select */
  min: (a: Code, b: Code, ta: number, tb: number): Code => select(get(ta), get(tb), i32.lt_s(tee(ta, a), tee(tb, b))),
  reinterpret_f32: un(0xbc),
  trunc_sat_f32_s: (a: Code): Code => [...a, 0xfc, 0x00],
};

export const f32 = {
  const: (x: number): Code => {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return [0x43, ...b];
  },
  load: (addr: Code, offset = 0): Code => [...addr, 0x2a, ...mem(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x38, ...mem(2, offset)],
  eq: bin(0x5b),
  lt: bin(0x5d),
  gt: bin(0x5e),
  ge: bin(0x60),
  abs: un(0x8b),
  neg: un(0x8c),
  nearest: un(0x90),
  sqrt: un(0x91),
  add: bin(0x92),
  sub: bin(0x93),
  mul: bin(0x94),
  div: bin(0x95),
  min: bin(0x96),
  max: bin(0x97),
  convert_i32_s: un(0xb2),
  demote_f64: un(0xb6),
  reinterpret_i32: un(0xbe),
};

export const f64 = {
  const: (x: number): Code => {
    const b = new Uint8Array(new Float64Array([x]).buffer);
    return [0x44, ...b];
  },
  load: (addr: Code, offset = 0): Code => [...addr, 0x2b, ...mem(3, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x39, ...mem(3, offset)],
  add: bin(0xa0),
  sub: bin(0xa1),
  mul: bin(0xa2),
  div: bin(0xa3),
  sqrt: un(0x9f),
  max: bin(0xa5),
  convert_i32_s: un(0xb7),
  promote_f32: un(0xbb),
};

/** memory.fill(dst, byteValue, nBytes) (bulk memory). */
export const memoryFill = (dst: Code, value: Code, n: Code): Code => [...dst, ...value, ...n, 0xfc, 0x0b, 0x00];

// ---- 128-bit SIMD (4 × f32, 2 × f64) -------------------------------------------------------------

const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const vbin = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const vun = (op: number) => (a: Code): Code => [...a, ...simd(op)];

export const v128 = {
  load: (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), ...mem(4, offset)],
  /** Loads one f32 and copies it into all four lanes. */
  load32_splat: (addr: Code, offset = 0): Code => [...addr, ...simd(0x09), ...mem(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x0b), ...mem(4, offset)],
  /** Loads one f32 into lane 0 (the other lanes 0). */
  load32_zero: (addr: Code, offset = 0): Code => [...addr, ...simd(0x5c), ...mem(2, offset)],
  /** Loads two f32 into lanes 0 and 1 (the other lanes 0). */
  load64_zero: (addr: Code, offset = 0): Code => [...addr, ...simd(0x5d), ...mem(3, offset)],
  /** Stores lane 0 (an f32). */
  store32_lane0: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x5a), ...mem(2, offset), 0],
  /** Stores lanes 0 and 1 (two f32, as one 64-bit lane). */
  store64_lane0: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x5b), ...mem(3, offset), 0],
  zero: (): Code => [...simd(0x0c), ...new Array<number>(16).fill(0)],
  and: vbin(0x4e),
  /** andnot(a, b) = a & ~b */
  andnot: vbin(0x4f),
  or: vbin(0x50),
  /** bitselect(a, b, mask) = (a & mask) | (b & ~mask) */
  bitselect: (a: Code, b: Code, mask: Code): Code => [...a, ...b, ...mask, ...simd(0x52)],
  /** i8x16.shuffle with 16 lane indices into the concatenation a‖b. */
  shuffle: (a: Code, b: Code, lanes: number[]): Code => [...a, ...b, ...simd(0x0d), ...lanes],
};

export const f32x4 = {
  splat: vun(0x13),
  extract: (v: Code, lane: number): Code => [...v, ...simd(0x1f), lane],
  lt: vbin(0x43),
  ge: vbin(0x46),
  nearest: vun(0x6a),
  abs: vun(0xe0),
  neg: vun(0xe1),
  sqrt: vun(0xe3),
  add: vbin(0xe4),
  sub: vbin(0xe5),
  mul: vbin(0xe6),
  div: vbin(0xe7),
  min: vbin(0xe8),
  max: vbin(0xe9),
  /** pmin(a, b) = b < a ? b : a — one x64 instruction (minps), unlike min's NaN rules. */
  pmin: vbin(0xea),
  /** pmax(a, b) = a < b ? b : a (maxps). */
  pmax: vbin(0xeb),
  convert_i32x4_s: vun(0xfa),
  /** Both f64 lanes rounded to f32 in lanes 0 and 1 (lanes 2 and 3 zero). */
  demoteF64x2Zero: vun(0x5e),
  /** relaxed-SIMD fused multiply-add a·b + c (needs the relaxed-simd feature). */
  relaxedMadd: (a: Code, b: Code, c: Code): Code => [...a, ...b, ...c, ...simd(0x105)],
};

export const i32x4 = {
  splat: vun(0x11),
  trunc_sat_f32x4_s: vun(0xf8),
  shl: (a: Code, bits: Code): Code => [...a, ...bits, ...simd(0xab)],
  add: vbin(0xae),
};

export const f64x2 = {
  splat: vun(0x14),
  extract: (v: Code, lane: number): Code => [...v, ...simd(0x21), lane],
  sqrt: vun(0xef),
  add: vbin(0xf0),
  sub: vbin(0xf1),
  mul: vbin(0xf2),
  div: vbin(0xf3),
  /** The low two f32 lanes widened to f64. */
  promoteLow: vun(0x5f),
};

// ---- functions and the module ------------------------------------------------------------------

/** Builds one function: declare params and locals by name, then give the body. */
export class FuncBuilder {
  readonly params: ValType[] = [];
  readonly locals: ValType[] = [];
  readonly results: ValType[];
  body: Code = [];
  constructor(results: ValType[] = []) {
    this.results = results;
  }
  /** A parameter; params must all be declared before any local. */
  param(type: ValType): number {
    if (this.locals.length) throw new Error('FuncBuilder: params must come before locals');
    this.params.push(type);
    return this.params.length - 1;
  }
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }
}

interface FuncEntry {
  name: string;
  typeIdx: number;
  fb?: FuncBuilder;
  exported: boolean;
}

export class ModuleBuilder {
  private types: string[] = [];
  private typeBytes: number[][] = [];
  private imports: number[][] = [];
  private nImportedFuncs = 0;
  private funcs: FuncEntry[] = [];

  private typeIndex(params: ValType[], results: ValType[]): number {
    const bytes = [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];
    const key = bytes.join(',');
    let i = this.types.indexOf(key);
    if (i < 0) {
      i = this.types.length;
      this.types.push(key);
      this.typeBytes.push(bytes);
    }
    return i;
  }

  /** Imports the linear memory env.memory, shared or not (page counts: 64 KiB pages). */
  importMemory(minPages: number, maxPages: number, shared: boolean): void {
    // limits flag: 0x01 = has a maximum, 0x03 = has a maximum and is shared
    this.imports.push([...utf8('env'), ...utf8('memory'), 0x02, shared ? 0x03 : 0x01, ...uleb(minPages), ...uleb(maxPages)]);
  }

  /** Imports a host function env.<name>; returns its function index. Call before any func(). */
  importFunc(name: string, params: ValType[], results: ValType[]): number {
    if (this.funcs.length) throw new Error('ModuleBuilder: imports must come before functions');
    this.imports.push([...utf8('env'), ...utf8(name), 0x00, ...uleb(this.typeIndex(params, results))]);
    return this.nImportedFuncs++;
  }

  /** Adds a function and returns its index (so later functions can call it). */
  func(name: string, fb: FuncBuilder, exported = true): number {
    this.funcs.push({ name, typeIdx: this.typeIndex(fb.params, fb.results), fb, exported });
    return this.nImportedFuncs + this.funcs.length - 1;
  }

  exportNames(): string[] {
    return this.funcs.filter((f) => f.exported).map((f) => f.name);
  }

  build(): Uint8Array<ArrayBuffer> {
    const section = (id: number, payload: number[]): number[] => (payload.length ? [id, ...uleb(payload.length), ...payload] : []);
    const code = this.funcs.map((f) => {
      const fb = f.fb!;
      // locals are declared as runs of (count, type)
      const runs: number[][] = [];
      for (const t of fb.locals) {
        const last = runs[runs.length - 1];
        if (last && last[1] === t) last[0]++;
        else runs.push([1, t]);
      }
      const body = [...vec(runs.map(([n, t]) => [...uleb(n), t])), ...fb.body, 0x0b];
      return [...uleb(body.length), ...body];
    });
    const exports = this.funcs
      .map((f, i) => ({ f, i }))
      .filter(({ f }) => f.exported)
      .map(({ f, i }) => [...utf8(f.name), 0x00, ...uleb(this.nImportedFuncs + i)]);
    const bytes = [
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
      ...section(1, vec(this.typeBytes)),
      ...section(2, vec(this.imports)),
      ...section(3, vec(this.funcs.map((f) => uleb(f.typeIdx)))),
      ...section(7, vec(exports)),
      ...section(10, vec(code)),
    ];
    return new Uint8Array(bytes);
  }
}
