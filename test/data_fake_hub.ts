// A stand-in for the Hugging Face hub on 127.0.0.1 (ephemeral port), honest unless told to lie.
// Serves `resolve` URLs of dataset and model repositories with Range, If-Range and strong
// ETags, and the tree API one folder at a time, as the hub does: LFS entries (.parquet,
// .safetensors) carry the content's sha256, the others their git blob id. Faults, each for
// the next request(s) to one file or listing: cut the body off, ignore Range or If-Range,
// announce a false Content-Length, never answer, trickle a byte at a time, answer with an
// HTTP status, a redirect or any body. It logs each request (with its Range, If-Range and
// Authorization headers) and the body bytes it sent.

import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubRequest {
  url: string;
  range: string | undefined;
  ifRange: string | undefined;
  authorization: string | undefined;
  /** Body bytes written for this request. */
  sent: number;
}

export type Fault =
  | { kind: 'cut'; after: number } // destroy the socket after this many body bytes
  | { kind: 'ignoreRange' } // the whole file (200) even when a Range was asked for
  | { kind: 'ignoreIfRange' } // serve the Range even when If-Range names another version
  | { kind: 'length'; announce: number } // Content-Length says this; the real bytes follow, at most that many
  | { kind: 'silent' } // read the request, never answer
  | { kind: 'trickle'; everyMs: number } // headers, then one body byte every everyMs
  | { kind: 'status'; code: number }
  | { kind: 'redirect'; to: string }
  | { kind: 'body'; contentType: string; text: string }; // answer 200 with this instead

export interface FakeHub {
  endpoint: string;
  requests: FakeHubRequest[];
  /**
   * The next `times` requests for `target` meet `fault`. target: a file's path in its repository
   * ('data/train-0.parquet', 'config.json'), or 'tree:' + a folder ('tree:data', 'tree:' for the top).
   */
  fault(target: string, fault: Fault, times?: number): void;
  /** Replace (or with undefined, remove) a file: its ETag, listing entry and bytes change. */
  setFile(repo: string, path: string, body: Uint8Array | undefined): void;
  close(): Promise<void>;
}

/** What the tree API says about a file: LFS files by sha256, the others by git blob id. */
export function listingEntry(path: string, body: Uint8Array) {
  const gitOid = (bytes: Uint8Array) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
  if (!/\.(parquet|safetensors)$/.test(path)) return { type: 'file', oid: gitOid(body), size: body.length, path };
  const sha256 = createHash('sha256').update(body).digest('hex');
  const pointer = new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${body.length}\n`);
  return { type: 'file', oid: gitOid(pointer), size: pointer.length, path, lfs: { oid: sha256, size: body.length, pointerSize: pointer.length } };
}

const etagOf = (body: Uint8Array) => `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"`;
const PIECE = 16 * 1024; // bodies go out in pieces, so clients see several chunks

async function sendBody(res: ServerResponse, body: Uint8Array, log: FakeHubRequest, cutAfter: number | undefined): Promise<void> {
  const limit = Math.min(body.length, cutAfter ?? Infinity);
  for (let at = 0; at < limit; at += PIECE) {
    const piece = body.subarray(at, Math.min(at + PIECE, limit));
    log.sent += piece.length;
    await new Promise<void>((done) => res.write(piece, () => done()));
  }
  if (cutAfter === undefined) return void res.end();
  // A moment for the client to take the bytes in (fetch drops what it has not read when the
  // connection fails), then the connection ends early.
  await new Promise((done) => setTimeout(done, 50));
  res.socket?.destroy();
}

function trickle(res: ServerResponse, body: Uint8Array, log: FakeHubRequest, everyMs: number): void {
  let at = 0;
  const timer = setInterval(() => {
    if (at === body.length || res.destroyed) return void (clearInterval(timer), res.end());
    res.write(body.subarray(at, at + 1));
    log.sent++;
    at++;
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

/**
 * repos: files by repository, keyed as in URLs: 'datasets/owner/name' for a dataset,
 * 'owner/name' for a model.
 */
export async function startFakeHub(repos: Record<string, Record<string, Uint8Array>>): Promise<FakeHub> {
  const files = new Map(Object.entries(repos).map(([repo, fs]) => [repo, new Map(Object.entries(fs))]));
  const requests: FakeHubRequest[] = [];
  const faults = new Map<string, { fault: Fault; times: number }>();
  const takeFault = (target: string) => {
    const f = faults.get(target);
    if (f === undefined) return undefined;
    if (--f.times === 0) faults.delete(target);
    return f.fault;
  };

  const server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const log: FakeHubRequest = { url, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, authorization: req.headers.authorization, sent: 0 };
    requests.push(log);

    const tree = url.match(/^\/api\/(datasets|models)\/([^/]+\/[^/]+)\/tree\/main(?:\/(.*))?$/);
    const resolve = url.match(/^\/((?:datasets\/)?[^/]+\/[^/]+)\/resolve\/main\/(.+)$/);
    const repo = tree ? (tree[1] === 'datasets' ? `datasets/${tree[2]}` : tree[2]) : resolve?.[1];
    const repoFiles = repo === undefined ? undefined : files.get(repo);
    const target = tree ? `tree:${tree[3] ?? ''}` : (resolve?.[2] ?? '');
    const fault = repoFiles && takeFault(target);

    if (fault?.kind === 'silent') return; // the socket stays open until close()
    if (fault?.kind === 'status') return void res.writeHead(fault.code).end(`fault ${fault.code}`);
    if (fault?.kind === 'redirect') return void res.writeHead(302, { location: fault.to }).end();
    if (fault?.kind === 'body') return void res.writeHead(200, { 'content-type': fault.contentType }).end(fault.text);

    if (tree && repoFiles) {
      const dir = tree[3] ?? '';
      const prefix = dir === '' ? '' : dir + '/';
      const entries = [...repoFiles].filter(([path]) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/')).map(([path, body]) => listingEntry(path, body));
      const dirs = new Set([...repoFiles.keys()].filter((p) => p.startsWith(prefix) && p.slice(prefix.length).includes('/')).map((p) => prefix + p.slice(prefix.length).split('/')[0]));
      const listing = [...[...dirs].map((path) => ({ type: 'directory', oid: '0'.repeat(40), size: 0, path })), ...entries];
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing));
    }
    const body = resolve && repoFiles?.get(resolve[2]);
    if (!body) return void res.writeHead(404).end('Entry not found');

    const etag = etagOf(body);
    const sameVersion = log.ifRange === undefined || log.ifRange === etag || fault?.kind === 'ignoreIfRange';
    const range = fault?.kind === 'ignoreRange' || !sameVersion ? null : req.headers.range?.match(/^bytes=(\d+)-$/);
    const cutAfter = fault?.kind === 'cut' ? fault.after : undefined;
    let start = 0;
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) return void res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    }
    const rest = body.subarray(start);
    const length = fault?.kind === 'length' ? fault.announce : rest.length;
    const headers: Record<string, string | number> = { 'content-length': length, etag };
    if (range) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(range ? 206 : 200, headers);
    if (fault?.kind === 'trickle') return trickle(res, rest, log, fault.everyMs);
    // a Content-Length larger than the body: send what there is, then drop the connection
    const lie = fault?.kind === 'length' && fault.announce > rest.length ? rest.length : undefined;
    void sendBody(res, rest.subarray(0, Math.min(rest.length, length)), log, cutAfter ?? lie);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    fault: (target, fault, times = 1) => faults.set(target, { fault, times }),
    setFile: (repo, path, body) => {
      const repoFiles = files.get(repo) ?? files.set(repo, new Map()).get(repo)!;
      if (body === undefined) repoFiles.delete(path);
      else repoFiles.set(path, body);
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}
