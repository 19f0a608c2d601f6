// When the toolchain fails as a whole rather than on one partition (a tool is
// missing or crashes on --version, the link fails, the linked library cannot
// be loaded), every partition of the compile falls back to the CPU EP, or with
// fallback 'error' a typed error names them; either way one reproducer
// directory names all their nodes.
import { NativeError, NativeLibrary } from '../native/library.js';
import { ToolchainError } from '../toolchain/tools.js';
import { writeReproducer } from '../toolchain/repro.js';
import { EpError } from './errors.js';
import type { FallbackPolicy } from './options.js';

export interface FailedPartition {
  index: number;
  /** Node labels, as in fallback reasons. */
  nodes: string[];
  mlir: string;
  /** The partition as a standalone ONNX model, when it could be cut. */
  onnxModel: Uint8Array | null;
}

/**
 * Loads the linked library once and looks up every entry point, so that a
 * linker that "succeeded" with a broken output fails the compile (and is
 * never cached) instead of failing every later session at load time.
 */
export function verifyLibrary(bytes: Uint8Array, symbols: readonly string[]): void {
  let lib: NativeLibrary | null = null;
  try {
    lib = new NativeLibrary(bytes);
    for (const s of symbols) lib.kernel(s, 0);
  } catch (e) {
    if (!(e instanceof NativeError)) throw e;
    throw new ToolchainError(`ld.lld produced a library that cannot be used: ${e.message}`, 'ld.lld');
  } finally {
    lib?.close();
  }
}

/** Writes the reproducer and returns the fallback reason; throws EpError when the policy is 'error'. */
export async function toolchainFailure(parts: readonly FailedPartition[], error: ToolchainError, toolchainVersion: string, policy: FallbackPolicy): Promise<string> {
  const nodes = parts.flatMap((p) => p.nodes);
  const dir = await writeReproducer({
    label: 'toolchain',
    nodes,
    mlir: parts.map((p) => `// ---- partition ${p.index}: ${p.nodes.join(', ')}\n${p.mlir}`).join('\n'),
    commands: [],
    error: error.message,
    toolchainVersion: toolchainVersion || 'unknown (the toolchain did not report a version)',
    onnxModel: parts.length === 1 ? parts[0].onnxModel : null,
  });
  const which = parts.map((p) => `partition ${p.index} (${p.nodes.join(', ')})`).join(', ');
  const msg = `${which}: ${error.message}${dir ? `; reproducer in ${dir}` : ''}`;
  if (policy === 'error') throw new EpError(`mlir EP: compile failed for ${msg}`);
  return msg;
}
