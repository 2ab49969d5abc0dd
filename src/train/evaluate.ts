// The mean per-token loss of a model over batches of windows: the loop's validation loss and
// `npm run eval`'s number. Promise: each batch counts by its number of windows, so the result is
// the mean over windows however the last batch is cut; eval mode (the model's mode is restored
// after), no graph, and readback through toArray so device backends (WebGPU) work too.
import { noGrad } from '../autograd/tensor.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import type { Batch } from '../data/loader.ts';

export async function evaluate(
  model: GPT2Model,
  batches: Iterable<Batch> | AsyncIterable<Batch>,
  T: number,
  onBatch?: (windows: number) => void,
): Promise<{ loss: number; windows: number }> {
  const wasTraining = model.training;
  model.eval();
  let weighted = 0; // Σ over batches of (mean loss of the batch) · (windows in it)
  let windows = 0;
  try {
    for await (const { x, y } of batches) {
      const B = x.length / T; // [B, T] each
      const loss = noGrad(() => model.loss(x, [B, T], y)); // []
      weighted += (await loss.toArray())[0] * B;
      windows += B;
      onBatch?.(windows);
    }
  } finally {
    model.train(wasTraining);
  }
  return { loss: weighted / windows, windows };
}
