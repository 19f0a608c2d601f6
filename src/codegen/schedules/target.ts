// What the schedules need to know about the target CPU: the f32 vector width
// and how many vector registers a register-blocked micro-kernel may use.
import { readFileSync } from 'node:fs';

export interface VectorTarget {
  /** f32 lanes per vector register. */
  lanes: number;
  /** Rows of the matmul micro-kernel (accumulator rows; each row = `vectorsPerRow` registers). */
  microRows: number;
  /** Vector registers per accumulator row. */
  vectorsPerRow: number;
  /**
   * Rows of a taller matmul micro-kernel, used where they divide the rows
   * exactly: more FMAs per loaded vector of B (12×2 accumulators: 24 FMAs for
   * 2 loads and 12 broadcasts, against 16 for 2 and 8).
   */
  tallRows?: number;
}

/** Output columns of the micro-kernel: vectorsPerRow vectors of lanes. */
export function microColumns(t: VectorTarget): number {
  return t.lanes * t.vectorsPerRow;
}

/**
 * Kernel heights below this are not chosen just because they divide the
 * rows: with fewer than 4×2 accumulators the FMAs wait on each other (4
 * cycles of latency on two pipes), and the default height with its
 * remainder peeled or masked does better.
 */
const MIN_DIVIDING_ROWS = 4;

/**
 * The micro-kernel height for `m` rows that divides them exactly: the
 * target's tall kernel, else its default, else the tallest height its
 * registers hold down to MIN_DIVIDING_ROWS (AVX2's 6 rows divide no power
 * of two: 64 or 128 output channels take 4); null when none divides.
 */
export function dividingRows(t: VectorTarget, m: number): number | null {
  if (t.tallRows && m % t.tallRows === 0) return t.tallRows;
  if (m % t.microRows === 0) return t.microRows;
  for (let r = Math.min(Math.max(t.tallRows ?? 0, t.microRows), m); r >= MIN_DIVIDING_ROWS; r--) if (m % r === 0) return r;
  return null;
}

/** 32 zmm registers: 8×2 (or 12×2) accumulators + 2 B vectors + broadcasts. */
const AVX512: VectorTarget = { lanes: 16, microRows: 8, vectorsPerRow: 2, tallRows: 12 };
/** 16 ymm registers: 6×2 accumulators + 2 B vectors + 1 broadcast. */
const AVX2: VectorTarget = { lanes: 8, microRows: 6, vectorsPerRow: 2 };
/** 32 NEON registers (or 16 xmm on plain x86-64): a conservative 4-lane kernel. */
const BASELINE: VectorTarget = { lanes: 4, microRows: 6, vectorsPerRow: 2 };

const AVX512_CPUS = /^(skylake-avx512|cascadelake|cooperlake|cannonlake|icelake|tigerlake|rocketlake|sapphirerapids|emeraldrapids|graniterapids|diamondrapids|znver[45]|x86-64-v4)/;
const AVX2_CPUS = /^(haswell|broadwell|skylake|alderlake|raptorlake|meteorlake|arrowlake|lunarlake|gracemont|znver[123]|x86-64-v3|bdver4)/;

let hostFlags: string | null = null;

function cpuinfoFlags(): string {
  if (hostFlags !== null) return hostFlags;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    hostFlags = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
  } catch {
    hostFlags = '';
  }
  return hostFlags;
}

/** The kernel shape for `cpu` ('host' = this machine) with extra LLVM `features` (+avx512f, -avx512f, ...). */
export function vectorTarget(cpu: string, features: string): VectorTarget {
  if (features.includes('-avx512f')) return features.includes('-avx2') ? BASELINE : AVX2;
  if (features.includes('+avx512f')) return AVX512;
  if (cpu === 'host') {
    if (process.arch !== 'x64') return BASELINE;
    const flags = ` ${cpuinfoFlags()} `;
    if (flags.includes(' avx512f ')) return AVX512;
    if (flags.includes(' avx2 ') && flags.includes(' fma ')) return AVX2;
    return BASELINE;
  }
  if (AVX512_CPUS.test(cpu)) return AVX512;
  if (AVX2_CPUS.test(cpu) || features.includes('+avx2')) return AVX2;
  return BASELINE;
}
