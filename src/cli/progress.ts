// A one-line progress bar for long compiles, drawn only on an interactive terminal.
import type { CliIo } from './io.js';

const BAR_WIDTH = 30;
const PERCENT = 100;

export class ProgressBar {
  private drawn = false;

  constructor(private readonly io: CliIo, private readonly title: string) {}

  update(fraction: number, what: string): void {
    const term = this.io.progress;
    if (!term) return;
    const f = Math.max(0, Math.min(1, fraction));
    const filled = Math.round(f * BAR_WIDTH);
    const line = `${this.title} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.round(f * PERCENT)}% ${what}`;
    term.write(`\r${line.slice(0, term.columns - 1).padEnd(term.columns - 1)}`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn && this.io.progress) this.io.progress.write(`\r${' '.repeat(this.io.progress.columns - 1)}\r`);
    this.drawn = false;
  }
}
