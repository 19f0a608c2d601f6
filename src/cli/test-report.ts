// Reporting for `ort-mlir test`: the summary block in onnx_test_runner's
// format (TestResultStat::ToString), per-failure lines, the TTY progress line
// and the --json file.
import type { EngineName } from './engines.js';
import type { CaseResult, CaseStatus } from './run-case.js';

export interface Summary {
  models: number;
  /** Datasets, which is what ORT calls test cases. */
  dataSets: number;
  succeeded: number;
  notImplemented: number;
  failed: number;
  invalidGraph: number;
  exception: number;
  resultDiffers: number;
  otherReason: number;
  notImplementedKernels: string[];
  failedCases: string[];
  /** Cases that passed with every node compiled by mlir. */
  compiledFully: number;
  passedWithFallback: number;
  /** The headline numbers: passed = succeeded (and fully compiled for mlir); failed = every other case. */
  passed: number;
  notPassed: number;
}

const STATUS_LABELS: Readonly<Record<CaseStatus, string>> = {
  passed: 'passed',
  not_implemented: 'not implemented',
  result_differs: 'result differs',
  exception: 'exception while running',
  invalid_graph: 'graph is invalid',
  timeout: 'timeout',
  other: 'failed',
};

/** Console lines keep at most this much of a reason; --json has it whole. */
const MAX_REASON_CHARS = 400;

function countDataSets(results: readonly CaseResult[], status: CaseStatus): number {
  return results.reduce((n, r) => n + r.dataSetStatuses.filter((s) => s === status).length, 0);
}

function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort();
}

function isFullyCompiled(r: CaseResult): boolean {
  return r.fallbackNodes === 0;
}

export function summarize(results: readonly CaseResult[], engine: EngineName): Summary {
  const dataSets = results.reduce((n, r) => n + r.dataSetStatuses.length, 0);
  const succeeded = countDataSets(results, 'passed');
  const notImplemented = countDataSets(results, 'not_implemented');
  const invalidGraph = countDataSets(results, 'invalid_graph');
  const exception = countDataSets(results, 'exception');
  const resultDiffers = countDataSets(results, 'result_differs');
  const failed = dataSets - succeeded - notImplemented;
  const passedCases = results.filter((r) => r.status === 'passed');
  const compiledFully = passedCases.filter(isFullyCompiled).length;
  const passed = engine === 'mlir' ? compiledFully : passedCases.length;
  return {
    models: results.length,
    dataSets,
    succeeded,
    notImplemented,
    failed,
    invalidGraph,
    exception,
    resultDiffers,
    otherReason: failed - invalidGraph - exception - resultDiffers,
    notImplementedKernels: sortedUnique(results.filter((r) => r.status === 'not_implemented').map((r) => r.opType || r.name)),
    failedCases: sortedUnique(results.filter((r) => r.status !== 'passed' && r.status !== 'not_implemented').map((r) => r.name)),
    compiledFully,
    passedWithFallback: passedCases.length - compiledFully,
    passed,
    notPassed: results.length - passed,
  };
}

export function formatSummary(s: Summary, engine: EngineName): string {
  const lines = [
    'result:',
    `\tModels: ${s.models}`,
    `\tTotal test cases: ${s.dataSets}`,
    `\t\tSucceeded: ${s.succeeded}`,
    `\t\tNot implemented: ${s.notImplemented}`,
    `\t\tFailed: ${s.failed}`,
  ];
  if (s.invalidGraph) lines.push(`\t\t\tGraph is invalid: ${s.invalidGraph}`);
  if (s.exception) lines.push(`\t\t\tGot exception while running: ${s.exception}`);
  lines.push(`\t\t\tResult differs: ${s.resultDiffers}`, `\t\t\tOther reason: ${s.otherReason}`);
  lines.push(
    '\tStats by Operator type:',
    `\t\tNot implemented(${s.notImplementedKernels.length}): ${s.notImplementedKernels.join(', ')}`,
    `\t\tFailed: ${s.failedCases.join(', ')}`,
  );
  if (engine === 'mlir') lines.push(`Compiled fully: ${s.compiledFully}  Passed with fallback: ${s.passedWithFallback}`);
  lines.push(`${s.passed} passed, ${s.notPassed} failed`);
  return lines.join('\n');
}

function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_REASON_CHARS ? oneLine : `${oneLine.slice(0, MAX_REASON_CHARS)}…`;
}

/** `name: status: reason`, one line; with mlir also how many nodes were compiled. */
export function formatCaseLine(r: CaseResult, engine: EngineName): string {
  const mlir = engine === 'mlir';
  const label = mlir && r.status === 'passed' && r.fallbackNodes > 0 ? 'passed with fallback' : STATUS_LABELS[r.status];
  const reason = r.reason ? `: ${shorten(r.reason)}` : '';
  const nodes = mlir && r.totalNodes > 0 ? ` [${r.compiled}/${r.totalNodes} nodes compiled]` : '';
  return `${r.name}: ${label}${reason}${nodes} (${r.ms} ms)`;
}

export interface JsonCase {
  name: string;
  status: CaseStatus;
  reason: string;
  compiled: number;
  fallbackNodes: number;
  fallbackReasons: string[];
  ms: number;
}

export function toJson(results: readonly CaseResult[], s: Summary, engine: EngineName): string {
  const cases: JsonCase[] = results.map((r) => ({
    name: r.name, status: r.status, reason: r.reason, compiled: r.compiled, fallbackNodes: r.fallbackNodes, fallbackReasons: r.fallbackReasons, ms: r.ms,
  }));
  return `${JSON.stringify({ engine, passed: s.passed, failed: s.notPassed, summary: s, cases }, null, 2)}\n`;
}

export interface Terminal {
  write(text: string): void;
  columns: number;
}

const CLEAR_LINE = '\r\x1b[K';
const MIN_COLUMNS = 20;

/** A one-line `[done/total] case` status on a TTY; silent otherwise. */
export class Progress {
  private shown = false;

  constructor(private readonly term: Terminal | null, private readonly total: number) {}

  update(done: number, current: string): void {
    if (this.term === null) return;
    const width = String(this.total).length;
    const line = `[${String(done).padStart(width)}/${this.total}] ${current}`;
    this.term.write(`${CLEAR_LINE}${line.slice(0, Math.max(MIN_COLUMNS, this.term.columns - 1))}`);
    this.shown = true;
  }

  /** Removes the progress line so that other output starts on a clean line. */
  clear(): void {
    if (this.term === null || !this.shown) return;
    this.term.write(CLEAR_LINE);
    this.shown = false;
  }
}
