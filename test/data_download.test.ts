// downloadFile against a local fake hub: complete downloads, resume after a cut-off transfer
// (only the missing bytes travel again), 404s, aborts, and the hub path/URL helpers. The
// hostile servers are in faults_downloads.test.ts.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { downloadFile } from '../src/data/download.ts';
import { hfCacheDir, hfCachePath, hfEndpoint, hfResolveUrl } from '../src/data/hub.ts';
import { startFakeHub, type FakeHub } from './data_fake_hub.ts';

const REPO = 'someone/Stories';
const blob = randomBytes(300_000);
let hub: FakeHub;
let dir: string;

before(async () => {
  hub = await startFakeHub({ [`datasets/${REPO}`]: { 'data/blob.bin': blob } });
  dir = await mkdtemp(join(tmpdir(), 'tsgrad-download-'));
  process.env.HF_ENDPOINT = hub.endpoint + '/';
  process.env.TSGRAD_CACHE = dir;
  process.env.HF_HOME = join(dir, 'hf-home'); // no hub-library cache or token from this machine
  delete process.env.HF_TOKEN;
});
after(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

const url = () => hfResolveUrl(REPO, 'data/blob.bin', 'dataset');

test('hub helpers follow HF_ENDPOINT and TSGRAD_CACHE', () => {
  assert.equal(hfEndpoint(), hub.endpoint);
  assert.equal(url(), `${hub.endpoint}/datasets/${REPO}/resolve/main/data/blob.bin`);
  assert.equal(hfResolveUrl('openai-community/gpt2', 'model.safetensors', 'model'), `${hub.endpoint}/openai-community/gpt2/resolve/main/model.safetensors`);
  assert.equal(hfCacheDir(), dir);
  assert.equal(hfCachePath(REPO, 'data/x.parquet', 'dataset'), join(dir, 'datasets--someone--Stories', 'main', 'data', 'x.parquet'));
  for (const bad of ['../x', 'data/../../x', '/etc/x', 'a//b', 'a\\..\\b']) {
    assert.throws(() => hfCachePath(REPO, bad, 'dataset'), /is unsafe: it could lead outside the cache/, bad);
    assert.throws(() => hfResolveUrl(REPO, bad, 'dataset'), /is unsafe/, bad);
  }
  assert.throws(() => hfCachePath('../../etc', 'x', 'model'), /not a hub repository id/);
});

test('downloads a file with progress and reuses it afterwards', async () => {
  const dest = join(dir, 'full', 'blob.bin');
  const seen: number[] = [];
  const result = await downloadFile(url(), dest, { onProgress: (p) => (assert.equal(p.total, blob.length), seen.push(p.received)) });
  assert.deepEqual(result, { bytes: blob.length, transferred: blob.length, resumedFrom: 0 });
  assert.ok(seen.length > 1 && seen.at(-1) === blob.length, 'progress reported per chunk up to the total');
  assert.deepEqual(await readFile(dest), blob);
  const requestsBefore = hub.requests.length;
  assert.deepEqual(await downloadFile(url(), dest), { bytes: blob.length, transferred: 0, resumedFrom: 0 });
  assert.equal(hub.requests.length, requestsBefore, 'an existing file is not fetched again');
});

test('a cut-off transfer keeps its partial file and the next call resumes it with Range', async () => {
  const dest = join(dir, 'resume', 'blob.bin');
  hub.fault('data/blob.bin', { kind: 'cut', after: 100_000 });
  const noRetry = { policy: { retries: 0 } };
  await assert.rejects(downloadFile(url(), dest, noRetry), /failed: other side closed after \d+ of 300000 bytes; the partial file .* is kept, run again to resume/);
  await assert.rejects(stat(dest), 'no final file after a failed transfer');
  const have = (await stat(dest + '.incomplete')).size;
  assert.ok(have > 0 && have <= 100_000, `partial file holds what arrived (${have} bytes)`);

  const result = await downloadFile(url(), dest);
  assert.deepEqual(result, { bytes: blob.length, transferred: blob.length - have, resumedFrom: have });
  const last = hub.requests.at(-1)!;
  assert.equal(last.range, `bytes=${have}-`);
  assert.match(last.ifRange ?? '', /^"[0-9a-f]+"$/, 'the resume is conditional on the ETag of the first transfer');
  assert.equal(last.sent, blob.length - have, 'only the missing bytes were sent again');
  assert.deepEqual(await readFile(dest), blob);
  await assert.rejects(stat(dest + '.incomplete'), 'partial file renamed away');
  await assert.rejects(stat(dest + '.incomplete.json'), 'its ETag record removed');
});

test('within one call, a dropped connection is retried from where it stopped', async () => {
  const dest = join(dir, 'retry', 'blob.bin');
  hub.fault('data/blob.bin', { kind: 'cut', after: 50_000 });
  const before = hub.requests.length;
  const result = await downloadFile(url(), dest, { policy: { retries: 1, retryDelayMs: 1 } });
  const [first, second] = hub.requests.slice(before);
  assert.equal(hub.requests.length - before, 2);
  const resumedAt = Number(second.range?.match(/^bytes=(\d+)-$/)?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= first.sent, `the retry asks for the rest (${second.range}, ${first.sent} sent before)`);
  assert.deepEqual(result, { bytes: blob.length, transferred: blob.length, resumedFrom: 0 });
  assert.deepEqual(await readFile(dest), blob);
});

test('a server that ignores Range (200) restarts the partial file from zero', async () => {
  const dest = join(dir, 'no-range', 'blob.bin');
  await mkdir(join(dir, 'no-range'));
  await writeFile(dest + '.incomplete', Buffer.from('stale bytes that must not stay in front'));
  hub.fault('data/blob.bin', { kind: 'ignoreRange' });
  const result = await downloadFile(url(), dest);
  assert.deepEqual(result, { bytes: blob.length, transferred: blob.length, resumedFrom: 0 });
  assert.deepEqual(await readFile(dest), blob);
});

test('a complete partial file (cut off before the rename) is finished from the 416 answer', async () => {
  const dest = join(dir, 'complete-partial', 'blob.bin');
  await mkdir(join(dir, 'complete-partial'));
  await writeFile(dest + '.incomplete', blob);
  const result = await downloadFile(url(), dest);
  assert.deepEqual(result, { bytes: blob.length, transferred: 0, resumedFrom: blob.length });
  assert.equal(hub.requests.at(-1)!.range, `bytes=${blob.length}-`);
  assert.deepEqual(await readFile(dest), blob);
});

test('an aborted download says so and keeps the partial file', async () => {
  const dest = join(dir, 'abort', 'blob.bin');
  const controller = new AbortController();
  const onProgress = () => controller.abort();
  await assert.rejects(downloadFile(url(), dest, { signal: controller.signal, onProgress }), /failed: aborted after \d+ of 300000 bytes; the partial file .* is kept/);
  assert.ok((await stat(dest + '.incomplete')).size > 0);
});

test('a 404 gives a clear error and leaves no files', async () => {
  const dest = join(dir, 'missing', 'nope.bin');
  await assert.rejects(downloadFile(hfResolveUrl(REPO, 'data/nope.bin', 'dataset'), dest), /download of .*nope\.bin failed: HTTP 404 Not Found$/);
  await assert.rejects(stat(dest + '.incomplete'));
});
