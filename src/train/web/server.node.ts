// `npm run web`'s server: esbuild serves the page from memory (rebuilt when a source changed,
// on the next request) behind a small proxy on 127.0.0.1 that adds the two headers that make
// the page cross-origin isolated, which SharedArrayBuffer (the cpu backend's threads) needs.
// esbuild's own server cannot set response headers, hence the proxy.
// Promise: servePage resolves once the page is reachable at `url`; a busy port rejects with
// one line naming it; close() stops both servers.
import { context } from 'esbuild';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pageBuildOptions } from './bundle.node.ts';

/** The headers that make a page cross-origin isolated; a static host must send them too. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

export interface PageServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Send ISOLATION_HEADERS (default true; false shows the page as a plain static host would). */
  isolated?: boolean;
}

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

export async function servePage({ port, isolated = true }: PageServerOptions): Promise<PageServer> {
  // esbuild serves its output from memory, at paths relative to outdir (never written)
  const ctx = await context({ ...pageBuildOptions(join(tmpdir(), 'tsgrad-web'), false), write: false });
  const upstream = await ctx.serve({ host: '127.0.0.1', port: 0 });
  const extra: IncomingHttpHeaders = isolated ? ISOLATION_HEADERS : {};
  const proxy = createServer((req, res) => {
    const forward = request({ host: '127.0.0.1', port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, { ...up.headers, ...extra, 'Cache-Control': 'no-store' });
      up.pipe(res);
    });
    forward.on('error', (e) => {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`tsgrad web: esbuild's server did not answer: ${e.message}\n`);
    });
    req.pipe(forward);
  });
  const close = async () => {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await ctx.dispose();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      proxy.once('error', reject);
      proxy.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    await ctx.dispose();
    const busy = (e as { code?: string }).code === 'EADDRINUSE';
    throw new Error(busy ? `port ${port} on 127.0.0.1 is in use: pass --port N (0 picks a free one)` : `cannot listen on 127.0.0.1:${port}: ${(e as Error).message}`);
  }
  const { port: bound } = proxy.address() as { port: number };
  return { url: `http://127.0.0.1:${bound}/`, close };
}
