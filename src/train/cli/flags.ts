// Command lines, from one table per command (./commands.ts): each flag's name, group, meaning,
// value kind, allowed values and default. The same table parses argv (node:util parseArgs,
// strict), checks every value, reads `--config FILE.json` where the command takes one, and
// writes `--help`, so help and parsing cannot disagree.
// Promise: every mistake is one ConfigError line (./run_cli.ts's runCli exits 2); --help
// is a HelpRequested carrying the help text (exit 0).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { registeredBackends } from '../../autograd/backends/registry.ts';
import { ConfigError, HelpRequested } from '../errors.ts';
import { defaultBackendName, useBackend } from './backend.ts';

export type FlagValue = string | number | boolean;

export interface Flag {
  /** Without the leading `--`. */
  name: string;
  /** Heading the flag is listed under in --help: model, data, optimisation, evaluation, … */
  group: string;
  /** What it means, one line. */
  help: string;
  /** switch: present or absent, no value. */
  type: 'string' | 'int' | 'number' | 'switch';
  /** The value's placeholder in --help: N, X, DIR, NAME… */
  arg?: string;
  choices?: readonly string[];
  /** Allowed numbers: ≥ min, > above, ≤ max, < below (those given). */
  min?: number;
  above?: number;
  max?: number;
  below?: number;
  /** Value when the flag is absent (parsing fills it in; --help shows it). */
  default?: FlagValue;
  /** --help's text for the default when it is not a value (e.g. 'none: fresh model'). */
  defaultText?: string;
  required?: boolean;
  /** The field of the command's config the flag sets (TrainConfig for train); also a --config key. */
  key?: string;
  /** For a switch with a key: the value it gives that field (true unless said). */
  sets?: boolean;
}

export interface Command {
  /** As a user types it: `npm run NAME -- …`. */
  name: string;
  /** One line after the usage line: what the command does. */
  summary: string;
  /** Arguments shown on the usage line, e.g. '--model DIR [flags]'. */
  synopsis: string;
  flags: Flag[];
  /** Accepts `--config FILE.json` (keys: flag names or the flags' config keys). */
  configFile?: boolean;
  /** Lines printed after the flags. */
  notes?: string[];
}

const HELP: Flag = { name: 'help', group: 'run', type: 'switch', help: 'print this help and exit' };
const CONFIG: Flag = {
  name: 'config',
  group: 'run',
  type: 'string',
  arg: 'FILE.json',
  help: 'read flags from a JSON object (keys: flag names or config keys); flags given here win',
  defaultText: 'none',
};

/** Every flag of a command, --config and --help included. */
export function allFlags(cmd: Command): Flag[] {
  return [...cmd.flags, ...(cmd.configFile ? [CONFIG] : []), HELP];
}

/** The numbers a number flag allows: '≥ 1', 'in [0, 1)', … ('' for any). */
function range(f: Flag): string {
  const lo = f.min !== undefined ? `[${f.min}` : f.above !== undefined ? `(${f.above}` : null;
  const hi = f.max !== undefined ? `${f.max}]` : f.below !== undefined ? `${f.below})` : null;
  if (lo !== null && hi !== null) return `in ${lo}, ${hi}`;
  if (lo !== null) return f.min !== undefined ? `≥ ${f.min}` : `> ${f.above}`;
  if (hi !== null) return f.max !== undefined ? `≤ ${f.max}` : `< ${f.below}`;
  return '';
}

/** The allowed values of a flag, for --help ('' when any string goes). */
export function allowed(f: Flag): string {
  if (f.choices) return f.choices.join(' | ');
  if (f.type === 'int') return `integer ${range(f)}`.trim();
  if (f.type === 'number') return `number ${range(f)}`.trim();
  return '';
}

/** A flag's raw value (from argv or a config file) checked and converted; `where` names its origin. */
function convert(f: Flag, raw: unknown, where: string): FlagValue {
  const bad = (what: string): never => {
    throw new ConfigError(`${where}: expected ${what}, got ${typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw)}`);
  };
  if (f.type === 'switch') return typeof raw === 'boolean' ? raw : bad('true or false');
  if (typeof raw !== 'string' && !(typeof raw === 'number' && f.type !== 'string')) bad(f.type === 'string' ? 'a string' : 'a number');
  const text = String(raw);
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(text)) bad(f.choices.join(' or '));
    return text;
  }
  const x = Number(text);
  const ok =
    text.trim() !== '' &&
    Number.isFinite(x) &&
    (f.type === 'number' || Number.isInteger(x)) &&
    (f.min === undefined || x >= f.min) &&
    (f.above === undefined || x > f.above) &&
    (f.max === undefined || x <= f.max) &&
    (f.below === undefined || x < f.below);
  return ok ? x : bad(`${f.type === 'int' ? 'an integer' : 'a number'} ${range(f)}`.trim());
}

/** `--config FILE.json`: its keys (flag names or flag keys) as flag values. */
function readConfigFile(cmd: Command, path: string): Record<string, FlagValue> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`--config ${path}: ${e.code === 'ENOENT' ? 'no such file' : e instanceof SyntaxError ? `not valid JSON (${e.message})` : e.message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`--config ${path}: expected a JSON object of flags`);
  const values: Record<string, FlagValue> = {};
  for (const [k, raw] of Object.entries(json)) {
    const f = cmd.flags.find((g) => g.name === k || g.key === k);
    if (f === undefined) {
      const keyed = cmd.flags.find((g) => g.key !== undefined && g.type !== 'switch');
      const example = keyed ? ` (e.g. '${keyed.name}' or '${keyed.key}')` : '';
      throw new ConfigError(`--config ${path}: unknown key '${k}'; keys are ${cmd.name}'s flag names${keyed ? ' or their config keys' : ''}${example}`);
    }
    const v = convert(f, raw, `--config ${path}: '${k}'`);
    // a switch named by its key holds the field's value: { "shuffle": false } is --no-shuffle
    values[f.name] = f.type === 'switch' && k !== f.name ? v === (f.sets ?? true) : v;
  }
  return values;
}

/**
 * Parses a command line against its table: the config file's values, then argv's. Absent
 * flags take their table default. `helpDefaults` gives --help defaults that depend on the
 * values parsed (train: the preset's).
 */
export function parseCommand(cmd: Command, argv: string[], helpDefaults?: (values: Record<string, FlagValue>) => Record<string, unknown>): Record<string, FlagValue> {
  try {
    return parseValues(cmd, argv, helpDefaults);
  } catch (err) {
    if (err instanceof ConfigError && !(err instanceof HelpRequested)) err.message += ' (--help for usage)';
    throw err;
  }
}

function parseValues(cmd: Command, argv: string[], helpDefaults?: (values: Record<string, FlagValue>) => Record<string, unknown>): Record<string, FlagValue> {
  const flags = allFlags(cmd);
  let raw: Record<string, string | boolean | undefined>;
  try {
    raw = parseArgs({
      args: argv,
      options: Object.fromEntries(flags.map((f) => [f.name, { type: f.type === 'switch' ? ('boolean' as const) : ('string' as const), ...(f === HELP ? { short: 'h' } : {}) }])),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]);
  }
  const fromArgv: Record<string, FlagValue> = {};
  for (const f of cmd.flags) if (raw[f.name] !== undefined) fromArgv[f.name] = convert(f, raw[f.name], `--${f.name}`);
  const fromFile = typeof raw.config === 'string' ? readConfigFile(cmd, raw.config) : {};
  const values = { ...fromFile, ...fromArgv };
  if (raw.help) throw new HelpRequested(helpText(cmd, helpDefaults?.(values)));
  for (const f of cmd.flags) {
    if (values[f.name] === undefined && f.default !== undefined) values[f.name] = f.default;
    if (values[f.name] === undefined && f.required) throw new ConfigError(`--${f.name}${f.arg ? ' ' + f.arg : ''} is required: ${f.help}`);
  }
  return values;
}

/** How --help shows a default value. */
function showDefault(f: Flag, value: unknown): string {
  if (f.type === 'switch') return (f.key === undefined ? value === true : value === (f.sets ?? true)) ? 'on' : 'off';
  if (value === undefined || value === null) return f.defaultText ?? '';
  return typeof value === 'string' ? (value === '' ? "'' (none)" : value) : String(value);
}

const HELP_WIDTH = 100;

/** `text` broken into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines = [''];
  for (const word of text.split(' ')) {
    const last = lines[lines.length - 1];
    if (last !== '' && last.length + 1 + word.length > width) lines.push(word);
    else lines[lines.length - 1] = last === '' ? word : `${last} ${word}`;
  }
  return lines;
}

/**
 * Help text: usage, summary, then each group's flags with meaning, allowed values and
 * default (`defaults` by flag name, else the table's), wrapped to 100 columns.
 */
export function helpText(cmd: Command, defaults: Record<string, unknown> = {}): string {
  const flags = allFlags(cmd);
  const left = (f: Flag) => `--${f.name}${f.arg ? ' ' + f.arg : ''}${f === HELP ? ', -h' : ''}`;
  const width = Math.max(...flags.map((f) => left(f).length)) + 4;
  const lines = [`usage: npm run ${cmd.name} -- ${cmd.synopsis}`, '', ...wrap(cmd.summary, HELP_WIDTH)];
  for (const group of [...new Set(flags.map((f) => f.group))]) {
    lines.push('', `${group}:`);
    for (const f of flags.filter((g) => g.group === group)) {
      const details = [allowed(f) && `allowed: ${allowed(f)}`];
      if (f.required) details.push('required');
      else if (f !== HELP) details.push(`default: ${showDefault(f, f.name in defaults ? defaults[f.name] : f.default)}`);
      const tail = details.filter(Boolean).join('; ');
      const text = wrap(`${f.help}${tail ? ` [${tail}]` : ''}`, HELP_WIDTH - width);
      lines.push(`  ${left(f).padEnd(width - 2)}${text[0]}`, ...text.slice(1).map((t) => ' '.repeat(width) + t));
    }
  }
  if (cmd.notes?.length) lines.push('', ...cmd.notes.flatMap((n) => wrap(n, HELP_WIDTH)));
  return lines.join('\n');
}

/** The --backend flag every command takes. */
export function backendFlag(group = 'run'): Flag {
  return {
    name: 'backend',
    group,
    type: 'string',
    arg: 'NAME',
    help: 'where the kernels run: js | cpu | webasm | webgpu | headlessgl | auto (fastest that works here)',
    defaultText: '$TSGRAD_BACKEND, else auto',
    key: 'backend',
  };
}

/**
 * `--backend NAME` if given, else train's default ($TSGRAD_BACKEND or 'auto') when that
 * backend exists; otherwise the reference backend stays current.
 */
export async function selectBackend(flag: string | undefined): Promise<void> {
  const name = flag ?? defaultBackendName();
  if (flag !== undefined || registeredBackends().includes(name)) await useBackend(name);
}
