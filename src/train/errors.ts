// The two ways a command line can stop a command before it starts. Promise: src/train/cli/run_cli.ts's
// runCli prints a ConfigError as one line on stderr and exits 2, a HelpRequested on stdout and exits 0.

/** A bad command line: one line naming the problem. */
export class ConfigError extends Error {}

/** --help: not an error; the message is the usage text. */
export class HelpRequested extends ConfigError {}
