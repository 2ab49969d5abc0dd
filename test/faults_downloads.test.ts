// Fault injection for downloads: a local hub (test/data_fake_hub.ts) that lies. Path traversal
// in a listing, a file that changes between a cut-off transfer and its resume, a Content-Length
// that disagrees with the listing or is absurd, a server that never answers or trickles, HTML or
// an object where a listing belongs, unreachable hosts; and the Hugging Face conventions:
// HF_TOKEN (sent to the hub only, never shown) and files reused from the hub library's cache.
// Time limits are set through TSGRAD_HTTP_TIMEOUT in tenths of a second; no assertion is on time.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, test } from 'node:test';
import { promisify } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { downloadFile } from '../src/data/download.ts';
import { hubSource } from '../src/data/sources.ts';
import { saveModel } from '../src/data/model_files.ts';
import { fromPretrained } from '../src/data/pretrained.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { listingEntry, startFakeHub, type FakeHub } from './data_fake_hub.ts';

const DATASET = 'datasets/roneneldan/TinyStories';
const SHARD = 'data/train-00000-of-00001.parquet';
const parquet = (texts: string[]) => new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: texts, type: 'STRING' }] }));
const shard = parquet(['One story.', 'Another story.']);
const blob = randomBytes(200_000);
const blob2 = randomBytes(200_000); // the same file after an upstream change
let model: { config: Uint8Array; weights: Uint8Array };

let hub: FakeHub;
let dir: string;
let cache: string;
let testNo = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsgrad-faults-dl-'));
  const served = join(dir, 'served');
  await saveModel(new GPT2Model(makeConfig({ n_layers: 1, d_model: 8, n_heads: 2, vocab_size: 11, n_ctx: 4 }), { seed: 3 }), served);
  model = { config: await readFile(join(served, 'config.json')), weights: await readFile(join(served, 'model.safetensors')) };
  hub = await startFakeHub({
    [DATASET]: { [SHARD]: shard, 'data/blob.bin': blob },
    'openai-community/gpt2': { 'config.json': model.config, 'model.safetensors': model.weights },
  });
});
beforeEach(() => {
  cache = join(dir, `cache-${testNo++}`);
  Object.assign(process.env, {
    HF_ENDPOINT: hub.endpoint,
    TSGRAD_CACHE: cache,
    HF_HOME: join(dir, 'hf-home'), // no hub-library cache or token from this machine
    TSGRAD_HTTP_TIMEOUT: '5',
    TSGRAD_HTTP_RETRIES: '0',
    TSGRAD_HTTP_RETRY_DELAY: '0.01',
  });
  delete process.env.HF_TOKEN;
  hub.setFile(DATASET, 'data/blob.bin', blob);
});
after(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

const blobUrl = () => `${hub.endpoint}/${DATASET}/resolve/main/data/blob.bin`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const listing = (entries: unknown[]) => ({ kind: 'body' as const, contentType: 'application/json', text: JSON.stringify(entries) });
/** A 127.0.0.1 port nothing listens on (a server opened and closed again). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((ready) => server.once('listening', ready));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

// ── 6: paths from a server stay inside the cache ──────────────────────────────────────────

test('a listing entry with ../ is refused before anything is written, naming the listing', async () => {
  const evil = 'data/train-/../../../../../escaped.parquet';
  hub.fault('tree:data', listing([listingEntry(SHARD, shard), { ...listingEntry(SHARD, shard), path: evil }]));
  const before = hub.requests.length;
  await assert.rejects(hubSource('train'), /^Error: cannot list roneneldan\/TinyStories files at http:\/\/127\.0\.0\.1:\d+\/api\/datasets\/roneneldan\/TinyStories\/tree\/main\/data: listed path "data\/train-\/\.\.\/.*escaped\.parquet" is unsafe: it could lead outside the cache$/);
  assert.equal(hub.requests.length - before, 1, 'only the listing was requested');
  assert.ok(!existsSync(join(dir, 'escaped.parquet')) && !existsSync(join(dirname(cache), 'escaped.parquet')));
  for (const path of ['/abs/train-0.parquet', 'data/train-0\\..\\x.parquet', 'data//train-0.parquet']) {
    hub.fault('tree:data', listing([{ ...listingEntry(SHARD, shard), path }]));
    await assert.rejects(hubSource('train'), /is unsafe: it could lead outside the cache$/, path);
  }
});

// ── 7: resume never splices two versions; every file is checked against the listing ──────

test('a file that changed upstream after a cut-off transfer is fetched whole (If-Range), not spliced', async () => {
  const dest = join(cache, 'changed', 'blob.bin');
  hub.fault('data/blob.bin', { kind: 'cut', after: 60_000 });
  await assert.rejects(downloadFile(blobUrl(), dest), /kept, run again to resume/);
  hub.setFile(DATASET, 'data/blob.bin', blob2);
  await downloadFile(blobUrl(), dest);
  assert.deepEqual(await readFile(dest), blob2, 'the new version, whole');
  const last = hub.requests.at(-1)!;
  assert.ok(last.range !== undefined && last.ifRange !== undefined, 'the resume was conditional');
});

test('a server that ignores If-Range: the spliced file fails the sha256 check and is fetched again from zero', async () => {
  const dest = join(cache, 'spliced', 'blob.bin');
  hub.fault('data/blob.bin', { kind: 'cut', after: 60_000 });
  await assert.rejects(downloadFile(blobUrl(), dest), /kept/);
  hub.setFile(DATASET, 'data/blob.bin', blob2);
  hub.fault('data/blob.bin', { kind: 'ignoreIfRange' });
  const before = hub.requests.length;
  await downloadFile(blobUrl(), dest, { expected: { size: blob2.length, sha256: sha256(blob2) }, policy: { retries: 1 } });
  assert.deepEqual(
    hub.requests.slice(before).map((r) => r.range !== undefined),
    [true, false],
    'a ranged request, then the whole file',
  );
  assert.deepEqual(await readFile(dest), blob2);
});

test('content that does not match the listing is deleted, never kept as the file', async () => {
  const dest = join(cache, 'mismatch', 'blob.bin');
  await assert.rejects(
    downloadFile(blobUrl(), dest, { expected: { size: blob.length, sha256: sha256(blob2) } }),
    /failed: the content's sha256 is [0-9a-f]{64} but the listing says [0-9a-f]{64}; the download was deleted$/,
  );
  assert.deepEqual(await readdir(dirname(dest)), [], 'no final, partial or record file');
  // a file outside LFS is checked by its git blob id
  await assert.rejects(downloadFile(blobUrl(), dest, { expected: { size: blob.length, gitOid: '0'.repeat(40) } }), /git blob id is [0-9a-f]{40} but the listing says 0{40}/);
});

test('a Content-Length shorter than the listing (a file cut short) is refused, and nothing lands in the cache', async () => {
  hub.fault(SHARD, { kind: 'length', announce: 100 });
  await assert.rejects(hubSource('train'), new RegExp(`download of .*${SHARD} failed: the server announces 100 bytes but the listing says ${shard.length} bytes`));
  const cached = join(cache, 'datasets--roneneldan--TinyStories', 'main', SHARD);
  assert.ok(!existsSync(cached), 'no final file to be trusted next time');
  const source = await hubSource('train'); // an honest answer afterwards
  assert.equal(source.count, 2);
  assert.deepEqual(await readFile(cached), Buffer.from(shard));
});

// ── 8: time limits and retries ─────────────────────────────────────────────────────────────

test('a server that never answers times out with a clear message, after the retries', { timeout: 60_000 }, async () => {
  process.env.TSGRAD_HTTP_TIMEOUT = '0.3';
  process.env.TSGRAD_HTTP_RETRIES = '1';
  hub.fault('data/blob.bin', { kind: 'silent' }, 2);
  await assert.rejects(downloadFile(blobUrl(), join(cache, 'silent', 'blob.bin')), /download of http:.*blob\.bin failed: no response within 0\.3 s \(gave up after 2 attempts\)$/);
  hub.fault('tree:data', { kind: 'silent' }, 2);
  await assert.rejects(hubSource('train'), /cannot list roneneldan\/TinyStories files at http:.*\/tree\/main\/data: no response within 0\.3 s \(gave up after 2 attempts\)$/);
});

test('a server that trickles a byte at a time is stalled and cut off; the partial file is kept', { timeout: 60_000 }, async () => {
  process.env.TSGRAD_HTTP_TIMEOUT = '0.3';
  hub.fault('data/blob.bin', { kind: 'trickle', everyMs: 30 });
  const dest = join(cache, 'trickle', 'blob.bin');
  await assert.rejects(downloadFile(blobUrl(), dest), /failed: stalled: \d+ bytes in the last 0\.3 s after \d+ of 200000 bytes; the partial file .* is kept/);
  assert.ok(!existsSync(dest));
});

test('HTTP 503 is retried with backoff until the file is whole; a 404 is not retried', async () => {
  process.env.TSGRAD_HTTP_RETRIES = '3';
  hub.fault('data/blob.bin', { kind: 'status', code: 503 }, 2);
  const dest = join(cache, 'retry', 'blob.bin');
  const before = hub.requests.length;
  await downloadFile(blobUrl(), dest);
  assert.equal(hub.requests.length - before, 3);
  assert.deepEqual(await readFile(dest), blob);
  hub.fault('data/blob.bin', { kind: 'status', code: 404 }); // not worth a retry
  await assert.rejects(downloadFile(blobUrl(), join(cache, 'retry', 'again.bin')), /failed: HTTP 404 Not Found$/);
});

// ── 9: sizes that disagree with the listing or are absurd ────────────────────────────────────

test('a config.json announced at 1 TiB is refused before a byte is written', async () => {
  hub.fault('config.json', { kind: 'length', announce: 2 ** 40 });
  await assert.rejects(fromPretrained('gpt2'), /config\.json failed: the server announces 1\.0 TiB \(1099511627776 bytes\) but the listing says \d+ bytes/);
  // without a listing, the kind of file is the limit
  const dest = join(cache, 'direct', 'config.json');
  hub.fault('config.json', { kind: 'length', announce: 2 ** 40 });
  await assert.rejects(downloadFile(`${hub.endpoint}/openai-community/gpt2/resolve/main/config.json`, dest), /the server announces 1\.0 TiB .* more than a \.json file may hold \(16\.0 MiB/);
  assert.ok(!existsSync(dest) && !existsSync(dest + '.incomplete'));
  // nor is a listing that claims it
  hub.fault('tree:', listing([{ ...listingEntry('config.json', model.config), size: 2 ** 40 }, listingEntry('model.safetensors', model.weights)]));
  await assert.rejects(fromPretrained('gpt2'), /config\.json failed: the listing says 1\.0 TiB .* more than a \.json file may hold/);
});

test('a file larger than the free disk space is refused up front', async () => {
  hub.fault('data/blob.bin', { kind: 'length', announce: 2 ** 50 });
  const dest = join(cache, 'huge', 'blob.bin');
  await assert.rejects(downloadFile(blobUrl(), dest), /failed: it needs 1\.0 PiB \(1125899906842624 bytes\) but .*huge has only .* free$/);
  assert.ok(!existsSync(dest + '.incomplete'));
});

// ── 10: errors name the URL and the cause ────────────────────────────────────────────────────

test('a listing that is HTML or not an array names its URL', async () => {
  hub.fault('tree:data', { kind: 'body', contentType: 'text/html', text: '<!DOCTYPE html><html><body>Welcome to our mirror</body></html>' });
  await assert.rejects(hubSource('train'), /cannot list roneneldan\/TinyStories files at http:\/\/127\.0\.0\.1:\d+\/api\/datasets\/roneneldan\/TinyStories\/tree\/main\/data: not JSON \(text\/html: "<!DOCTYPE html>/);
  hub.fault('tree:data', listing({ error: 'Repository not found' } as unknown as unknown[]));
  await assert.rejects(hubSource('train'), /tree\/main\/data: not a JSON array of files but \{"error":"Repository not found"\}/);
});

test('an unreachable hub: the error names the URL and ECONNREFUSED or ENOTFOUND, not "fetch failed"', async () => {
  process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`;
  await assert.rejects(fromPretrained('gpt2'), (err: Error) => {
    assert.match(err.message, /^cannot list openai-community\/gpt2 files at http:\/\/127\.0\.0\.1:\d+\/api\/models\/openai-community\/gpt2\/tree\/main: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    return true;
  });
  process.env.HF_ENDPOINT = 'http://no-such-host.invalid';
  await assert.rejects(fromPretrained('gpt2'), /at http:\/\/no-such-host\.invalid\/api\/models\/openai-community\/gpt2\/tree\/main: getaddrinfo (ENOTFOUND|EAI_AGAIN) no-such-host\.invalid$/);
});

test('`npm run generate -- --model gpt2` offline says which URL failed and why', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const env = { ...process.env, HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, TSGRAD_BACKEND: 'js' };
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/train/cli/generate.ts'), '--model', 'gpt2', '--prompt', 'Hi'], { cwd: root, env });
  const err = await run.then(() => assert.fail('generate succeeded offline'), (e: { code: number; stderr: string }) => e);
  assert.equal(err.code, 1);
  assert.match(err.stderr, /generate: cannot list openai-community\/gpt2 files at http:\/\/127\.0\.0\.1:\d+\/api\/models\/openai-community\/gpt2\/tree\/main: connect ECONNREFUSED/);
});

// ── Hugging Face conventions: HF_TOKEN and the hub library's cache ───────────────────────────

test('HF_TOKEN goes to the hub as a Bearer token, not to another host it redirects to, and never into a message', async () => {
  process.env.HF_TOKEN = 'hf_secret_123';
  const cdnRequests: (string | undefined)[] = [];
  const cdn = createServer((req, res) => {
    cdnRequests.push(req.headers.authorization);
    res.writeHead(200, { 'content-length': shard.length }).end(shard);
  }).listen(0, '127.0.0.1');
  await new Promise((ready) => cdn.once('listening', ready));
  try {
    const before = hub.requests.length;
    hub.fault(SHARD, { kind: 'redirect', to: `http://127.0.0.1:${(cdn.address() as AddressInfo).port}/shard` });
    await hubSource('train');
    assert.deepEqual(hub.requests.slice(before).map((r) => r.authorization), ['Bearer hf_secret_123', 'Bearer hf_secret_123'], 'listing and resolve');
    assert.deepEqual(cdnRequests, [undefined], 'the other origin got no token');

    hub.fault('tree:data', { kind: 'status', code: 401 });
    await assert.rejects(hubSource('train'), (err: Error) => {
      assert.match(err.message, /HTTP 401 Unauthorized \(a gated or private repository needs HF_TOKEN\)$/);
      assert.ok(!err.message.includes('hf_secret_123'));
      return true;
    });
    // `huggingface-cli login` keeps the token in $HF_HOME/token
    delete process.env.HF_TOKEN;
    await mkdir(process.env.HF_HOME!, { recursive: true });
    await writeFile(join(process.env.HF_HOME!, 'token'), 'hf_from_file\n');
    await hubSource('train');
    assert.equal(hub.requests.at(-1)!.authorization, 'Bearer hf_from_file');
  } finally {
    await rm(join(process.env.HF_HOME!, 'token'), { force: true });
    cdn.close();
  }
});

/** Puts files into a hub-library cache ($HF_HOME/hub) the way huggingface_hub does: blobs by hash, snapshot symlinks, refs/main. */
async function hubLibraryCache(home: string, repoFolder: string, files: Record<string, { body: Uint8Array; blob: string }>): Promise<void> {
  const root = join(home, 'hub', repoFolder);
  const commit = 'c0ffee'.padEnd(40, '0');
  await mkdir(join(root, 'refs'), { recursive: true });
  await writeFile(join(root, 'refs', 'main'), commit);
  for (const [path, { body, blob }] of Object.entries(files)) {
    await mkdir(join(root, 'blobs'), { recursive: true });
    await writeFile(join(root, 'blobs', blob), body);
    const link = join(root, 'snapshots', commit, path);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(root, 'blobs', blob), link);
  }
}

test('files already in the hub library cache ($HF_HOME/hub) are used without a request', async () => {
  const home = join(dir, 'hf-home-with-cache');
  process.env.HF_HOME = home;
  const gitOid = listingEntry('config.json', model.config).oid;
  await hubLibraryCache(home, 'models--openai-community--gpt2', {
    'config.json': { body: model.config, blob: gitOid },
    'model.safetensors': { body: model.weights, blob: sha256(model.weights) },
  });
  process.env.HF_ENDPOINT = `http://127.0.0.1:${await closedPort()}`; // offline: any request would fail
  const loaded = await fromPretrained('gpt2');
  assert.equal(loaded.cfg.d_model, 8);
  assert.ok(!existsSync(cache), 'nothing copied into tsgrad’s cache');

  // a dataset shard: the listing is asked for, the shard is not downloaded
  process.env.HF_ENDPOINT = hub.endpoint;
  await hubLibraryCache(home, 'datasets--roneneldan--TinyStories', { [SHARD]: { body: shard, blob: sha256(shard) } });
  const before = hub.requests.length;
  assert.equal((await hubSource('train')).count, 2);
  assert.deepEqual(hub.requests.slice(before).map((r) => r.url), ['/api/datasets/roneneldan/TinyStories/tree/main/data']);
});

test('a hub-library cache holding another version than the listing is passed over and the listed one downloaded', async () => {
  const home = join(dir, 'hf-home-stale');
  process.env.HF_HOME = home;
  const old = parquet(['An old story.']);
  await hubLibraryCache(home, 'datasets--roneneldan--TinyStories', { [SHARD]: { body: old, blob: sha256(old) } });
  const source = await hubSource('train');
  assert.equal(source.count, 2);
  assert.deepEqual(await readFile(join(cache, 'datasets--roneneldan--TinyStories', 'main', SHARD)), Buffer.from(shard));
  assert.equal((await stat(join(home, 'hub', 'datasets--roneneldan--TinyStories', 'blobs', sha256(old)))).size, old.length, 'their cache is left alone');
});
