// `ort-mlir` command dispatch.
import { CliError } from './errors.js';
import { processIo, type CliIo } from './io.js';
import { runCommand, RUN_USAGE } from './run-command.js';
import { testCommand, TEST_USAGE } from './test-runner.js';
import { compileCommand, COMPILE_USAGE } from './compile-command.js';
import { perfCommand, PERF_USAGE } from './perf-command.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

interface CommandEntry {
  run: Command;
  usage: string;
  summary: string;
}

const COMMANDS: ReadonlyMap<string, CommandEntry> = new Map([
  ['test', { run: testCommand, usage: TEST_USAGE, summary: 'run ONNX test cases (onnx_test_runner compatible)' }],
  ['run', { run: runCommand, usage: RUN_USAGE, summary: 'run a model once and print its outputs and session report' }],
  ['compile', { run: compileCommand, usage: COMPILE_USAGE, summary: 'precompile a model into a module file (runs without the toolchain)' }],
  ['perf', { run: perfCommand, usage: PERF_USAGE, summary: 'time a model on the mlir EP against onnxruntime-node CPU (ratio)' }],
]);

const EXIT_OK = 0;
/** Bad usage or a runner crash; test failures never change the exit status. */
const EXIT_ERROR = 2;
const COMMAND_COLUMN = 8;

export const MAIN_USAGE = `usage: ort-mlir COMMAND [options]

Commands:
${[...COMMANDS].map(([name, c]) => `  ${name.padEnd(COMMAND_COLUMN)}${c.summary}`).join('\n')}

Run 'ort-mlir COMMAND --help' (or 'ort-mlir help COMMAND') for a command's options.`;

function isHelp(arg: string | undefined): boolean {
  return arg === undefined || arg === '--help' || arg === '-h' || arg === 'help';
}

function helpFor(topic: string | undefined): string {
  if (topic === undefined) return MAIN_USAGE;
  const entry = COMMANDS.get(topic);
  if (entry === undefined) throw new CliError(`unknown command '${topic}'\n\n${MAIN_USAGE}`);
  return entry.usage;
}

/** Entry point of bin/ort-mlir.js; returns the process exit status. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (isHelp(name)) {
      io.stdout(`${helpFor(name === 'help' ? rest[0] : undefined)}\n`);
      return EXIT_OK;
    }
    const entry = name === undefined ? undefined : COMMANDS.get(name);
    if (entry === undefined) throw new CliError(`unknown command '${name ?? ''}'\n\n${MAIN_USAGE}`);
    return await entry.run(rest, io);
  } catch (e) {
    io.stderr(`ort-mlir: ${describeError(e)}\n`);
    return EXIT_ERROR;
  }
}

const BUILTIN_ERRORS: ReadonlySet<unknown> = new Set([Error, TypeError, RangeError, ReferenceError, SyntaxError]);

/** Layer errors (CliError, EpError, OnnxDecodeError, ...) are user-facing; builtin ones are bugs and keep their stack. */
function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (!(e instanceof Error)) return `internal error: ${String(e)}`;
  return BUILTIN_ERRORS.has(e.constructor) ? `internal error: ${e.stack ?? e.message}` : `${e.name}: ${e.message}`;
}
