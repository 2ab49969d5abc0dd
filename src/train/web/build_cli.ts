// `npm run web:build -- [--out DIR]`: writes the page as static files any static host can
// serve (./bundle.ts). The host must send the two headers of ./server.ts's ISOLATION_HEADERS
// for the cpu backend's threads; without them the page still runs, the cpu backend on one thread.
import type { Command } from '../flags.ts';
import { parseCommand } from '../flags.ts';
import { runCli } from '../cli.ts';
import { buildPage } from './bundle.ts';
import { ISOLATION_HEADERS } from './server.ts';

export const WEB_BUILD_COMMAND: Command = {
  name: 'web:build',
  synopsis: '[--out DIR]',
  summary: 'Writes the tsgrad page to DIR as static files (index.html, main.js, trainer.worker.js, chunks/).',
  flags: [{ name: 'out', group: 'output', type: 'string', arg: 'DIR', default: 'dist/web', help: 'folder to write: new, empty, or an earlier build (replaced)' }],
};

runCli('web:build', async () => {
  const { out } = parseCommand(WEB_BUILD_COMMAND, process.argv.slice(2)) as { out: string };
  await buildPage(out);
  const headers = Object.entries(ISOLATION_HEADERS).map(([k, v]) => `${k}: ${v}`).join(' and ');
  process.stdout.write(`wrote ${out}/: serve it with ${headers} so the cpu backend can use threads (without them it runs on one thread)\n`);
});
