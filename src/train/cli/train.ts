// `npm run train -- [flags]`: trains GPT-2 with the one loop in ../loop.ts, the run kept in --out
// (TRAIN_FLAGS in ./commands.ts for every flag, `--help` to list them). `npm run train:overfit`
// is `--preset overfit --overwrite`.
// Exit codes: 0 done, 1 the run failed or stopped (NaN loss, I/O), 2 bad command line.
import { parseTrainArgs } from './commands.ts';
import { trainOnDisk } from '../run.node.ts';
import { defaultBackendName, useBackend } from './backend.ts';
import { runCli } from './run_cli.ts';

runCli('train', async () => {
  const cfg = parseTrainArgs(process.argv.slice(2), { backend: defaultBackendName() });
  await useBackend(cfg.backend, { profile: cfg.profile });
  await trainOnDisk(cfg, { log: (line) => console.log(line) });
});
