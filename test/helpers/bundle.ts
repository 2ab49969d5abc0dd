// What a browser bundle of some of tsgrad's source pulls in: esbuild bundles a program for
// platform 'browser' (no file written) and reports the files it read, so a test can show that a
// part of tsgrad meant for browsers reaches no Node builtin and no Node-only module.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Bundles `program` (TypeScript, its imports resolved from `resolveDir`: by default the
 * repository root, so `./src/…`) for a browser; a failure lists esbuild's errors.
 */
export async function browserBundle(program: string, resolveDir = root): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents: program, resolveDir, sourcefile: 'browser-program.ts', loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    metafile: true,
    logLevel: 'silent',
  }).catch((e: { errors?: { text: string }[] }) => {
    throw new Error(`esbuild --platform=browser failed:\n${(e.errors ?? []).map((m) => m.text).join('\n')}`);
  });
  return { code: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

/** The inputs that are Node builtins (or Node's `process` global). */
export function nodeBuiltins(inputs: string[]): string[] {
  return inputs.filter((f) => /^(node:|<define:process)/.test(f));
}
