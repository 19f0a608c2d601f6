// Reproducers for toolchain failures: everything needed to replay the failing
// compile outside the user's process (input MLIR, exact commands, versions,
// and the ONNX subgraph as a standalone model).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReproInput {
  label: string;
  nodes: string[];
  mlir: string;
  commands: string[];
  error: string;
  toolchainVersion: string;
  /** The partition's nodes as an ONNX model, when it could be cut. */
  onnxModel: Uint8Array | null;
}

export function reproRoot(): string {
  return process.env.ORT_MLIR_REPRO_DIR || tmpdir();
}

/** Writes a reproducer directory and returns its path (never throws: a failed write yields ''). */
export async function writeReproducer(r: ReproInput): Promise<string> {
  try {
    await mkdir(reproRoot(), { recursive: true });
    const dir = await mkdtemp(join(reproRoot(), `ort-mlir-repro-${r.label.replace(/[^\w-]/g, '_')}-`));
    await writeFile(join(dir, 'input.mlir'), r.mlir);
    await writeFile(join(dir, 'commands.sh'), ['#!/bin/sh', '# Replays the failing compile; paths refer to the original work dir.', 'set -e', ...r.commands, ''].join('\n'), { mode: 0o755 });
    await writeFile(join(dir, 'README.txt'), [
      `partition: ${r.label}`,
      `onnx nodes: ${r.nodes.join(', ')}`,
      `toolchain: ${r.toolchainVersion}`,
      '',
      'error:',
      r.error,
      '',
    ].join('\n'));
    if (r.onnxModel) await writeFile(join(dir, 'subgraph.onnx'), r.onnxModel);
    return dir;
  } catch {
    return '';
  }
}
