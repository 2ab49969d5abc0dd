// `npm run train:tinystories -- [train flags] [--source hub|DIR] [--max-examples N]`:
// the seed's whole TinyStories pipeline in one command. Download and pretokenize both splits
// (cached: a second run reuses the .bin files), then train the `tinystories` preset with
// validation loss, best/ checkpoint and a sample story at every evaluation.
//   --source hub   roneneldan/TinyStories from $HF_ENDPOINT (the default)
//   --source DIR   local text: DIR/train.txt and DIR/valid.txt (TinyStories' .txt convention),
//                  e.g. ../shared/data/tinystories
//   --data DIR     skip pretokenizing: DIR already holds train.bin and val.bin
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainArgs } from './config.ts';
import { ConfigError } from './errors.ts';
import { train } from './loop.ts';
import { checkOut } from './run_dir.ts';
import { defaultBackendName, useBackend } from './backend_flag.ts';
import { runCli } from './cli.ts';
import { pretokenizeSplit } from '../data/prepare.ts';

/** Pulls this command's own flags out of argv; the rest are training flags. */
function splitArgs(argv: string[]): { source: string; maxExamples?: number; dataGiven: boolean; rest: string[] } {
  let source = 'hub';
  let maxExamples: number | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag !== '--source' && flag !== '--max-examples') {
      rest.push(argv[i]);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    if (flag === '--source') source = value;
    else if (/^[1-9]\d*$/.test(value)) maxExamples = Number(value);
    else throw new ConfigError(`--max-examples: expected a positive integer, got '${value}'`);
  }
  return { source, maxExamples, dataGiven: rest.some((a) => a === '--data' || a.startsWith('--data=')), rest };
}

/** The text file of one split in a local TinyStories directory. */
function localSplit(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new ConfigError(`--source ${dir}: no ${file} there (expected train.txt and valid.txt)`);
  return path;
}

runCli('train:tinystories', async () => {
  const args = splitArgs(process.argv.slice(2));
  const cfg = parseTrainArgs(args.rest, { preset: 'tinystories', backend: defaultBackendName() });
  if (cfg.data === null) throw new ConfigError('the tinystories preset needs --data DIR');
  checkOut(cfg); // before the download and pretokenizing, which can take minutes
  if (!args.dataGiven || !existsSync(join(cfg.data, 'train.bin'))) {
    const splits = [
      ['train', 'train.txt'],
      ['validation', 'valid.txt'],
    ] as const;
    for (const [split, file] of splits) {
      const source = args.source === 'hub' ? 'hub' : localSplit(args.source, file);
      await pretokenizeSplit({ source, split, out: cfg.data, maxExamples: split === 'train' ? args.maxExamples : undefined });
    }
  }
  await useBackend(cfg.backend, { profile: cfg.profile });
  await train(cfg, { log: (line) => console.log(line) });
});
