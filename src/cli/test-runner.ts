// `ort-mlir test`: onnxruntime's onnx_test_runner, reimplemented over the
// EP's session API so that the same test data exercises the mlir EP and the
// onnxruntime-node CPU reference.
import { writeFile } from 'node:fs/promises';
import { formatOptions, parseArgs, type OptionSpecs } from './args.js';
import { loadEngine, parseEngineName, type Engine, type EngineName } from './engines.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';
import { runCase, type CaseResult } from './run-case.js';
import { discoverTestCases, type TestCase } from './test-data.js';
import { formatCaseLine, formatSummary, Progress, summarize, toJson } from './test-report.js';

const DEFAULT_TIMEOUT_SECONDS = 120;
const MS_PER_SECOND = 1000;
const MAX_JOBS = 1024;
const MAX_TIMEOUT_SECONDS = 24 * 60 * 60;
const EXIT_OK = 0;
const EXIT_BELOW_THRESHOLD = 1;

export const TEST_OPTIONS: OptionSpecs = {
  engine: { kind: 'string', short: 'e', valueName: 'mlir|cpu', description: 'engine to test (default: mlir)' },
  jobs: { kind: 'integer', short: 'j', valueName: 'N', description: 'cases to run concurrently (default: 1)' },
  filter: { kind: 'string', valueName: 'REGEX', description: 'only run cases whose name matches' },
  verbose: { kind: 'boolean', short: 'v', description: 'print every case, with fallback reasons' },
  json: { kind: 'string', valueName: 'FILE', description: 'write per-case results as JSON' },
  timeout: { kind: 'integer', valueName: 'SEC', description: `per-case time limit (default: ${DEFAULT_TIMEOUT_SECONDS})` },
  'fail-under': { kind: 'integer', valueName: 'N', description: 'exit with status 1 when fewer than N cases pass' },
  atol: { kind: 'number', valueName: 'X', description: 'absolute tolerance (default: 1e-5, or ORT\'s per-test override)' },
  rtol: { kind: 'number', valueName: 'X', description: 'relative tolerance (default: 1e-3)' },
  help: { kind: 'boolean', short: 'h', description: 'show this help' },
};

export const TEST_USAGE = `usage: ort-mlir test DIR... [options]

Runs ONNX test cases (a directory with a .onnx model and test_data_set_N/
holding input_K.pb / output_K.pb), like onnxruntime's onnx_test_runner.
Each DIR is a test case or a directory of test cases.

Options:
${formatOptions(TEST_OPTIONS)}

The last line reads 'N passed, N failed'; with -e mlir a case passes only
when it succeeds with every node compiled (no CPU fallback).`;

export interface TestRunOptions {
  dirs: string[];
  engine: EngineName;
  jobs: number;
  filter: RegExp | null;
  verbose: boolean;
  jsonFile: string | null;
  timeoutMs: number;
  failUnder: number | null;
  atol?: number;
  rtol?: number;
}

function compileFilter(source: string | undefined): RegExp | null {
  if (source === undefined) return null;
  try {
    return new RegExp(source);
  } catch (e) {
    throw new CliError(`--filter: invalid regular expression '${source}'`, { cause: e });
  }
}

export function parseTestOptions(argv: readonly string[]): TestRunOptions | 'help' {
  const args = parseArgs(argv, TEST_OPTIONS);
  if (args.flag('help')) return 'help';
  if (args.positionals.length === 0) throw new CliError(`test: expected at least one test directory\n\n${TEST_USAGE}`);
  return {
    dirs: [...args.positionals],
    engine: parseEngineName(args.string('engine'), 'mlir'),
    jobs: args.integer('jobs', 1, MAX_JOBS) ?? 1,
    filter: compileFilter(args.string('filter')),
    verbose: args.flag('verbose'),
    jsonFile: args.string('json') ?? null,
    timeoutMs: (args.integer('timeout', 1, MAX_TIMEOUT_SECONDS) ?? DEFAULT_TIMEOUT_SECONDS) * MS_PER_SECOND,
    failUnder: args.integer('fail-under', 0) ?? null,
    atol: args.number('atol'),
    rtol: args.number('rtol'),
  };
}

/** Runs `fn` over `items` with at most `jobs` in flight; results keep the input order. */
export async function runPool<T, R>(items: readonly T[], jobs: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i];
      if (item !== undefined) results[i] = await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return results;
}

function report(r: CaseResult, opts: TestRunOptions, io: CliIo, progress: Progress): void {
  const show = opts.verbose || r.status !== 'passed';
  if (!show) return;
  progress.clear();
  io.stdout(`${formatCaseLine(r, opts.engine)}\n`);
  if (opts.verbose && r.fallbackNodes > 0 && opts.engine === 'mlir') {
    for (const reason of r.fallbackReasons) io.stdout(`    fallback ${reason}\n`);
  }
}

/** Runs every case and streams per-case lines; returns results in case order. */
export async function runTests(cases: readonly TestCase[], engine: Engine, opts: TestRunOptions, io: CliIo): Promise<CaseResult[]> {
  const progress = new Progress(io.progress, cases.length);
  let done = 0;
  const results = await runPool(cases, opts.jobs, async (tc) => {
    progress.update(done, tc.name);
    const r = await runCase(tc, engine, opts.timeoutMs);
    done++;
    report(r, opts, io, progress);
    progress.update(done, tc.name);
    return r;
  });
  progress.clear();
  return results;
}

export async function testCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const opts = parseTestOptions(argv);
  if (opts === 'help') {
    io.stdout(`${TEST_USAGE}\n`);
    return EXIT_OK;
  }
  const all = await discoverTestCases(opts.dirs, { atol: opts.atol, rtol: opts.rtol });
  const cases = opts.filter === null ? all : all.filter((c) => opts.filter?.test(c.name));
  const skipped = cases.filter((c) => c.dataSets.length === 0);
  // ORT skips cases without test data rather than counting them.
  for (const c of skipped) io.stderr(`skip ${c.name}: no test data sets in ${c.dir}\n`);
  const runnable = cases.filter((c) => c.dataSets.length > 0);
  const engine = await loadEngine(opts.engine);
  const results = await runTests(runnable, engine, opts, io);
  const summary = summarize(results, opts.engine);
  io.stdout(`${formatSummary(summary, opts.engine)}\n`);
  if (opts.jsonFile !== null) await writeFile(opts.jsonFile, toJson(results, summary, opts.engine));
  return opts.failUnder !== null && summary.passed < opts.failUnder ? EXIT_BELOW_THRESHOLD : EXIT_OK;
}
