// `npm run train:tinystories -- [train flags] [--source hub|DIR] [--max-examples N]`:
// the seed's whole TinyStories pipeline in one command. Download and pretokenize both splits
// (cached: a second run reuses the .bin files), then train the `tinystories` preset with
// validation loss, best/ checkpoint and a sample story at every evaluation. Flags: the
// TINYSTORIES_COMMAND table (./commands.ts); `--source DIR` reads DIR/train.txt and
// DIR/valid.txt (TinyStories' .txt convention), `--data DIR` holding train.bin skips pretokenizing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainCommand, TINYSTORIES_COMMAND } from './commands.ts';
import { ConfigError } from '../errors.ts';
import { checkRun } from '../checkpoint.ts';
import { runDir } from '../run_dir.node.ts';
import { trainOnDisk } from '../run.node.ts';
import { defaultBackendName, useBackend } from './backend.ts';
import { runCli } from './run_cli.ts';
import { pretokenizeSplit } from './prepare.ts';

/** The text file of one split in a local TinyStories directory. */
function localSplit(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new ConfigError(`--source ${dir}: no ${file} there (expected train.txt and valid.txt)`);
  return path;
}

runCli('train:tinystories', async () => {
  const { cfg, values } = parseTrainCommand(TINYSTORIES_COMMAND, process.argv.slice(2), { preset: 'tinystories', backend: defaultBackendName() });
  const sourceDir = values.source as string;
  const maxExamples = values['max-examples'] as number | undefined;
  if (cfg.data === null) throw new ConfigError('the tinystories preset needs --data DIR');
  await checkRun(cfg, runDir(cfg.out)); // before the download and pretokenizing, which can take minutes
  if (values.data === undefined || !existsSync(join(cfg.data, 'train.bin'))) {
    const splits = [
      ['train', 'train.txt'],
      ['validation', 'valid.txt'],
    ] as const;
    for (const [split, file] of splits) {
      const source = sourceDir === 'hub' ? 'hub' : localSplit(sourceDir, file);
      await pretokenizeSplit({ source, split, out: cfg.data, maxExamples: split === 'train' ? maxExamples : undefined });
    }
  }
  await useBackend(cfg.backend, { profile: cfg.profile });
  await trainOnDisk(cfg, { log: (line) => console.log(line) });
});
