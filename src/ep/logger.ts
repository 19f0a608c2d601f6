// Logging at ORT's severity levels (0 verbose, 1 info, 2 warning, 3 error,
// 4 fatal), honouring SessionOptions.logSeverityLevel.

export type Severity = 0 | 1 | 2 | 3 | 4;

const LABELS = ['V', 'I', 'W', 'E', 'F'];

export class Logger {
  static readonly DEFAULT_LEVEL: Severity = 2;

  constructor(readonly level: Severity, readonly id: string) {}

  private write(sev: Severity, msg: string): void {
    if (sev < this.level) return;
    process.stderr.write(`${new Date().toISOString()} [${LABELS[sev]}:${this.id}] ${msg}\n`);
  }

  verbose(msg: string): void { this.write(0, msg); }
  info(msg: string): void { this.write(1, msg); }
  warning(msg: string): void { this.write(2, msg); }
  error(msg: string): void { this.write(3, msg); }
}

/** Silent unless an error: the default for sessions created outside ORT's API. */
export const quietLogger = new Logger(3, 'onnxruntime-ep-mlir');
