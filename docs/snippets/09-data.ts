// Step 9: data. Text → GPT-2 token ids → windows of T inputs and the T next tokens as targets.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOrdinary, decode } from '../../src/data/tokenizer.ts';
import { TokenDataset } from '../../src/data/dataset.ts';
import { randomBatch } from '../../src/data/loader.ts';
import { Rng } from '../../src/index.ts';

const ids = encodeOrdinary('Hello, I am a large language model.');
console.log('ids', JSON.stringify(ids));
console.log('pieces', JSON.stringify(ids.map((id) => decode([id]))));

// The seed's get_batch: random windows from tokens in memory. y is x shifted by one.
const text = encodeOrdinary('Hello, I am a large language model.'.repeat(500));
console.log('overfit text:', text.length, 'tokens');
const { x, y } = randomBatch(text, 4, 2, new Rng(0)); // T = 4, B = 2
console.log('x', JSON.stringify(Array.from(x)));
console.log('y', JSON.stringify(Array.from(y)));

// A .bin of N uint16 tokens cut into windows of T = 3 inputs + 1 target: W = ⌊(N − 1)/T⌋.
// With N = 9 the seed's N // T = 3 would promise a third window whose last input has no target.
const dir = mkdtempSync(join(tmpdir(), 'tour-'));
for (const N of [10, 9]) {
  const path = join(dir, `n${N}.bin`);
  writeFileSync(path, Buffer.from(Uint16Array.from({ length: N }, (_, i) => 100 + i).buffer));
  const ds = new TokenDataset(path, 3);
  const last = ds.window(ds.length - 1);
  console.log(`N = ${N}: ${ds.length} windows; last x ${JSON.stringify(Array.from(last.x))} y ${JSON.stringify(Array.from(last.y))}`);
  ds.close();
}
rmSync(dir, { recursive: true });
