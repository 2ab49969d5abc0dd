// What a browser bundle of some of tsgrad's source pulls in: esbuild bundles a program for
// platform 'browser' (no file written) and reports the files it read, so a test can show that a
// part of tsgrad meant for browsers reaches no Node builtin and no Node-only module.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Bundles `program` (TypeScript importing from src/…, resolved from the repository root) for a browser. */
export async function browserBundle(program: string): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    stdin: { contents: program, resolveDir: root, sourcefile: 'browser-program.ts', loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

/** The inputs that are Node builtins (or Node's `process` global). */
export function nodeBuiltins(inputs: string[]): string[] {
  return inputs.filter((f) => /^(node:|<define:process)/.test(f));
}
