// Pretokenizing end to end: .txt, parquet and (fake) hub sources give js-tiktoken's ids with an
// EOT after every story; the sidecar makes re-runs reuse the file; broken inputs fail clearly;
// the CLI parses strictly and handles the first 2000 stories of the shared TinyStories sample.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2 from 'js-tiktoken/ranks/gpt2';
import { pretokenizeAndSave } from '../src/data/pretokenize.ts';
import { hubSource, localSource, sharedTinyStoriesPath, textFileStories } from '../src/data/sources.ts';
import { EOT } from '../src/gpt2/config.ts';
import { startFakeHub, type FakeHub } from './data_fake_hub.ts';

const reference = new Tiktoken(gpt2);
/** What a .bin must hold for these stories: each story's encode_ordinary ids, then EOT. */
const expectedIds = (stories: string[]) => stories.flatMap((s) => [...reference.encode(s, [], []), EOT]);
const readIds = async (path: string) => {
  const bytes = await readFile(path);
  return Array.from({ length: bytes.length / 2 }, (_, i) => bytes.readUInt16LE(2 * i));
};
const parquet = (texts: string[], rowGroupSize = 3) =>
  new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: texts, type: 'STRING' }], rowGroupSize }));

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const sharedTrain = sharedTinyStoriesPath('train.txt');

const stories = [
  'Once upon a time, there was a little dog named Max.\nMax liked to run.',
  'Lily saw a big, red ball. "Can I play?" she asked.',
  'The end. Or is it?  Tom said: “I’m 5 years old!”',
  'Sue wrote <|endoftext|> on the wall, which is just text here.',
  'One day, a bird sang.\n\nThe sun was bright.',
  'Mia and Ben ate 12 cookies 🍪.',
  'A short one.',
];

let dir: string;
let hub: FakeHub;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsgrad-pretok-'));
  hub = await startFakeHub({
    'datasets/roneneldan/TinyStories': {
      'data/train-00000-of-00002-aaaa.parquet': parquet(stories.slice(0, 4)),
      'data/train-00001-of-00002-bbbb.parquet': parquet(stories.slice(4)),
      'data/validation-00000-of-00001-cccc.parquet': parquet(['A validation story.', 'And another.']),
    },
  });
  process.env.HF_ENDPOINT = hub.endpoint;
  process.env.TSGRAD_CACHE = join(dir, 'cache');
  process.env.HF_HOME = join(dir, 'hf-home'); // no hub-library cache or token from this machine
  delete process.env.HF_TOKEN;
});
after(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

test('text files: stories between <|endoftext|> lines, trimmed, streamed', async () => {
  const txt = join(dir, 'stories.txt');
  // a blank first line, the usual layout, and a last story with no separator after it
  await writeFile(txt, '\n' + stories.slice(0, -1).map((s) => `${s}\n<|endoftext|>\n`).join('') + stories.at(-1) + '\n');
  const read: string[] = [];
  for await (const s of textFileStories(txt)) read.push(s);
  // the literal <|endoftext|> inside story 3 splits it: in this format it *is* the separator
  const expected = stories.flatMap((s) => s.split('<|endoftext|>').map((p) => p.trim()));
  assert.deepEqual(read, expected);

  const out = join(dir, 'txt', 'train.bin');
  const result = await pretokenizeAndSave(await localSource(txt), out);
  assert.equal(result.reused, false);
  assert.equal(result.stories, expected.length);
  assert.deepEqual(await readIds(out), expectedIds(expected));
  assert.equal(result.tokens, expectedIds(expected).length);
});

test('parquet files: the text column, row group by row group; the .bin ends every story with EOT', async () => {
  const file = join(dir, 'stories.parquet');
  await writeFile(file, parquet(stories, 2));
  const out = join(dir, 'pq', 'train.bin');
  const result = await pretokenizeAndSave(await localSource(file), out);
  const ids = await readIds(out);
  assert.deepEqual(ids, expectedIds(stories));
  assert.equal(ids.filter((id) => id === EOT).length, stories.length, 'one EOT per story, none from the literal text');
  assert.equal(ids.at(-1), EOT);
  assert.equal(result.tokens, ids.length);
});

test('the sidecar: same inputs reuse the file, other inputs rebuild it', async () => {
  const file = join(dir, 'side.parquet');
  await writeFile(file, parquet(stories));
  const out = join(dir, 'side', 'train.bin');
  const first = await pretokenizeAndSave(await localSource(file), out, { maxExamples: 3 });
  assert.deepEqual(await readIds(out), expectedIds(stories.slice(0, 3)));
  const sidecar = JSON.parse(await readFile(out + '.json', 'utf8'));
  assert.deepEqual([sidecar.maxExamples, sidecar.stories, sidecar.tokens, sidecar.source.kind], [3, 3, first.tokens, 'parquet']);

  const again = await pretokenizeAndSave(await localSource(file), out, { maxExamples: 3 });
  assert.deepEqual([again.reused, again.tokens, again.stories], [true, first.tokens, 3]);
  const more = await pretokenizeAndSave(await localSource(file), out, { maxExamples: 5 });
  assert.equal(more.reused, false);
  assert.deepEqual(await readIds(out), expectedIds(stories.slice(0, 5)));
  await writeFile(file, parquet(stories.slice(1))); // the source changed: size differs
  assert.equal((await pretokenizeAndSave(await localSource(file), out, { maxExamples: 5 })).reused, false);
  assert.ok(!existsSync(out + '.tmp'));
});

test('hub: shards from the tree API in order, downloaded once into the cache, only as many as needed', async () => {
  const resolves = () => hub.requests.filter((r) => r.url.includes('/resolve/')).map((r) => r.url.split('/').at(-1));
  const few = await hubSource('train', { maxExamples: 4 });
  assert.equal(few.count, 4);
  assert.deepEqual(resolves(), ['train-00000-of-00002-aaaa.parquet'], 'max-examples 4 needs only the first shard');

  const events: string[] = [];
  const onDownload = (file: string, size: number) => {
    events.push(`start ${file} ${size}`);
    return { onProgress: () => undefined, done: () => events.push(`done ${file}`) };
  };
  const all = await hubSource('train', { onDownload });
  assert.equal(all.count, stories.length);
  assert.deepEqual(resolves(), ['train-00000-of-00002-aaaa.parquet', 'train-00001-of-00002-bbbb.parquet'], 'cached shard not fetched again');
  const size = hub.requests.at(-1)!.sent;
  assert.deepEqual(events, [`start data/train-00001-of-00002-bbbb.parquet ${size}`, 'done data/train-00001-of-00002-bbbb.parquet'], 'progress only for the shard downloaded');
  const out = join(dir, 'hub', 'train.bin');
  await pretokenizeAndSave(all, out);
  assert.deepEqual(await readIds(out), expectedIds(stories));
  assert.ok(existsSync(join(dir, 'cache', 'datasets--roneneldan--TinyStories', 'main', 'data', 'train-00001-of-00002-bbbb.parquet')));
});

test('broken inputs fail with errors that name the file', async () => {
  const corrupt = join(dir, 'corrupt.parquet');
  await writeFile(corrupt, Buffer.from('this is not parquet at all, just some bytes'));
  await assert.rejects(localSource(corrupt), (e: Error) => e.message.startsWith(`${corrupt}: not a readable parquet file`));
  const truncated = join(dir, 'truncated.parquet');
  const good = parquet(stories);
  await writeFile(truncated, Buffer.concat([good.subarray(0, 4), Buffer.alloc(40), good.subarray(44)]));
  const out = join(dir, 'broken', 'train.bin');
  await assert.rejects(localSource(truncated).then((s) => pretokenizeAndSave(s, out)), (e: Error) => e.message.startsWith(`${truncated}: `));
  assert.ok(!existsSync(out) && !existsSync(out + '.tmp'), 'no output left behind');
  const noText = join(dir, 'notext.parquet');
  await writeFile(noText, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'story', data: ['x'], type: 'STRING' }] })));
  await assert.rejects(localSource(noText).then((s) => s.stories().next()), /notext\.parquet: parquet file has no 'text' column \(it has: story\)/);
  await assert.rejects(localSource(join(dir, 'missing.txt')), /source file not found: .*missing\.txt/);
  await assert.rejects(hubSource('train', { repo: 'nobody/Nothing' }), /cannot list nobody\/Nothing files at http:\/\/127\.0\.0\.1:\d+\/api\/datasets\/nobody\/Nothing\/tree\/main\/data: HTTP 404/);
});

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'train', 'cli', 'pretokenize.ts'), ...args], { cwd: repoRoot, env: process.env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test('CLI: strict flags, exit code 2 with a one-line error', async () => {
  const badLines = [
    ['--split', 'train', '--out', dir, '--bogus'],
    ['--split', 'test', '--out', dir],
    ['--split', 'train'],
    ['--split', 'train', '--out', dir, '--max-examples', '1.5'],
    ['--split', 'train', '--out'],
  ];
  const results = await Promise.all(badLines.map(cli));
  results.forEach(({ code, stderr }, i) => {
    assert.equal(code, 2, `exit code for ${badLines[i].join(' ')}`);
    assert.match(stderr, /^pretokenize: [^\n]+\(--help for usage\)\n$/);
  });
  const bad = await cli(['--source', join(dir, 'nope.txt'), '--split', 'train', '--out', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /source file not found/);
});

test('CLI: hub validation split to DIR/val.bin', async () => {
  const out = join(dir, 'cli-hub');
  const { code, stdout, stderr } = await cli(['--split', 'validation', '--out', out]);
  assert.equal(code, 0, stderr);
  const n = expectedIds(['A validation story.', 'And another.']).length;
  assert.match(stdout, new RegExp(`^Wrote ${n} tokens to ${join(out, 'val.bin')}`));
  assert.match(stderr, /download data\/validation-00000-of-00001-cccc\.parquet: /, 'plain progress lines when not a TTY');
});

test('CLI: first 2000 stories of the shared TinyStories train.txt', async (t) => {
  if (!existsSync(sharedTrain)) {
    t.skip(`shared sample not found at ${sharedTrain}`);
    return;
  }
  const out = join(dir, 'shared');
  await mkdir(out);
  const { code, stdout, stderr } = await cli(['--source', sharedTrain, '--split', 'train', '--out', out, '--max-examples', '2000']);
  assert.equal(code, 0, stderr);
  const first = (await readFile(sharedTrain, 'utf8')).split('<|endoftext|>').map((s) => s.trim()).slice(0, 2000);
  const expected = expectedIds(first);
  assert.match(stdout, new RegExp(`^Wrote ${expected.length.toLocaleString('en-US')} tokens to ${join(out, 'train.bin')} \\(2,000 stories`));
  assert.deepEqual(await readIds(join(out, 'train.bin')), expected);
  const again = await cli(['--source', sharedTrain, '--split', 'train', '--out', out, '--max-examples', '2000']);
  assert.match(again.stdout, /is up to date/);
});
