// `npm run web -- [--port N] [--data DIR]`: bundles the page and serves it on 127.0.0.1,
// cross-origin isolated (../web/server.node.ts), with DIR's train.bin and val.bin, printing its
// URL; a change to a source is in the next page load. Runs until interrupted (Ctrl-C).
// Mistakes exit with code 2.
import { parseCommand } from './flags.ts';
import { WEB_COMMAND } from './commands.ts';
import { runCli } from './run_cli.ts';
import { servePage } from '../web/server.node.ts';

runCli('web', async () => {
  const { port, data } = parseCommand(WEB_COMMAND, process.argv.slice(2)) as { port: number; data?: string };
  const server = await servePage({ port, data });
  process.stdout.write(`tsgrad page: ${server.url}\n`);
  if (server.data !== null) process.stdout.write(`tinystories data for the page: ${[server.data.train, server.data.val].filter((p) => p !== null).join(', ')}\n`);
  await new Promise<never>(() => {}); // serve until interrupted
});
