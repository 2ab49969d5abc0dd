// Assembles the cpu backend's one WebAssembly module from the kernel generators.
// Promise: `buildCpuModule(fma, shared)` returns the module bytes (importing a shared memory,
// or an unshared one for a single thread), the GEMM blocking it was built with, and the names
// of its exported kernels (the same list the worker threads use).
import { F64, ModuleBuilder } from './wasm_emit.ts';
import { emitGemm, gemmConfig, type GemmConfig } from './gemm_wasm.ts';
import { emitRows } from './rows_wasm.ts';
import { emitAttention } from './attention_wasm.ts';
import { emitElementwise } from './elementwise_wasm.ts';
import { emitLayerNorm } from './layernorm_wasm.ts';
import { emitReduce } from './reduce_wasm.ts';

export interface CpuModule {
  bytes: Uint8Array<ArrayBuffer>;
  gemm: GemmConfig;
  /** Query rows per attention block (a multiple of the GEMM tile height). */
  attnBlock: number;
  exports: string[];
}

/** The largest wasm32 memory: 65536 pages of 64 KiB = 4 GiB. */
export const MAX_PAGES = 65536;

export function buildCpuModule(fma: boolean, shared: boolean, overrides: Partial<GemmConfig> = {}): CpuModule {
  const gemm = { ...gemmConfig(fma), ...overrides };
  const attnBlock = gemm.MR * 16;
  const mb = new ModuleBuilder();
  mb.importMemory(1, MAX_PAGES, shared);
  const log = mb.importFunc('log', [F64], [F64]); // Math.log: wasm has no log instruction
  const { gemm: gemmFn } = emitGemm(mb, gemm);
  const rows = emitRows(mb, log);
  emitAttention(mb, gemmFn, rows, log, attnBlock);
  emitElementwise(mb);
  emitLayerNorm(mb);
  emitReduce(mb);
  return { bytes: mb.build(), gemm, attnBlock, exports: mb.exportNames() };
}

/** A tiny module using f32x4.relaxed_madd: validates only where relaxed SIMD is enabled. */
export function relaxedSimdProbe(): Uint8Array<ArrayBuffer> {
  // (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section
    0x03, 0x02, 0x01, 0x00, // function section
    0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code
  ]);
}
