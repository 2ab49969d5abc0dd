// The reference backend ('js'): every kernel in plain TypeScript over host typed arrays.
// Promise: always available, always correct, float32 and float64. Other backends are
// tested against it, and it is where float64 gradient checks run.
import type { Backend, HostArray, Storage } from '../backend.ts';
import { host } from './util.ts';
import { binary, fill, geluBackward, maskedFill, unary } from './elementwise.ts';
import { pad, permute, slice } from './layout.ts';
import { reduce } from './reduce.ts';
import { matmul } from './matmul.ts';
import { crossEntropy, crossEntropyBackward, logSoftmax, logSoftmaxBackward, softmax, softmaxBackward } from './softmax.ts';
import { layerNorm, layerNormBackward } from './layernorm.ts';
import { attention, attentionBackward } from './attention.ts';
import { embedding, embeddingBackward } from './embedding.ts';
import { adamw } from './adamw.ts';
import { composedLinearCrossEntropy } from '../composed.ts';

export const referenceBackend: Backend = {
  name: 'js',
  asyncOnly: false,
  fromHost: (x: HostArray) => x,
  toHost: (x: Storage) => host(x),
  toHostAsync: async (x: Storage) => host(x),
  fill,
  unary,
  binary,
  maskedFill,
  geluBackward,
  permute,
  slice,
  pad,
  reduce,
  matmul,
  softmax,
  softmaxBackward,
  logSoftmax,
  logSoftmaxBackward,
  crossEntropy,
  crossEntropyBackward,
  ...composedLinearCrossEntropy(() => referenceBackend),
  layerNorm,
  layerNormBackward,
  attention,
  attentionBackward,
  embedding,
  embeddingBackward,
  adamw,
};
