// Where the CLI writes; injectable so that commands can be tested in-process.
import type { Terminal } from './test-report.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Where to draw progress; null when stderr is not an interactive terminal or in CI. */
  progress: Terminal | null;
}

const DEFAULT_COLUMNS = 80;

export function processIo(): CliIo {
  const interactive = process.stderr.isTTY && !process.env.CI;
  return {
    stdout: (text) => { process.stdout.write(text); },
    stderr: (text) => { process.stderr.write(text); },
    progress: interactive
      ? { write: (text) => { process.stderr.write(text); }, get columns() { return process.stderr.columns || DEFAULT_COLUMNS; } }
      : null,
  };
}

/** Collects output in memory (tests, embedding). */
export function bufferIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => { out.push(t); }, stderr: (t) => { err.push(t); }, progress: null };
}
