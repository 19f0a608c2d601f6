export interface CliErrorOptions {
  cause?: unknown;
  /** The input is valid but uses something this tool does not handle (reported as "not implemented"). */
  unsupported?: boolean;
}

/** Errors of the CLI layer: bad arguments, unreadable test data; printed without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  readonly unsupported: boolean;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.unsupported = options.unsupported ?? false;
  }
}
