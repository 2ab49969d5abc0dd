// How every tsgrad command ends: run main, print a failure as one line on stderr, and exit
// with 0 (done), 1 (failed: NaN loss, missing file, I/O) or 2 (bad command line) once
// stdout has been flushed (so `--json` output piped elsewhere is never cut short).
import { ConfigError, HelpRequested } from '../errors.ts';

export function runCli(name: string, main: () => Promise<void>): void {
  const exit = (code: number) => process.stdout.write('', () => process.exit(code));
  main().then(
    () => exit(0),
    (err: unknown) => {
      if (err instanceof HelpRequested) {
        process.stdout.write(err.message + '\n');
        return exit(0);
      }
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${name}: ${message}\n`);
      if (process.env.TSGRAD_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
