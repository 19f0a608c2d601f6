import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionsError, resolveOptions } from '../../src/ep/options.js';

test('defaults', () => {
  const o = resolveOptions({ name: 'mlir' });
  assert.equal(o.targetCpu, 'host');
  assert.equal(o.optLevel, 3);
  assert.equal(o.fallback, 'cpu');
  assert.equal(o.device, 'cpu');
  assert.equal(o.module, null);
  assert.equal(o.winograd, true);
  assert.ok(o.threads >= 1);
});

test('session intraOpNumThreads sets the thread count unless the EP option overrides it', () => {
  assert.equal(resolveOptions({}, 1).threads, 1);
  assert.equal(resolveOptions({ threads: 2 }, 1).threads, 2);
});

test('toolchainHome comes from the option, else ORT_MLIR_TOOLCHAIN_HOME', () => {
  const saved = process.env.ORT_MLIR_TOOLCHAIN_HOME;
  process.env.ORT_MLIR_TOOLCHAIN_HOME = '/opt/llvm22';
  try {
    assert.equal(resolveOptions({}).toolchainHome, '/opt/llvm22');
    assert.equal(resolveOptions({ toolchainHome: '/x' }).toolchainHome, '/x');
  } finally {
    if (saved === undefined) delete process.env.ORT_MLIR_TOOLCHAIN_HOME;
    else process.env.ORT_MLIR_TOOLCHAIN_HOME = saved;
  }
});

test('unknown keys and bad values fail with messages naming the option', () => {
  assert.throws(() => resolveOptions({ targetCPU: 'x' }), (e: unknown) => e instanceof OptionsError && /unknown option 'targetCPU'/.test(e.message));
  assert.throws(() => resolveOptions({ optLevel: 7 }), /'optLevel'.*\[0, 3\]/);
  assert.throws(() => resolveOptions({ fallback: 'gpu' }), /'fallback'.*cpu, error/);
  assert.throws(() => resolveOptions({ threads: 0 }), /'threads'/);
  assert.throws(() => resolveOptions({ compileFlags: { gcc: [] } }), /compileFlags.gcc/);
  assert.throws(() => resolveOptions({ compileFlags: { llc: [3] } }), /compileFlags.llc/);
  assert.throws(() => resolveOptions({ device: 'cuda' }), /'device'/);
  assert.throws(() => resolveOptions({ winograd: 'no' }), /'winograd': expected true or false/);
  assert.equal(resolveOptions({ winograd: false }).winograd, false);
});
