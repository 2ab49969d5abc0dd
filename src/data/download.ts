// Resumable HTTP downloads into a local cache, plus the Hugging Face hub conventions around them
// (endpoint, cache folder, `resolve` URLs). Used for TinyStories shards and GPT-2 weights.
// Promise: a file appears at its final path only when complete; an interrupted transfer leaves
// `<dest>.incomplete`, and the next call continues it with an HTTP Range request.

import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The hub to talk to: `$HF_ENDPOINT`, default https://huggingface.co (no trailing slash). */
export function hfEndpoint(): string {
  return (process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/**
 * Where downloads are cached: `$TSGRAD_CACHE` if set, else `tsgrad/` inside the Hugging Face
 * home (`$HF_HOME`, default ~/.cache/huggingface). A folder of our own, because the hub
 * library's layout (blobs + symlinked snapshots) is not what we write.
 */
export function hfCacheDir(): string {
  if (process.env.TSGRAD_CACHE) return process.env.TSGRAD_CACHE;
  const hfHome = process.env.HF_HOME || join(homedir(), '.cache', 'huggingface');
  return join(hfHome, 'tsgrad');
}

export type HfRepoType = 'dataset' | 'model';

/** URL that serves one file of a hub repository: `<endpoint>/[datasets/]<repo>/resolve/<rev>/<file>`. */
export function hfResolveUrl(repo: string, file: string, type: HfRepoType, revision = 'main'): string {
  const prefix = type === 'dataset' ? 'datasets/' : '';
  return `${hfEndpoint()}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** Cache path for a hub file, in the hub's folder naming: `datasets--owner--name/<rev>/<file>`. */
export function hfCachePath(repo: string, file: string, type: HfRepoType, revision = 'main'): string {
  return join(hfCacheDir(), `${type}s--${repo.replaceAll('/', '--')}`, revision, file);
}

export interface DownloadProgress {
  /** Bytes of the file on disk so far (including what an earlier, interrupted run fetched). */
  received: number;
  /** Size of the whole file, from Content-Length / Content-Range. */
  total: number;
}

export interface DownloadOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** Size of the finished file. */
  bytes: number;
  /** Bytes that came over the network in this call (0 when the file was already there). */
  transferred: number;
  /** Offset this call resumed from (0 for a fresh download). */
  resumedFrom: number;
}

/** Parse `Content-Range: bytes start-end/total` (total may be `*`). */
function parseContentRange(header: string | null): { start: number; total: number } | undefined {
  const m = header?.match(/^bytes (\d+)-\d+\/(\d+|\*)$/);
  return m ? { start: Number(m[1]), total: m[2] === '*' ? NaN : Number(m[2]) } : undefined;
}

/**
 * Download `url` to `destPath`. If `destPath` exists it is taken as complete and kept. A partial
 * `destPath + '.incomplete'` from an earlier run is continued with `Range: bytes=<have>-`; a
 * server that ignores the range (200) restarts it from zero. The size is checked against
 * Content-Length / Content-Range, then the file is renamed into place. HTTP errors, a wrong size
 * and aborted or cut-off transfers throw, keeping the partial file for the next call.
 */
export async function downloadFile(url: string, destPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const existing = await stat(destPath).catch(() => undefined);
  if (existing) return { bytes: existing.size, transferred: 0, resumedFrom: 0 };
  await mkdir(dirname(destPath), { recursive: true });
  const partial = destPath + '.incomplete';
  const have = (await stat(partial).catch(() => undefined))?.size ?? 0;

  let response: Response;
  try {
    // identity: byte counts and ranges must refer to the file itself, not a compressed form
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (have > 0) headers.Range = `bytes=${have}-`;
    response = await fetch(url, { headers, signal: options.signal });
  } catch (err) {
    throw new Error(`download of ${url} failed: ${(err as Error).message}`, { cause: err });
  }

  // 416: nothing left past `have`. If the server's size equals what we hold, the previous run
  // was cut off between the last byte and the rename.
  if (response.status === 416) {
    const total = Number(response.headers.get('content-range')?.match(/\/(\d+)$/)?.[1]);
    if (total !== have) {
      throw new Error(`download of ${url}: server refused range ${have}- (size ${total}); delete ${partial} to start over`);
    }
    await rename(partial, destPath);
    return { bytes: have, transferred: 0, resumedFrom: have };
  }
  if (!response.ok || !response.body) {
    const what = response.status === 404 ? 'not found (404)' : `HTTP ${response.status} ${response.statusText}`;
    throw new Error(`download of ${url} failed: ${what}`);
  }

  let offset = 0;
  let total: number;
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== have) {
      throw new Error(`download of ${url}: asked for bytes ${have}- but got Content-Range ${response.headers.get('content-range')}`);
    }
    offset = have;
    total = range.total;
  } else {
    total = Number(response.headers.get('content-length') ?? NaN);
  }
  if (!Number.isFinite(total)) throw new Error(`download of ${url}: server sent no file size (Content-Length)`);

  // Append when resuming, else (re)start the partial file.
  const out = await open(partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  let overrun = false;
  try {
    for await (const chunk of response.body) {
      overrun = received + chunk.byteLength > total;
      if (overrun) throw new Error(`server sent more than the ${total} bytes it announced`);
      await out.write(chunk);
      received += chunk.byteLength;
      options.onProgress?.({ received, total });
    }
    if (received !== total) throw new Error('connection closed early');
    await out.sync();
  } catch (err) {
    const reason = options.signal?.aborted ? 'aborted' : (err as Error).message;
    let next = `the partial file ${partial} is kept, run again to resume`;
    if (overrun) {
      await rm(partial, { force: true }); // garbage: do not resume from it
      next = `the partial file was deleted`;
    }
    throw new Error(`download of ${url} interrupted after ${received} of ${total} bytes (${reason}); ${next}`, { cause: err });
  } finally {
    await out.close();
  }
  await rename(partial, destPath);
  return { bytes: total, transferred: total - offset, resumedFrom: offset };
}
