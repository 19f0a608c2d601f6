// A small typed command-line parser: GNU-style long options (`--name value`,
// `--name=value`), one-letter aliases (`-j 4`, `-j4`), `--` to end options,
// options and positionals in any order.
import { CliError } from './errors.js';

export type OptionKind = 'boolean' | 'string' | 'integer' | 'number' | 'list';

export interface OptionSpec {
  kind: OptionKind;
  /** One-letter alias, without the dash. */
  short?: string;
  /** Placeholder shown in help, e.g. 'N' or 'FILE'. */
  valueName?: string;
  description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

const HELP_COLUMN = 28;

export class ParsedArgs {
  constructor(
    private readonly specs: OptionSpecs,
    private readonly values: ReadonlyMap<string, readonly string[]>,
    readonly positionals: readonly string[],
  ) {}

  flag(name: string): boolean {
    this.expectKind(name, 'boolean');
    return this.values.has(name);
  }

  string(name: string): string | undefined {
    this.expectKind(name, 'string');
    return this.values.get(name)?.at(-1);
  }

  list(name: string): string[] {
    this.expectKind(name, 'list');
    return [...(this.values.get(name) ?? [])];
  }

  integer(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
    this.expectKind(name, 'integer');
    const raw = this.values.get(name)?.at(-1);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^[+-]?\d+$/.test(raw) || n < min || n > max) {
      throw new CliError(`option --${name}: expected an integer in [${min}, ${max}], got '${raw}'`);
    }
    return n;
  }

  number(name: string): number | undefined {
    this.expectKind(name, 'number');
    const raw = this.values.get(name)?.at(-1);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new CliError(`option --${name}: expected a number, got '${raw}'`);
    return n;
  }

  private expectKind(name: string, kind: OptionKind): void {
    const spec = this.specs[name];
    // A mismatch here is a bug in the command's code, not a user error.
    if (spec === undefined || spec.kind !== kind) {
      throw new Error(`internal: option --${name} read as ${kind} but declared as ${spec?.kind ?? 'nothing'}`);
    }
  }
}

function findShort(specs: OptionSpecs, letter: string): string | undefined {
  return Object.keys(specs).find((name) => specs[name]?.short === letter);
}

interface Token {
  name: string;
  inlineValue: string | undefined;
}

/** Splits `--name=v`, `--name`, `-x`, `-xVALUE` into an option name and an optional attached value. */
function optionToken(arg: string, specs: OptionSpecs): Token {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (specs[name] === undefined) throw unknownOption(arg, specs);
    return { name, inlineValue: eq < 0 ? undefined : arg.slice(eq + 1) };
  }
  const name = findShort(specs, arg.charAt(1));
  if (name === undefined) throw unknownOption(arg, specs);
  const rest = arg.slice(2);
  return { name, inlineValue: rest === '' ? undefined : rest.replace(/^=/, '') };
}

function unknownOption(arg: string, specs: OptionSpecs): CliError {
  const known = Object.entries(specs).map(([n, s]) => (s.short ? `-${s.short}/--${n}` : `--${n}`));
  return new CliError(`unknown option '${arg}'; known options: ${known.join(', ')}`);
}

function isOption(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg);
}

export function parseArgs(argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isOption(arg)) {
      positionals.push(arg);
      continue;
    }
    const { name, inlineValue } = optionToken(arg, specs);
    const previous = values.get(name) ?? [];
    if (specs[name]?.kind === 'boolean') {
      if (inlineValue !== undefined) throw new CliError(`option --${name} takes no value, got '${inlineValue}'`);
      values.set(name, previous);
      continue;
    }
    const value = inlineValue ?? argv[++i];
    if (value === undefined) throw new CliError(`option ${arg} expects a value`);
    values.set(name, [...previous, value]);
  }
  return new ParsedArgs(specs, values, positionals);
}

/** One help line per option, descriptions aligned. */
export function formatOptions(specs: OptionSpecs): string {
  return Object.entries(specs).map(([name, s]) => {
    const value = s.kind === 'boolean' ? '' : ` ${s.valueName ?? 'VALUE'}`;
    const left = `  ${s.short ? `-${s.short}, ` : '    '}--${name}${value}`;
    return `${left.padEnd(HELP_COLUMN)} ${s.description}`;
  }).join('\n');
}
