// A pretokenized `.bin` held in memory (uint16 GPT-2 ids, little-endian, as `npm run pretokenize`
// writes them), for a browser page that got the file's bytes from a file input or a fetch.
// Its windows are TokenDataset's (./dataset.ts): window j is tokens[j·T … j·T+T], W = ⌊(N−1)/T⌋.
// Promise: every id is checked against the vocabulary when the bytes arrive, and every error
// names the file.
import { VOCAB_SIZE } from '../gpt2/config.ts';
import type { Batch, TokenWindows } from './loader.ts';

export class TokenArray {
  /** The ids, N of them. */
  readonly tokens: Uint16Array;

  /** `where` names the file in errors; the bytes are copied (so they may be transferred or reused). */
  constructor(
    readonly where: string,
    bytes: Uint8Array,
    vocabSize = VOCAB_SIZE,
  ) {
    if (bytes.length % 2 !== 0) throw new Error(`${where}: ${bytes.length} bytes is an odd length, so not a file of uint16 tokens`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.tokens = new Uint16Array(bytes.length / 2);
    for (let i = 0; i < this.tokens.length; i++) {
      const id = view.getUint16(2 * i, true);
      if (id >= vocabSize) throw new Error(`${where}: token ${i} is ${id}, not below vocab size ${vocabSize}`);
      this.tokens[i] = id;
    }
  }

  /** The ids the file holds, ascending: what a compact head keeps (TokenDataset's idsSeen). */
  idsSeen(): Int32Array {
    return Int32Array.from(new Set(this.tokens)).sort();
  }

  /** The non-overlapping windows of T inputs + 1 target. */
  windows(T: number): TokenWindows {
    const { tokens, where } = this;
    const length = Math.floor((tokens.length - 1) / T);
    if (length < 1) throw new Error(`${where}: ${tokens.length} tokens is too few for one window of ${T} inputs + 1 target`);
    return {
      length,
      batch(indices: ArrayLike<number>): Batch {
        const x = new Int32Array(indices.length * T);
        const y = new Int32Array(indices.length * T);
        for (let b = 0; b < indices.length; b++) {
          const j = indices[b];
          if (!Number.isInteger(j) || j < 0 || j >= length) throw new Error(`${where}: window ${j} out of range [0, ${length})`);
          x.set(tokens.subarray(j * T, j * T + T), b * T);
          y.set(tokens.subarray(j * T + 1, j * T + T + 1), b * T);
        }
        return { x, y };
      },
    };
  }
}
