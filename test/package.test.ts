// The package as its users get it: `npm pack`'s tarball, unpacked into a temporary project
// outside this checkout whose node_modules holds the package and only its declared runtime
// dependencies (linked from this checkout's node_modules: no network, no install step). So a
// file missing from the tarball, an import of an undeclared package or a broken export map
// fails here. Checked in that project:
//   - the README's library example runs with plain `node` (its loss falls, it generates, and
//     the library prints nothing of its own) and typechecks with `tsc`, library types included;
//   - the `browser` entry bundles with esbuild for a browser, with no Node builtin, and the
//     bundle trains a layer and runs GPT-2 (on a backend of the reference's primitives, the
//     fused kernels composed) in a bare JavaScript context (no `process`, no `require`);
//   - no export condition points Node at a file it cannot load (`--conditions=development`);
//   - publint and arethetypeswrong find no problem in package.json, the tarball and the types.
// Needs dist/ (`npm test` builds it first).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { browserBundle, nodeBuiltins } from './helpers/bundle.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

/** The README's library example: the first ```ts block under "## Use it as a library". */
function libraryExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('## Use it as a library');
  assert.ok(at >= 0, 'README.md has no "## Use it as a library" section');
  return /```ts\n([\s\S]*?)```/.exec(readme.slice(at))![1];
}

function run(cmd: string, args: string[], cwd: string, timeout = 300_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
}

const ok = (r: SpawnSyncReturns<string>, what: string): string => {
  assert.equal(r.status, 0, `${what} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

let work = ''; // temporary directory: the tarball and the project
let project = '';
let tarball = '';

before(() => {
  assert.ok(existsSync(join(root, 'dist', 'index.node.js')) && existsSync(join(root, 'dist', 'vendor', 'gpu.cjs')), 'dist/ is not built: run `npm run build` (npm test does)');
  work = mkdtempSync(join(tmpdir(), 'tsgrad-package-'));
  const packed = JSON.parse(ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root), 'npm pack')) as { filename: string }[];
  tarball = join(work, packed[0].filename);
  project = join(work, 'project');
  const modules = join(project, 'node_modules');
  mkdirSync(modules, { recursive: true });
  ok(run('tar', ['-xzf', tarball, '-C', modules], root), 'tar');
  renameSync(join(modules, 'package'), join(modules, 'tsgrad'));
  // the declared runtime dependencies, plus what the project itself uses to typecheck
  for (const name of [...Object.keys(pkg.dependencies), 'typescript', '@types/node']) {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(join(root, 'node_modules', name), join(modules, name), 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-tsgrad', private: true, type: 'module' }));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed package, installed in a project of its own', () => {
  test("the README's library example runs with plain node: the loss falls, it generates, tsgrad prints nothing itself", () => {
    writeFileSync(join(project, 'example.mjs'), libraryExample());
    const r = run(process.execPath, ['example.mjs'], project);
    const out = ok(r, 'node example.mjs');
    const losses = [...out.matchAll(/^step \d+: loss ([\d.]+)/gm)].map((m) => Number(m[1]));
    assert.ok(losses.length >= 2 && losses[losses.length - 1] < losses[0] / 2, `losses ${losses.join(' → ')}\n${out}`);
    assert.match(out.trim().split('\n').pop()!, /^Hello, I am\S*\s\S/, `no generated text after the prompt:\n${out}`);
    assert.ok(existsSync(join(project, 'out', 'hello', 'model.safetensors')), 'saveModel wrote no out/hello/model.safetensors');
    assert.doesNotMatch(r.stderr, /tsgrad/, 'the library printed on its own');
  });

  test("the README's library example typechecks with tsc against the package's types (skipLibCheck off)", () => {
    writeFileSync(join(project, 'example.mts'), libraryExample());
    const tsconfig = { compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['example.mts'] };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
    ok(run(bin('tsc'), ['-p', '.'], project), 'tsc');
  });

  test('no export condition points Node at a file it cannot load', () => {
    for (const conditions of [[], ['--conditions=development'], ['--conditions=browser']]) {
      const r = run(process.execPath, [...conditions, '--input-type=module', '-e', "const m = await import('tsgrad'); if (typeof m.GPT2Model !== 'function') process.exit(3);"], project);
      ok(r, `node ${conditions.join(' ')} import('tsgrad')`);
    }
  });

  test("the browser entry bundles for a browser with no Node builtin, and runs without Node's globals", async () => {
    const program = `
      import { ready, manualSeed, tensor, Linear, AdamW, crossEntropy, GPT2Model, makeConfig, encodeOrdinary, decode, completeBackend, referenceBackend, setBackend } from 'tsgrad';
      globalThis.done = (async () => {
        const backend = await ready();
        manualSeed(1);
        const layer = new Linear(4, 3);
        const opt = new AdamW(layer.parameters(), { lr: 0.1 });
        const x = tensor([[1, 2, 3, 4], [4, 3, 2, 1]]);
        const losses = [];
        for (let i = 0; i < 20; i++) {
          const loss = crossEntropy(layer.forward(x), [0, 2]);
          loss.backward(); opt.step(); opt.zeroGrad();
          losses.push(await loss.toNumber());
        }
        layer.bias.requiresGrad = false; // frozen: still a parameter
        // GPT-2 on a backend of the reference's primitives alone, the fused kernels composed
        const { name, asyncOnly, fromHost, toHost, toHostAsync, fill, unary, binary, maskedFill, permute, slice, pad, reduce, matmul } = referenceBackend;
        await setBackend(completeBackend({ name: 'primitives', asyncOnly, fromHost, toHost, toHostAsync, fill, unary, binary, maskedFill, permute, slice, pad, reduce, matmul }));
        const gpt = new GPT2Model(makeConfig({ n_layers: 1, d_model: 8, n_heads: 2, n_ctx: 8 }, 'overfit'));
        const ids = Int32Array.from(encodeOrdinary('Hello browser'));
        const logits = gpt.forward(ids, [1, ids.length]);
        console.log(backend.name, decode(ids), losses[19] < losses[0] / 2, logits.shape.join('x'), layer.stateDict().size, logits.backend.name);
      })();`;
    const { code, inputs } = await browserBundle(program, project);
    assert.deepEqual(nodeBuiltins(inputs), [], 'the browser bundle pulls in Node builtins');
    const lines: string[] = [];
    const context: { done?: Promise<void> } & Record<string, unknown> = {
      console: { log: (...a: unknown[]) => lines.push(a.join(' ')) },
      TextEncoder,
      TextDecoder,
    };
    runInNewContext(code, context);
    await context.done;
    assert.deepEqual(lines, ['js Hello browser true 1x2x50257 2 primitives']);
  });

  test('publint: package.json and the packed files agree (strict: warnings fail)', () => {
    ok(run(bin('publint'), ['--strict'], root), 'publint --strict');
  });

  test('arethetypeswrong: every entry resolves to types that match its JavaScript (ESM-only package)', () => {
    ok(run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], root), 'attw');
  });
});
