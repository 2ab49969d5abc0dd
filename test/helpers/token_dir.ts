// A pretokenized data directory for training tests: train.bin and val.bin of random GPT-2 ids.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/autograd/random.ts';

/** A new temporary directory with train.bin and val.bin (little-endian uint16, seeded). */
export function tokenDir(trainTokens: number, valTokens: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-tokens-'));
  const rng = new Rng(7);
  for (const [name, n] of [['train.bin', trainTokens], ['val.bin', valTokens]] as const) {
    const ids = new Uint16Array(n);
    for (let i = 0; i < n; i++) ids[i] = rng.int(50257);
    writeFileSync(join(dir, name), new Uint8Array(ids.buffer));
  }
  return dir;
}
