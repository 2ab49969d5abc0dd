// Resumable, verified HTTP downloads into a local cache (TinyStories shards, GPT-2 weights;
// hub.ts supplies the URLs, the listing and the token).
// Promise: a file appears at its final path only when complete and, where the caller knows
// them (a hub listing), with the listed size and sha256 (LFS files) or git blob id (the rest).
// An interrupted transfer leaves `<dest>.incomplete` and `<dest>.incomplete.json` (the server's
// ETag and size); the next attempt continues it with a Range request made conditional on that
// ETag (If-Range), so two versions of a file are never spliced together. The size a server
// announces is checked before a byte is written: against the listing, against the most a file
// of its kind may hold, and against the free disk space.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { httpGet, httpPolicy, statusError, TransientError, withRetries, type HttpPolicy } from './http.ts';

/** What a file must be, from a listing: its size, and a hash where the listing gives one. */
export interface ExpectedFile {
  size: number;
  /** sha256 of the content (the hub's `lfs.oid`). */
  sha256?: string;
  /** git blob id: sha1 of `blob <size>\0<content>` (the hub's `oid` for files not in LFS). */
  gitOid?: string;
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
  /** The listing's word on the file; without it only the server's own headers are checked. */
  expected?: ExpectedFile;
  /** Extra request headers (the hub's Authorization). */
  headers?: Record<string, string>;
  /** Timeouts and retries; unset fields come from the environment (see http.ts). */
  policy?: Partial<HttpPolicy>;
}

export interface DownloadResult {
  /** Size of the finished file. */
  bytes: number;
  /** Bytes that came over the network in this call, over all attempts (0 when the file was already there). */
  transferred: number;
  /** Offset this call continued an earlier call's partial file from (0: it started from the first byte). */
  resumedFrom: number;
}

/** The most bytes a file of this kind may hold: JSON files are configs and listings, never gigabytes. */
const MAX_BYTES_BY_EXTENSION: Record<string, number> = { '.json': 16 * 2 ** 20 };

function maxBytesFor(path: string): number {
  return MAX_BYTES_BY_EXTENSION[extname(path)] ?? Infinity;
}

/** A byte count for messages: `1.0 TiB (1099511627776 bytes)`. */
function showBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  const i = Math.min(units.length - 1, Math.max(0, Math.floor(Math.log2(Math.max(n, 1)) / 10)));
  return i === 0 ? `${n} bytes` : `${(n / 2 ** (10 * i)).toFixed(1)} ${units[i]} (${n} bytes)`;
}

/** Parse `Content-Range: bytes start-end/total`, or the 416 form with `*` for the range (total may be `*` too). */
function parseContentRange(header: string | null): { start: number; total: number } | undefined {
  const m = header?.match(/^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/);
  return m ? { start: m[1] === undefined ? NaN : Number(m[1]), total: m[2] === '*' ? NaN : Number(m[2]) } : undefined;
}

const sizeOf = async (path: string) => (await stat(path).catch(() => undefined))?.size ?? 0;

/** What `<dest>.incomplete.json` records about the transfer the partial file belongs to. */
interface PartialMeta {
  /** The server's strong ETag, sent back as If-Range; absent if the server gave none. */
  etag?: string;
  total: number;
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(path, 'utf8'));
    return Number.isSafeInteger(meta.total) && (meta.etag === undefined || typeof meta.etag === 'string') ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** The hash a listing gives for a file, computed over the file on disk. */
async function digest(path: string, expected: ExpectedFile): Promise<{ name: string; got: string; want: string } | undefined> {
  const want = expected.sha256 ?? expected.gitOid;
  if (want === undefined) return undefined;
  const hash = createHash(expected.sha256 !== undefined ? 'sha256' : 'sha1');
  if (expected.sha256 === undefined) hash.update(`blob ${expected.size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return { name: expected.sha256 !== undefined ? 'sha256' : 'git blob id', got: hash.digest('hex'), want: want.toLowerCase() };
}

/**
 * Download `url` to `destPath` (see the file header). An existing `destPath` is taken as
 * complete (it was checked when it arrived) if its size is the expected one. Transient failures
 * (timeouts, stalls, dropped connections, 5xx) are retried, each attempt resuming the partial
 * file. Errors name the URL and the cause, and say whether a partial file is kept for next time.
 */
export async function downloadFile(url: string, destPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const { expected } = options;
  const existing = await stat(destPath).catch(() => undefined);
  if (existing) {
    if (!existing.isFile()) throw new Error(`${destPath} is in the way of a download: it is not a file`);
    if (expected && existing.size !== expected.size) {
      throw new Error(`${destPath} has ${existing.size} bytes but the listing says ${expected.size}: delete it to download again`);
    }
    return { bytes: existing.size, transferred: 0, resumedFrom: 0 };
  }
  const partial = destPath + '.incomplete';
  const transfer: Transfer = { url, destPath, partial, options, transferred: 0 };
  try {
    const max = maxBytesFor(destPath);
    if (expected && expected.size > max) throw new Error(`the listing says ${showBytes(expected.size)}, more than a ${extname(destPath)} file may hold (${showBytes(max)})`);
    await mkdir(dirname(destPath), { recursive: true });
    await withRetries(httpPolicy(options.policy), options.signal, () => attempt(transfer));
  } catch (err) {
    const have = await sizeOf(partial);
    const kept = have > 0 ? `; the partial file ${partial} (${have} bytes) is kept, run again to resume` : '';
    throw new Error(`download of ${url} failed: ${(err as Error).message}${kept}`, { cause: err });
  }
  return { bytes: await sizeOf(destPath), transferred: transfer.transferred, resumedFrom: transfer.resumedFrom ?? 0 };
}

interface Transfer {
  url: string;
  destPath: string;
  partial: string;
  options: DownloadOptions;
  /** Bytes received over all attempts. */
  transferred: number;
  /** Where the first answered attempt continued the partial file (0: from the start). */
  resumedFrom?: number;
}

async function dropPartial(t: Transfer): Promise<void> {
  await rm(t.partial, { force: true });
  await rm(t.partial + '.json', { force: true });
}

/**
 * The server's size, refused if it disagrees with the listing, the file's kind or the free
 * space (where the filesystem reports its size at all).
 */
async function checkAnnouncedSize(t: Transfer, total: number, offset: number): Promise<void> {
  const expected = t.options.expected;
  if (expected && total !== expected.size) throw new Error(`the server announces ${showBytes(total)} but the listing says ${showBytes(expected.size)}`);
  const max = maxBytesFor(t.destPath);
  if (total > max) throw new Error(`the server announces ${showBytes(total)}, more than a ${extname(t.destPath)} file may hold (${showBytes(max)})`);
  const fs = await statfs(dirname(t.partial));
  const free = fs.bavail * fs.bsize;
  if (fs.blocks > 0 && total - offset > free) throw new Error(`it needs ${showBytes(total - offset)} but ${dirname(t.partial)} has only ${showBytes(free)} free`);
}

/** Checks the complete partial file against the listing and renames it into place. */
async function finish(t: Transfer, resumed: boolean): Promise<void> {
  const expected = t.options.expected;
  const check = expected && (await digest(t.partial, expected));
  if (check && check.got !== check.want) {
    await dropPartial(t);
    const message = `the content's ${check.name} is ${check.got} but the listing says ${check.want}`;
    // A resumed file may join two versions (a server that ignored If-Range): try once from zero.
    if (resumed) throw new TransientError(`${message} (resumed from an earlier partial file, starting over)`);
    throw new Error(`${message}; the download was deleted`);
  }
  await rename(t.partial, t.destPath);
  await rm(t.partial + '.json', { force: true });
}

/** One request: resume or start the partial file, fill it, check it, rename it into place. */
async function attempt(t: Transfer): Promise<void> {
  const policy = httpPolicy(t.options.policy);
  const have = await sizeOf(t.partial);
  const meta = have > 0 ? await readMeta(t.partial + '.json') : undefined;
  // identity: byte counts and ranges must refer to the file itself, not a compressed form
  const headers: Record<string, string> = { ...t.options.headers, 'Accept-Encoding': 'identity' };
  if (have > 0) headers.Range = `bytes=${have}-`;
  if (have > 0 && meta?.etag !== undefined) headers['If-Range'] = meta.etag; // a changed file comes whole (200)
  const get = await httpGet(t.url, headers, policy, t.options.signal);
  const { response } = get;

  // 416: nothing past `have`. If the server's size equals what we hold, an earlier run was cut
  // off between the last byte and the rename; otherwise the partial file is of no use.
  if (response.status === 416) {
    get.discard();
    const total = parseContentRange(response.headers.get('content-range'))?.total;
    if (total === have && (meta === undefined || meta.total === have)) {
      t.resumedFrom ??= have;
      await checkAnnouncedSize(t, total, have);
      return finish(t, true);
    }
    await dropPartial(t);
    throw new TransientError(`the server has ${total ?? 'an unknown number of'} bytes and refused to continue from byte ${have}; starting over`);
  }
  if (!response.ok) {
    get.discard();
    throw statusError(response);
  }

  let offset = 0;
  let total: number;
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== have) {
      get.discard();
      throw new Error(`asked for bytes ${have}- but got Content-Range ${response.headers.get('content-range')}`);
    }
    if (meta !== undefined && range.total !== meta.total) {
      get.discard();
      await dropPartial(t);
      throw new TransientError(`the file changed on the server (${meta.total} → ${range.total} bytes) since the partial download; starting over`);
    }
    offset = have;
    total = range.total;
  } else {
    total = Number(response.headers.get('content-length') ?? NaN); // 200: the whole file, from zero
  }
  try {
    if (!Number.isSafeInteger(total) || total < 0) throw new Error(`the server sent no usable file size (Content-Length: ${response.headers.get('content-length')})`);
    await checkAnnouncedSize(t, total, offset);
  } catch (err) {
    get.discard();
    throw err;
  }
  if (offset === 0) {
    const etag = response.headers.get('etag') ?? undefined;
    const record: PartialMeta = { etag: etag?.startsWith('W/') ? undefined : etag, total }; // If-Range needs a strong ETag
    await writeFile(t.partial + '.json', JSON.stringify(record) + '\n');
  }

  // Append when resuming, else (re)start the partial file.
  t.resumedFrom ??= offset;
  const out = await open(t.partial, offset > 0 ? 'a' : 'w');
  let received = offset;
  let overrun = false;
  try {
    for await (const chunk of get.chunks()) {
      overrun = received + chunk.byteLength > total;
      if (overrun) throw new Error(`the server sent more than the ${total} bytes it announced; the partial file was deleted`);
      await out.write(chunk);
      received += chunk.byteLength;
      t.transferred += chunk.byteLength;
      t.options.onProgress?.({ received, total });
    }
    if (received !== total) throw new TransientError('the connection closed early');
    await out.sync();
  } catch (err) {
    if (overrun || !(err instanceof Error)) throw err;
    err.message += ` after ${received} of ${total} bytes`;
    throw err;
  } finally {
    await out.close();
    if (overrun) await dropPartial(t); // garbage: do not resume from it
  }
  await finish(t, offset > 0);
}
