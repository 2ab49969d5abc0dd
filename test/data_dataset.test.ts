// TokenDataset, DataLoader, evalBatches and randomBatch on small .bin files written here:
// window layout and count W = ⌊(N−1)/T⌋, clear errors for bad files, sequential batch order,
// seeded shuffles, and exact continuation from a saved state.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Rng } from '../src/autograd/random.ts';
import { TokenDataset } from '../src/data/dataset.ts';
import { DataLoader, evalBatches, randomBatch } from '../src/data/loader.ts';

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-dataset-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Write ids as a little-endian uint16 .bin and return its path. */
function bin(name: string, ids: number[]): string {
  const bytes = Buffer.alloc(2 * ids.length);
  ids.forEach((id, i) => bytes.writeUInt16LE(id, 2 * i));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

test('windows are tokens[j·T … j·T+T], W = ⌊(N−1)/T⌋', () => {
  // N = 13, T = 4: W = 3 (the seed's N // T also says 3, but N = 12 shows the difference below)
  const ds = new TokenDataset(bin('a.bin', range(13, 1000)), 4);
  assert.equal(ds.numTokens, 13);
  assert.equal(ds.length, 3);
  const w2 = ds.window(2);
  assert.deepEqual(Array.from(w2.x), [1008, 1009, 1010, 1011]);
  assert.deepEqual(Array.from(w2.y), [1009, 1010, 1011, 1012]);
  const b = ds.batch([2, 0]);
  assert.deepEqual(Array.from(b.x), [1008, 1009, 1010, 1011, 1000, 1001, 1002, 1003]);
  assert.deepEqual(Array.from(b.y), [1009, 1010, 1011, 1012, 1001, 1002, 1003, 1004]);
  assert.throws(() => ds.window(3), /window 3 out of range \[0, 3\)/);
  ds.close();
  assert.throws(() => ds.window(0), /closed/);

  const twelve = new TokenDataset(bin('b.bin', range(12)), 4); // 12 // 4 = 3, but window 2 would need token 12
  assert.equal(twelve.length, 2);
  twelve.close();
  // ids above 32767 survive (unsigned, little-endian)
  const high = new TokenDataset(bin('c.bin', [50256, 40000, 1]), 2);
  assert.deepEqual([...high.window(0).x, ...high.window(0).y], [50256, 40000, 40000, 1]);
  high.close();
});

test('bad files give errors naming the file', () => {
  const odd = join(dir, 'odd.bin');
  writeFileSync(odd, Buffer.alloc(9));
  assert.throws(() => new TokenDataset(odd, 2), (e: Error) => e.message.includes(odd) && /9 bytes is an odd length/.test(e.message));
  const short = bin('short.bin', range(4));
  assert.throws(() => new TokenDataset(short, 4), /short\.bin: 4 tokens is too few for one window of 4 inputs \+ 1 target/);
  const big = bin('big.bin', [1, 2, 3, 50257, 5, 6, 7, 8, 9]);
  assert.throws(() => new TokenDataset(big, 2, { fullScan: true }), /big\.bin: token 3 is 50257, not below vocab size 50257/);
  const lazy = new TokenDataset(big, 2); // without fullScan the bad id is found when its window is read
  assert.deepEqual(Array.from(lazy.window(0).x), [1, 2]);
  assert.throws(() => lazy.window(1), /token 3 is 50257/);
  lazy.close();
  assert.throws(() => new TokenDataset(join(dir, 'none.bin'), 2), /ENOENT.*none\.bin/);
});

test('DataLoader without shuffle: batch k holds windows (k·B + i) mod W, across epochs', () => {
  const T = 2;
  const ds = new TokenDataset(bin('seq.bin', range(2 * 5 + 1)), T); // W = 5
  const loader = new DataLoader(ds, { batchSize: 3 });
  for (let k = 0; k < 6; k++) {
    assert.equal(loader.epoch, Math.floor((3 * k) / 5));
    const { x, y } = loader.nextBatch();
    const windows = [0, 1, 2].map((i) => (k * 3 + i) % 5);
    assert.deepEqual(Array.from(x), windows.flatMap((w) => [w * T, w * T + 1]));
    assert.deepEqual(Array.from(y), windows.flatMap((w) => [w * T + 1, w * T + 2]));
  }
  ds.close();
});

/** The first window index of each row of a batch (tokens equal positions in these files). */
const windowsOf = (x: Int32Array, T: number) => Array.from({ length: x.length / T }, (_, b) => x[b * T] / T);

test('DataLoader with shuffle: each epoch a seeded permutation of all windows', () => {
  const T = 2;
  const ds = new TokenDataset(bin('shuf.bin', range(2 * 12 + 1)), T); // W = 12
  const epochs = (seed: number) => {
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, seed });
    return Array.from({ length: 6 }, () => windowsOf(loader.nextBatch().x, T)).flat();
  };
  const a = epochs(7);
  for (const epoch of [a.slice(0, 12), a.slice(12, 24)]) assert.deepEqual([...epoch].sort((p, q) => p - q), range(12));
  assert.notDeepEqual(a.slice(0, 12), a.slice(12, 24), 'a new order each epoch');
  assert.deepEqual(epochs(7), a, 'same seed, same order');
  assert.notDeepEqual(epochs(8), a, 'another seed, another order');
  ds.close();
});

test('a DataLoader rebuilt from state() continues exactly, through epoch boundaries', () => {
  const T = 3;
  const ds = new TokenDataset(bin('resume.bin', range(3 * 7 + 1)), T); // W = 7
  for (const shuffle of [false, true]) {
    const options = { batchSize: 3, shuffle, seed: 42 };
    const reference = new DataLoader(ds, options);
    const expected = Array.from({ length: 12 }, () => windowsOf(reference.nextBatch().x, T));
    for (const stop of [0, 1, 2, 5, 7]) {
      const first = new DataLoader(ds, options);
      for (let k = 0; k < stop; k++) first.nextBatch();
      const state = JSON.parse(JSON.stringify(first.state())); // as a checkpoint would store it
      const resumed = new DataLoader(ds, options, state);
      const reloaded = new DataLoader(ds, options);
      reloaded.loadState(state);
      for (let k = stop; k < 12; k++) {
        assert.deepEqual(windowsOf(resumed.nextBatch().x, T), expected[k], `shuffle=${shuffle}, resumed at ${stop}, batch ${k}`);
        assert.deepEqual(windowsOf(reloaded.nextBatch().x, T), expected[k]);
      }
    }
  }
  const other = new TokenDataset(bin('other.bin', range(3 * 5 + 1)), T);
  const state = new DataLoader(ds, { batchSize: 2 }).state();
  assert.throws(() => new DataLoader(other, { batchSize: 2 }, state), /state is for 7 windows with shuffle=false, but this loader has 5 windows/);
  ds.close();
  other.close();
});

test('evalBatches covers each window once, in order, without wrapping', () => {
  const ds = new TokenDataset(bin('eval.bin', range(2 * 5 + 1)), 2); // W = 5
  assert.deepEqual([...evalBatches(ds, 2)].map((b) => windowsOf(b.x, 2)), [[0, 1], [2, 3], [4]]);
  assert.deepEqual([...evalBatches(ds, 2, 2)].map((b) => windowsOf(b.x, 2)), [[0, 1], [2, 3]]);
  ds.close();
});

test('randomBatch: starts in [0, N−T−1], targets shifted by one', () => {
  const tokens = Int32Array.from(range(10));
  const T = 4;
  const rng = new Rng(1);
  const starts = new Set<number>();
  for (let k = 0; k < 200; k++) {
    const { x, y } = randomBatch(tokens, T, 2, rng);
    for (let b = 0; b < 2; b++) {
      const s = x[b * T];
      starts.add(s);
      assert.deepEqual(Array.from(x.subarray(b * T, b * T + T)), range(T, s));
      assert.deepEqual(Array.from(y.subarray(b * T, b * T + T)), range(T, s + 1));
    }
  }
  assert.deepEqual([...starts].sort((p, q) => p - q), range(6), 'every start 0 … N−T−1 = 5 occurs, none beyond');
  assert.throws(() => randomBatch(tokens.subarray(0, 4), 4, 1, rng), /4 tokens is too few/);
});
