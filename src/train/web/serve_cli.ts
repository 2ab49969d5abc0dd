// `npm run web -- [--port N]`: bundles the page and serves it on 127.0.0.1, cross-origin
// isolated (./server.ts), printing its URL; a change to a source is in the next page load.
// Runs until interrupted (Ctrl-C). Mistakes exit with code 2.
import type { Command } from '../flags.ts';
import { parseCommand } from '../flags.ts';
import { runCli } from '../cli.ts';
import { servePage } from './server.ts';

export const WEB_COMMAND: Command = {
  name: 'web',
  synopsis: '[--port N]',
  summary: 'Serves the tsgrad page (the engine in a Web Worker; for now a check of every backend the browser offers) on 127.0.0.1, with the COOP/COEP headers the cpu backend\'s threads need.',
  flags: [{ name: 'port', group: 'server', type: 'int', arg: 'N', min: 0, max: 65535, default: 8000, help: 'port on 127.0.0.1; 0 picks a free one' }],
};

runCli('web', async () => {
  const { port } = parseCommand(WEB_COMMAND, process.argv.slice(2)) as { port: number };
  const server = await servePage({ port });
  process.stdout.write(`tsgrad page: ${server.url}\n`);
  await new Promise<never>(() => {}); // serve until interrupted
});
