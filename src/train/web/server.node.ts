// `npm run web`'s server: esbuild serves the page from memory (rebuilt when a source changed,
// on the next request) behind a small proxy on 127.0.0.1 that adds the two headers that make
// the page cross-origin isolated, which SharedArrayBuffer (the cpu backend's threads) needs.
// esbuild's own server cannot set response headers, hence the proxy. With `data`, the proxy
// also serves DATA/train.bin and DATA/val.bin as data/train.bin and data/val.bin, where the page
// looks for them (a static host can put them there too).
// Promise: servePage resolves once the page is reachable at `url`; a busy port or a --data
// folder without train.bin rejects with one line naming it; close() stops both servers.
import { context } from 'esbuild';
import { createReadStream, statSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pageBuildOptions } from './bundle.node.ts';
import { dataFiles } from '../batches.node.ts';

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
  /** A folder whose train.bin (and val.bin) the page may train on. */
  data?: string;
}

export interface PageServer {
  url: string;
  /** The .bin files served as data/train.bin and data/val.bin. */
  data: { train: string; val: string | null } | null;
  close(): Promise<void>;
}

/** Sends a file, or 404 when it is absent. */
function sendFile(res: ServerResponse, path: string | null, headers: IncomingHttpHeaders): void {
  if (path === null) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
    res.end('not served\n');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': statSync(path).size, 'Cache-Control': 'no-store' });
  createReadStream(path).pipe(res);
}

export async function servePage({ port, isolated = true, data }: PageServerOptions): Promise<PageServer> {
  const served = data === undefined ? null : dataFiles(data, null);
  // esbuild serves its output from memory, at paths relative to outdir (never written)
  const ctx = await context({ ...pageBuildOptions(join(tmpdir(), 'tsgrad-web'), false), write: false });
  const upstream = await ctx.serve({ host: '127.0.0.1', port: 0 });
  const extra: IncomingHttpHeaders = isolated ? ISOLATION_HEADERS : {};
  const proxy = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/data/train.bin' || path === '/data/val.bin') return sendFile(res, served?.[path === '/data/train.bin' ? 'train' : 'val'] ?? null, extra);
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
  return { url: `http://127.0.0.1:${bound}/`, data: served, close };
}
