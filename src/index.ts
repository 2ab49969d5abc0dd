// tsgrad's public API: `import { tensor, nn, ... } from 'tsgrad'`.
export * from './autograd/index.ts';
export * from './nn/index.ts';
