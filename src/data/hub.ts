// The Hugging Face hub's conventions, for TinyStories shards and GPT-2 weights: the endpoint
// ($HF_ENDPOINT), the token ($HF_TOKEN), the tree-listing API, `resolve` URLs, tsgrad's download
// cache, and the hub library's own cache ($HF_HOME/hub), read for files another tool (Python's
// huggingface_hub, transformers) already downloaded.
// Promise: every path that comes from a server is checked to stay inside the cache; a listing
// that is not what the hub sends is refused with its URL; every downloaded file is checked
// against the listing's size and hash; the token is sent only to the endpoint and never shown.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve, sep } from 'node:path';
import { downloadFile, type DownloadProgress, type ExpectedFile } from './download.ts';
import { httpGet, httpPolicy, statusError, withRetries } from './http.ts';

export type HfRepoType = 'dataset' | 'model';

/** The hub to talk to: `$HF_ENDPOINT`, default https://huggingface.co (no trailing slash). */
export function hfEndpoint(): string {
  return (process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
}

/** `$HF_HOME`, default `$XDG_CACHE_HOME/huggingface` or ~/.cache/huggingface (as the hub library). */
function hfHome(): string {
  return process.env.HF_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
}

/** `$HF_TOKEN`, else the token `huggingface-cli login` saved in `$HF_HOME/token`. */
function hfToken(): string | undefined {
  if (process.env.HF_TOKEN) return process.env.HF_TOKEN.trim();
  const file = join(hfHome(), 'token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** Request headers for the hub: Authorization when there is a token (fetch drops it on a redirect to another origin). */
function hubHeaders(): Record<string, string> {
  const token = hfToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Where tsgrad keeps its downloads: `$TSGRAD_CACHE` if set, else `tsgrad/` inside `$HF_HOME`.
 * A folder of our own: the hub library's layout (blobs + symlinked snapshots per commit) needs
 * the commit a branch points at, which tsgrad does not track; that cache is read, not written.
 */
export function hfCacheDir(): string {
  return process.env.TSGRAD_CACHE || join(hfHome(), 'tsgrad');
}

/** The hub library's cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`. */
function hfHubCacheDir(): string {
  return process.env.HF_HUB_CACHE || join(hfHome(), 'hub');
}

/**
 * A relative path from a server (a listing entry) or a caller, checked: '/'-separated names,
 * none empty, '.', '..' or with a backslash or NUL, not absolute. `what` names it in the error.
 */
function checkRelativePath(path: string, what: string): string {
  const parts = path.split('/');
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path) || parts.some((p) => p === '' || p === '.' || p === '..' || /[\\\0]/.test(p))) {
    throw new Error(`${what} ${JSON.stringify(path)} is unsafe: it could lead outside the cache`);
  }
  return path;
}

/** `root/rel`, after checking that it resolves inside root. */
function inside(root: string, rel: string, what: string): string {
  const full = resolve(root, checkRelativePath(rel, what));
  if (!full.startsWith(resolve(root) + sep)) throw new Error(`${what} ${JSON.stringify(rel)} resolves outside ${root}`);
  return full;
}

/** A repository id: `owner/name` (letters, digits, `-`, `_`, `.`). */
function checkRepo(repo: string): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo) || repo.split('/').some((p) => p === '.' || p === '..')) throw new Error(`not a hub repository id: ${JSON.stringify(repo)}`);
  return repo;
}

const repoFolder = (repo: string, type: HfRepoType) => `${type}s--${checkRepo(repo).replaceAll('/', '--')}`;

/** URL that serves one file of a hub repository: `<endpoint>/[datasets/]<repo>/resolve/<rev>/<file>`. */
export function hfResolveUrl(repo: string, file: string, type: HfRepoType, revision = 'main'): string {
  const prefix = type === 'dataset' ? 'datasets/' : '';
  const path = checkRelativePath(file, `path in ${repo}`).split('/').map(encodeURIComponent).join('/');
  return `${hfEndpoint()}/${prefix}${checkRepo(repo)}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** Cache path for a hub file: `<cache>/datasets--owner--name/<rev>/<file>`, checked to stay inside the cache. */
export function hfCachePath(repo: string, file: string, type: HfRepoType, revision = 'main'): string {
  const root = hfCacheDir();
  return inside(root, `${repoFolder(repo, type)}/${encodeURIComponent(revision)}/${file}`, `cache path for ${repo}`);
}

/**
 * The file in the hub library's cache, if it is there: `<hub>/models--owner--name/snapshots/
 * <commit>/<file>` (usually a symlink into blobs/), with the commit read from `refs/<revision>`
 * or the revision itself when it is a commit id.
 */
function hubLibraryCachedFile(repo: string, file: string, type: HfRepoType, revision: string): string | undefined {
  const root = join(hfHubCacheDir(), repoFolder(repo, type));
  let commit = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    const ref = join(root, 'refs', ...checkRelativePath(revision, 'revision').split('/'));
    commit = statSync(ref, { throwIfNoEntry: false })?.isFile() ? readFileSync(ref, 'utf8').trim() : '';
    if (!/^[0-9a-f]{40}$/.test(commit)) return undefined;
  }
  const path = inside(root, `snapshots/${commit}/${file}`, `cache path for ${repo}`);
  return statSync(path, { throwIfNoEntry: false })?.isFile() ? path : undefined; // follows the blob symlink
}

/** A file as a hub listing describes it. */
export interface HubFile extends ExpectedFile {
  /** Path inside the repository, checked to be a safe relative path. */
  path: string;
}

const MAX_LISTING_BYTES = 16 * 2 ** 20;
const MAX_LISTING_PAGES = 100;

/** One listing entry, checked; directories and other kinds give undefined. */
function listingEntry(raw: unknown): HubFile | undefined {
  const e = raw as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: { oid?: unknown; size?: unknown } | null };
  if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || typeof e.path !== 'string') {
    throw new Error(`an entry is not a file or directory: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  if (e.type !== 'file') return undefined;
  const path = checkRelativePath(e.path, 'listed path');
  const bad = (what: string) => new Error(`${path} has a bad ${what}`);
  const isSize = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (e.lfs !== undefined && e.lfs !== null) {
    if (!isSize(e.lfs.size)) throw bad('lfs.size');
    if (typeof e.lfs.oid !== 'string' || !/^[0-9a-f]{64}$/i.test(e.lfs.oid)) throw bad('lfs.oid (sha256)');
    return { path, size: e.lfs.size, sha256: e.lfs.oid.toLowerCase() };
  }
  if (!isSize(e.size)) throw bad('size');
  if (typeof e.oid !== 'string' || !/^[0-9a-f]{40}$/i.test(e.oid)) throw bad('oid (git blob id)');
  return { path, size: e.size, gitOid: e.oid.toLowerCase() };
}

/** One page of a listing: its files, and the next page's URL (the `Link: <…>; rel="next"` header). */
async function listingPage(url: string): Promise<{ files: HubFile[]; next?: string }> {
  const policy = httpPolicy();
  return withRetries(policy, undefined, async () => {
    const get = await httpGet(url, { ...hubHeaders(), Accept: 'application/json' }, policy);
    if (!get.response.ok) {
      get.discard();
      throw statusError(get.response);
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of get.chunks()) {
      size += chunk.byteLength;
      if (size > MAX_LISTING_BYTES) throw new Error(`the listing is larger than ${MAX_LISTING_BYTES} bytes`);
      parts.push(chunk);
    }
    const text = Buffer.concat(parts).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      const type = get.response.headers.get('content-type') ?? 'no content type';
      throw new Error(`not JSON (${type}: ${JSON.stringify(text.slice(0, 60))}…); is HF_ENDPOINT a Hugging Face hub?`);
    }
    if (!Array.isArray(json)) throw new Error(`not a JSON array of files but ${JSON.stringify(json).slice(0, 80)}`);
    const files = json.map(listingEntry).filter((f): f is HubFile => f !== undefined);
    const next = get.response.headers.get('link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
    return { files, next: next === undefined ? undefined : new URL(next, url).href };
  });
}

/**
 * The files of one folder of a repository (`dir` '' for the top), from the hub's tree API,
 * following its pages. Errors name the URL and the cause.
 */
export async function hubListing(repo: string, type: HfRepoType, dir: string, revision = 'main'): Promise<HubFile[]> {
  const first = `${hfEndpoint()}/api/${type}s/${checkRepo(repo)}/tree/${encodeURIComponent(revision)}${dir ? '/' + checkRelativePath(dir, repo) : ''}`;
  const files: HubFile[] = [];
  let url: string | undefined = first;
  for (let page = 0; url !== undefined; page++) {
    if (page === MAX_LISTING_PAGES) throw new Error(`cannot list ${repo} files at ${first}: more than ${MAX_LISTING_PAGES} pages`);
    if (new URL(url).origin !== new URL(first).origin) throw new Error(`cannot list ${repo} files at ${first}: the next page is on another server (${url})`);
    try {
      const result: { files: HubFile[]; next?: string } = await listingPage(url);
      files.push(...result.files);
      url = result.next;
    } catch (err) {
      throw new Error(`cannot list ${repo} files at ${url}: ${(err as Error).message}`, { cause: err });
    }
  }
  return files;
}

/** Where a hub file is on this machine without downloading: tsgrad's cache, else the hub library's. */
export function cachedHubFile(repo: string, type: HfRepoType, path: string, revision = 'main'): string | undefined {
  const own = hfCachePath(repo, path, type, revision);
  return existsSync(own) ? own : hubLibraryCachedFile(repo, path, type, revision);
}

/** Progress callbacks for one download; `done` is called however it ends. */
export interface DownloadReporter {
  onProgress: (p: DownloadProgress) => void;
  done: () => void;
}

export interface HubFileOptions {
  revision?: string;
  /** Called when a download starts (not for a cached file). */
  onDownload?: () => DownloadReporter;
}

/**
 * Whether a file of the hub library's cache is the listed one. Its blobs are named by their
 * hash (sha256 for LFS files, the git blob id for the rest), so no reading is needed; a cache
 * made without symlinks holds copies, checked by size.
 */
function sameAsListed(path: string, file: HubFile): boolean {
  const blob = basename(realpathSync(path));
  if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(blob)) return blob === (file.sha256 ?? file.gitOid);
  return statSync(path).size === file.size;
}

/**
 * A listed file on this machine: from tsgrad's cache, or from the hub library's cache if it
 * holds the listed version, else downloaded into tsgrad's cache and checked against the
 * listing's size and hash.
 */
export async function hubFile(repo: string, type: HfRepoType, file: HubFile, options: HubFileOptions = {}): Promise<string> {
  const revision = options.revision ?? 'main';
  const dest = hfCachePath(repo, file.path, type, revision);
  const theirs = existsSync(dest) ? undefined : hubLibraryCachedFile(repo, file.path, type, revision);
  if (theirs !== undefined && sameAsListed(theirs, file)) return theirs;
  const reporter = existsSync(dest) ? undefined : options.onDownload?.();
  try {
    await downloadFile(hfResolveUrl(repo, file.path, type, revision), dest, { expected: file, headers: hubHeaders(), onProgress: reporter?.onProgress });
  } finally {
    reporter?.done();
  }
  return dest;
}
