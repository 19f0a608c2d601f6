// The two ways the CLI can run a model: compiled by the mlir EP, or entirely
// on onnxruntime-node's CPU EP (the reference).
import { DataType } from '../onnx/model.js';
import { CpuSession, cpuSessionSupports } from '../ep/cpu-session.js';
import type { MlirSessionApi } from '../ep/session-api.js';
import { CliError } from './errors.js';

export type EngineName = 'mlir' | 'cpu';
export const ENGINE_NAMES: readonly EngineName[] = ['mlir', 'cpu'];

export interface Engine {
  name: EngineName;
  createSession(model: string): Promise<MlirSessionApi>;
  /** Whether tensors of `dt` can be fed to / fetched from this engine's sessions. */
  supportsDataType(dt: DataType): boolean;
}

export function parseEngineName(raw: string | undefined, fallback: EngineName): EngineName {
  if (raw === undefined) return fallback;
  const found = ENGINE_NAMES.find((n) => n === raw);
  if (found === undefined) throw new CliError(`-e/--engine: expected one of ${ENGINE_NAMES.join(', ')}, got '${raw}'`);
  return found;
}

const cpuEngine: Engine = {
  name: 'cpu',
  createSession: (model) => CpuSession.create(model),
  supportsDataType: cpuSessionSupports,
};

async function mlirEngine(options: Record<string, unknown>): Promise<Engine> {
  // Loaded on demand so that `-e cpu` works without the compiler's dependencies.
  const { createMlirSession } = await import('../ep/session.js');
  return {
    name: 'mlir',
    createSession: (model) => createMlirSession(model, options),
    supportsDataType: (dt) => dt !== DataType.UNDEFINED,
  };
}

export async function loadEngine(name: EngineName, mlirOptions: Record<string, unknown> = {}): Promise<Engine> {
  return name === 'cpu' ? cpuEngine : mlirEngine(mlirOptions);
}
