// Chrome-trace profiling (chrome://tracing / Perfetto JSON), one event per
// dispatch and per fallback partition, like ORT's own profiler output.
import { writeFileSync } from 'node:fs';
import type { StepObserver } from '../runtime/executor.js';

interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X';
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args: Record<string, string>;
}

const MICROS_PER_MILLI = 1000;

export class Profiler implements StepObserver {
  private events: TraceEvent[] = [];
  private readonly origin = performance.now();
  private runIndex = 0;

  constructor(private readonly filePrefix: string) {}

  beginRun(): number {
    return ++this.runIndex;
  }

  private push(name: string, cat: string, startMs: number, endMs: number, args: Record<string, string>): void {
    this.events.push({
      name, cat, ph: 'X', pid: process.pid, tid: 0,
      ts: (startMs - this.origin) * MICROS_PER_MILLI,
      dur: (endMs - startMs) * MICROS_PER_MILLI,
      args,
    });
  }

  onStep(label: string, kind: 'native' | 'cpu', startMs: number, endMs: number): void {
    this.push(label, kind === 'native' ? 'Node' : 'Fallback', startMs, endMs, { provider: kind === 'native' ? 'MlirExecutionProvider' : 'CPUExecutionProvider' });
  }

  onRun(startMs: number, endMs: number): void {
    this.push('model_run', 'Session', startMs, endMs, { run: String(this.runIndex) });
  }

  onSession(name: string, startMs: number, endMs: number): void {
    this.push(name, 'Session', startMs, endMs, {});
  }

  /** Writes the trace and returns its path. */
  end(): string {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').replace(/\..*/, '');
    const path = `${this.filePrefix}_${stamp}.json`;
    writeFileSync(path, JSON.stringify(this.events));
    this.events = [];
    return path;
  }
}
