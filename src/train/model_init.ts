// The model a training run starts from: a fresh GPT-2 of the shape the flags give (--model's
// preset, --n-layer/--d-model/--n-heads, n_ctx ≥ --ctx; seeded init), or `--init DIR|gpt2`
// weights in the Hugging Face layout. `--dropout` applies to both.
import { GPT2Model } from '../gpt2/model.ts';
import { fromPretrained } from '../data/pretrained.ts';
import { downloadBar } from '../data/progress.ts';
import { freshModelConfig, type TrainConfig } from './config.ts';

export async function buildModel(cfg: TrainConfig): Promise<GPT2Model> {
  if (cfg.init !== null) {
    const loaded = await fromPretrained(cfg.init, { seed: cfg.seed, onDownload: downloadBar });
    if (loaded.cfg.dropout === cfg.dropout) return loaded;
    // same weights in a model whose Dropout layers use --dropout
    const model = new GPT2Model({ ...loaded.cfg, dropout: cfg.dropout }, { seed: cfg.seed });
    model.loadStateDict(loaded.stateDict());
    return model;
  }
  return new GPT2Model(freshModelConfig(cfg), { seed: cfg.seed });
}
