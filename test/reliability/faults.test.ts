// Fault injection in the toolchain: a tool that crashes, hangs, prints garbage,
// writes garbage, is missing or cannot be executed. With fallback 'cpu' the
// model still runs (correctly, on the CPU EP); with fallback 'error' session
// creation fails with an EpError naming the partition's nodes and the
// reproducer directory. Either way the process stays alive and a reproducer
// naming the nodes lands in ORT_MLIR_REPRO_DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import '../../src/index.js';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { createMlirSession } from '../../src/ep/session.js';
import { CpuSession } from '../../src/ep/cpu-session.js';
import { EpError } from '../../src/ep/errors.js';
import type { ToolName } from '../../src/toolchain/tools.js';
import { floatTensor, toFloats } from '../helpers/differential.js';
import { HANG_SECONDS, fakeToolchain, type ToolFault } from './fake-toolchain.js';

/** Long enough for a real tool on a loaded 2-core machine, short enough to keep the hang case quick. */
const HANG_TIMEOUT_MS = 2000;
const NODES = /Add\(add0\), Relu\(relu0\)/;

function model(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 3]);
  const y = b.input('y', DataType.FLOAT, [3]);
  const [s] = b.node('Add', [x, y], { name: 'add0' });
  const [r] = b.node('Relu', [s], { name: 'relu0', outputs: ['out'] });
  b.output(r, DataType.FLOAT, [2, 3]);
  return b.build();
}

const FEEDS = new Map<string, HostTensor>([
  ['x', floatTensor([2, 3], [-3, -1, 0, 1, 2, 3])],
  ['y', floatTensor([3], [0.5, -0.5, 1])],
]);

async function cpuExpected(): Promise<number[]> {
  const cpu = await CpuSession.create(model());
  try {
    return toFloats((await cpu.run(FEEDS)).get('out')!);
  } finally {
    await cpu.dispose();
  }
}

interface Scenario {
  name: string;
  faults: Partial<Record<ToolName, ToolFault>>;
  reason: RegExp;
  timeoutMs?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'mlir-opt crashes (SIGSEGV)', faults: { 'mlir-opt': { fault: 'segv', versionOk: true } }, reason: /mlir-opt crashed with SIGSEGV/ },
  { name: 'mlir-opt crashes even on --version', faults: { 'mlir-opt': { fault: 'segv' } }, reason: /mlir-opt crashed with SIGSEGV/ },
  { name: 'mlir-opt fails with an error', faults: { 'mlir-opt': { fault: 'fail', versionOk: true } }, reason: /mlir-opt exited with code 3: error: injected failure/ },
  { name: 'llc hangs (tool timeout)', faults: { llc: { fault: 'hang', versionOk: true } }, reason: /llc timed out after \d+ ms/, timeoutMs: HANG_TIMEOUT_MS },
  { name: 'opt prints garbage and writes nothing', faults: { opt: { fault: 'garbage', versionOk: true } }, reason: /llc exited with code 1/ },
  { name: 'llc writes a garbage object file', faults: { llc: { fault: 'garbageOutput', versionOk: true } }, reason: /ld\.lld exited with code 1/ },
  { name: 'ld.lld writes a garbage library', faults: { 'ld.lld': { fault: 'garbageOutput', versionOk: true } }, reason: /ld\.lld produced a library that cannot be used/ },
  { name: 'mlir-translate is missing', faults: { 'mlir-translate': { fault: 'missing' } }, reason: /mlir-translate not found at \S+fake-llvm-\w+\/bin\/mlir-translate/ },
  { name: 'opt is not executable', faults: { opt: { fault: 'notExecutable' } }, reason: /opt could not be run \(EACCES\)/ },
];

/** The single reproducer directory written under `root`, checked to name the nodes. */
async function reproducerIn(root: string): Promise<string> {
  const dirs = (await readdir(root)).filter((d) => d.startsWith('ort-mlir-repro-'));
  assert.equal(dirs.length, 1, `one reproducer in ${root}, found ${dirs.join(', ')}`);
  const dir = join(root, dirs[0]);
  const readme = await readFile(join(dir, 'README.txt'), 'utf8');
  assert.match(readme, NODES, 'the reproducer names the nodes');
  assert.ok((await stat(join(dir, 'input.mlir'))).size > 0, 'the reproducer has the input MLIR');
  return dir;
}

async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function fallbackCpu(s: Scenario, home: string, expected: number[]): Promise<void> {
  const repro = await mkdtemp(join(tmpdir(), 'repro-cpu-'));
  await withEnv({ ORT_MLIR_REPRO_DIR: repro, ORT_MLIR_TOOL_TIMEOUT_MS: String(s.timeoutMs ?? 60_000) }, async () => {
    const session = await createMlirSession(model(), { toolchainHome: home, cacheDir: '' });
    try {
      const r = session.report();
      assert.equal(r.compiledNodes, 0, `${s.name}: nothing compiled`);
      const reason = r.fallbackReasons.find((x) => s.reason.test(x));
      assert.ok(reason, `${s.name}: a fallback reason matching ${s.reason}; got ${r.fallbackReasons.join(' | ')}`);
      assert.match(reason, NODES);
      const dir = await reproducerIn(repro);
      assert.ok(reason.includes(dir), `${s.name}: the reason points at the reproducer ${dir}`);
      assert.deepEqual(toFloats((await session.run(FEEDS)).get('out')!), expected, `${s.name}: still correct on CPU`);
    } finally {
      await session.dispose();
    }
  });
}

async function fallbackError(s: Scenario, home: string): Promise<void> {
  const repro = await mkdtemp(join(tmpdir(), 'repro-err-'));
  await withEnv({ ORT_MLIR_REPRO_DIR: repro, ORT_MLIR_TOOL_TIMEOUT_MS: String(s.timeoutMs ?? 60_000) }, async () => {
    let message = '';
    await assert.rejects(createMlirSession(model(), { toolchainHome: home, cacheDir: '', fallback: 'error' }), (e: unknown) => {
      message = e instanceof Error ? e.message : String(e);
      return e instanceof EpError;
    }, `${s.name}: EpError`);
    assert.match(message, s.reason);
    assert.match(message, NODES);
    const dir = await reproducerIn(repro);
    assert.ok(message.includes(`reproducer in ${dir}`), `${s.name}: the error names the reproducer; got ${message}`);
  });
}

for (const s of SCENARIOS) {
  test(`toolchain fault: ${s.name} → CPU fallback, or a typed error with fallback 'error'`, async () => {
    const expected = await cpuExpected();
    const home = await fakeToolchain(s.faults);
    // Sequential: both variants set process-wide environment variables.
    await fallbackCpu(s, home, expected);
    await fallbackError(s, home);
  });
}

test('a hung tool leaves no process behind (its whole process group is killed)', () => {
  const leftovers = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(HANG_SECONDS);
    } catch {
      return false;
    }
  });
  assert.deepEqual(leftovers, []);
});

test('through onnxruntime-node: a crashing toolchain still gives correct results on CPU', async () => {
  const home = await fakeToolchain({ llc: { fault: 'segv', versionOk: true } });
  const repro = await mkdtemp(join(tmpdir(), 'repro-ort-'));
  await withEnv({ ORT_MLIR_REPRO_DIR: repro }, async () => {
    const ep = { name: 'mlir', toolchainHome: home, cacheDir: '' };
    const s = await ort.InferenceSession.create(model(), { executionProviders: [ep] });
    try {
      const r = await s.run({ x: new ort.Tensor('float32', new Float32Array([-3, -1, 0, 1, 2, 3]), [2, 3]), y: new ort.Tensor('float32', new Float32Array([0.5, -0.5, 1]), [3]) });
      assert.deepEqual([...(r.out.data as Float32Array)], await cpuExpected());
      await reproducerIn(repro);
    } finally {
      await s.release();
    }
  });
});
