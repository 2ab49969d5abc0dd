// A stand-in for the Hugging Face hub on 127.0.0.1 (ephemeral port) for the data tests: serves
// /datasets/<repo>/resolve/main/<file> with Range support and 404s, the tree API for data/, and
// can cut one transfer off mid-body or ignore one Range header. It logs each request and the
// body bytes it sent.

import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHubRequest {
  url: string;
  range: string | undefined;
  /** Body bytes written for this request. */
  sent: number;
}

export interface FakeHub {
  endpoint: string;
  requests: FakeHubRequest[];
  /** The next response for `file` stops after `bytes` body bytes by destroying the socket. */
  cutOffOnce(file: string, bytes: number): void;
  /** The next request for `file` gets the whole file (200) even if it asked for a range. */
  ignoreRangeOnce(file: string): void;
  close(): Promise<void>;
}

const PIECE = 16 * 1024; // bodies go out in pieces, so clients see several chunks

async function sendBody(res: ServerResponse, body: Uint8Array, log: FakeHubRequest, cutAfter: number | undefined): Promise<void> {
  const limit = Math.min(body.length, cutAfter ?? Infinity);
  for (let at = 0; at < limit; at += PIECE) {
    const piece = body.subarray(at, Math.min(at + PIECE, limit));
    log.sent += piece.length;
    await new Promise<void>((done) => res.write(piece, () => done()));
  }
  if (cutAfter !== undefined) res.socket?.destroy();
  else res.end();
}

export async function startFakeHub(repo: string, files: Record<string, Uint8Array>): Promise<FakeHub> {
  const requests: FakeHubRequest[] = [];
  const cutOffs = new Map<string, number>();
  const ignoreRange = new Set<string>();
  const resolvePrefix = `/datasets/${repo}/resolve/main/`;
  const treeUrl = `/api/datasets/${repo}/tree/main/data`;

  const server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const log: FakeHubRequest = { url, range: req.headers.range, sent: 0 };
    requests.push(log);
    if (url === treeUrl) {
      const entries = Object.entries(files)
        .filter(([path]) => path.startsWith('data/'))
        .map(([path, body]) => ({ type: 'file', path, size: body.length, oid: createHash('sha1').update(body).digest('hex') }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entries));
      return;
    }
    const file = url.startsWith(resolvePrefix) ? url.slice(resolvePrefix.length) : '';
    const body = files[file];
    if (!body) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const cutAfter = cutOffs.get(file);
    cutOffs.delete(file);
    const range = ignoreRange.delete(file) ? null : req.headers.range?.match(/^bytes=(\d+)-$/);
    if (range) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      void sendBody(res, body.subarray(start), log, cutAfter);
    } else {
      res.writeHead(200, { 'content-length': body.length });
      void sendBody(res, body, log, cutAfter);
    }
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    cutOffOnce: (file, bytes) => cutOffs.set(file, bytes),
    ignoreRangeOnce: (file) => ignoreRange.add(file),
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}
