// The model a training run starts from: a fresh GPT-2 of the preset's shape (seeded init),
// or `--init DIR|gpt2` weights in the Hugging Face layout. `--dropout` applies to both.
import { GPT2Model } from '../gpt2/model.ts';
import { isPresetName, makeConfig, PRESETS } from '../gpt2/config.ts';
import { fromPretrained } from '../gpt2/checkpoint.node.ts';
import type { TrainConfig } from './config.ts';
import { ConfigError } from './errors.ts';

export async function buildModel(cfg: TrainConfig): Promise<GPT2Model> {
  if (cfg.init !== null) {
    const loaded = await fromPretrained(cfg.init, { seed: cfg.seed });
    if (loaded.cfg.dropout === cfg.dropout) return loaded;
    // same weights in a model whose Dropout layers use --dropout
    const model = new GPT2Model({ ...loaded.cfg, dropout: cfg.dropout }, { seed: cfg.seed });
    model.loadStateDict(loaded.stateDict());
    return model;
  }
  if (!isPresetName(cfg.model)) throw new ConfigError(`--model: unknown GPT-2 preset '${cfg.model}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return new GPT2Model(makeConfig({ dropout: cfg.dropout }, cfg.model), { seed: cfg.seed });
}
