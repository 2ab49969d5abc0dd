// `npm run web:build -- [--out DIR]`: writes the page as static files any static host can
// serve (../web/bundle.node.ts). The host must send the two headers of ../web/server.node.ts's
// ISOLATION_HEADERS for the cpu backend's threads; without them the page still runs, the cpu
// backend on one thread.
import { parseCommand } from './flags.ts';
import { WEB_BUILD_COMMAND } from './commands.ts';
import { runCli } from './run_cli.ts';
import { buildPage } from '../web/bundle.node.ts';
import { ISOLATION_HEADERS } from '../web/server.node.ts';

runCli('web:build', async () => {
  const { out } = parseCommand(WEB_BUILD_COMMAND, process.argv.slice(2)) as { out: string };
  await buildPage(out);
  const headers = Object.entries(ISOLATION_HEADERS).map(([k, v]) => `${k}: ${v}`).join(' and ');
  process.stdout.write(`wrote ${out}/: serve it with ${headers} so the cpu backend can use threads (without them it runs on one thread)\n`);
});
