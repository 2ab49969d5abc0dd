// `npm run train -- [flags]`: trains GPT-2 with the one loop in loop.ts (see config.ts for
// every flag, `--help` to list them). `npm run train:overfit` is `--preset overfit`.
// Exit codes: 0 done, 1 the run failed or stopped (NaN loss, I/O), 2 bad command line.
import { parseTrainArgs } from './config.ts';
import { train } from './loop.ts';
import { defaultBackendName, useBackend } from './backend_flag.ts';
import { runCli } from './cli.ts';

runCli('train', async () => {
  const cfg = parseTrainArgs(process.argv.slice(2), { backend: defaultBackendName() });
  await useBackend(cfg.backend, { profile: cfg.profile });
  await train(cfg, { log: (line) => console.log(line) });
});
