import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/model.js';
import { main } from '../../src/cli/main.js';
import { bufferIo } from '../../src/cli/io.js';
import { parseCaseConfig, discoverTestCases } from '../../src/cli/test-data.js';
import { parseTestOptions, runPool, runTests } from '../../src/cli/test-runner.js';
import { runCase } from '../../src/cli/run-case.js';
import { formatSummary, summarize } from '../../src/cli/test-report.js';
import type { Engine } from '../../src/cli/engines.js';
import type { MlirSessionApi } from '../../src/ep/session-api.js';
import { floatTensor, singleNodeModel, tempDir, tensorInfo, writeCase } from './fixtures.js';

const addModel = singleNodeModel('Add',
  [tensorInfo('a', DataType.FLOAT, [3]), tensorInfo('b', DataType.FLOAT, [3])],
  [tensorInfo('y', DataType.FLOAT, [3])]);
const A = floatTensor('a', [3], [1, 2, 3]);
const B = floatTensor('b', [3], [0.5, 0.5, NaN]);

/** A suite with: a passing case, a wrong-output case, a bf16 case (not implemented on cpu), a case with a custom model name. */
async function writeSuite(): Promise<string> {
  const root = await tempDir('ort-mlir-test-');
  await writeCase(root, 'test_add', { model: addModel, inputs: [A, B], outputs: [floatTensor('y', [3], [1.5, 2.5, NaN])] });
  await writeCase(root, 'test_add_wrong', { model: addModel, inputs: [A, B], outputs: [floatTensor('y', [3], [1.5, 2.6, NaN])] });
  await writeCase(root, 'test_add_loose', {
    model: addModel, inputs: [A, B], outputs: [floatTensor('y', [3], [1.5, 2.6, NaN])], config: 'per_sample_tolerance: 0.2\n',
  });
  const bf16Model = singleNodeModel('Identity', [tensorInfo('x', DataType.BFLOAT16, [1])], [tensorInfo('z', DataType.BFLOAT16, [1])]);
  const bf16 = { name: 'x', dataType: DataType.BFLOAT16, dims: [1], data: Uint8Array.of(0x80, 0x3f) };
  await writeCase(root, 'test_identity_bf16', { model: bf16Model, inputs: [bf16], outputs: [{ ...bf16, name: 'z' }] });
  await writeCase(root, 'gemm_named', { model: addModel, modelFile: 'gemm_named.onnx', inputs: [A, B], outputs: [floatTensor('', [3], [1.5, 2.5, NaN])] });
  return root;
}

describe('ort-mlir test -e cpu (end to end)', () => {
  let root = '';
  before(async () => { root = await writeSuite(); });

  it('runs every case and prints the ORT-style summary', async () => {
    const io = bufferIo();
    const jsonFile = join(root, 'results.json');
    const code = await main(['test', root, '-e', 'cpu', '-j', '2', '--json', jsonFile], io);
    const out = io.out.join('');
    assert.equal(code, 0, io.err.join(''));
    assert.match(out, /^test_add_wrong: result differs: output 'y': expected 2\.59\d*, got 2\.5, diff: .* 1 of 3 differ/m);
    assert.match(out, /^test_identity_bf16: not implemented: input 'x' has dtype BFLOAT16/m);
    assert.match(out, /\tModels: 5\n\tTotal test cases: 5\n\t\tSucceeded: 3\n\t\tNot implemented: 1\n\t\tFailed: 1\n/);
    assert.match(out, /\t\t\tResult differs: 1\n\t\t\tOther reason: 0\n/);
    assert.match(out, /Not implemented\(1\): Identity\n\t\tFailed: test_add_wrong\n/);
    assert.ok(out.endsWith('3 passed, 2 failed\n'), out);
    assert.doesNotMatch(out, /Compiled fully/);
    const json: unknown = JSON.parse(await readFile(jsonFile, 'utf8'));
    assert.ok(typeof json === 'object' && json !== null && 'cases' in json && Array.isArray(json.cases));
    const statuses = Object.fromEntries(json.cases.map((c: unknown) =>
      (typeof c === 'object' && c !== null && 'name' in c && 'status' in c ? [c.name, c.status] : [])));
    assert.deepEqual(statuses, {
      gemm_named: 'passed', test_add: 'passed', test_add_loose: 'passed',
      test_add_wrong: 'result_differs', test_identity_bf16: 'not_implemented',
    });
  });

  it('accepts a single case directory, --filter and --fail-under', async () => {
    const single = bufferIo();
    assert.equal(await main(['test', join(root, 'test_add'), '-e', 'cpu'], single), 0);
    assert.ok(single.out.join('').endsWith('1 passed, 0 failed\n'));
    const filtered = bufferIo();
    assert.equal(await main(['test', root, '-e', 'cpu', '--filter', '^test_add$', '--fail-under', '2'], filtered), 1);
    assert.match(filtered.out.join(''), /Models: 1\n/);
  });

  it('prints every case with --verbose', async () => {
    const io = bufferIo();
    await main(['test', root, '-e', 'cpu', '--verbose'], io);
    assert.match(io.out.join(''), /^test_add: passed \(\d+ ms\)$/m);
  });

  it('fails usage errors with status 2 and a message', async () => {
    const io = bufferIo();
    assert.equal(await main(['test', '-e', 'cpu'], io), 2);
    assert.match(io.err.join(''), /expected at least one test directory/);
    const bad = bufferIo();
    assert.equal(await main(['test', join(root, 'nope'), '-e', 'cpu'], bad), 2);
    assert.match(bad.err.join(''), /does not exist/);
    const engine = bufferIo();
    assert.equal(await main(['test', root, '-e', 'gpu'], engine), 2);
    assert.match(engine.err.join(''), /expected one of mlir, cpu, got 'gpu'/);
  });

  it('prints help', async () => {
    const io = bufferIo();
    assert.equal(await main(['test', '--help'], io), 0);
    assert.match(io.out.join(''), /usage: ort-mlir test DIR/);
    const top = bufferIo();
    assert.equal(await main(['--help'], top), 0);
    assert.match(top.out.join(''), /Commands:\n {2}test/);
  });
});

describe('test-data helpers', () => {
  it('parses config.txt like ORT', () => {
    const base = { atol: 1e-5, rtol: 1e-3, postProcessing: false };
    assert.deepEqual(parseCaseConfig('per_sample_tolerance: 0.5\nrelative_per_sample_tolerance:0.1\npost_processing: true\n', base, 'c'),
      { atol: 0.5, rtol: 0.1, postProcessing: true });
  });

  it('applies ORT tolerance overrides by directory name', async () => {
    const root = await tempDir('ort-mlir-dft-');
    await writeCase(root, 'test_dft', { model: addModel, inputs: [A, B], outputs: [] });
    const [c] = await discoverTestCases([root]);
    assert.equal(c?.tolerance.atol, 1e-3);
  });

  it('runPool keeps order and bounds concurrency', async () => {
    let active = 0;
    let peak = 0;
    const out = await runPool([5, 1, 3, 2], 2, async (ms) => {
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, ms));
      active--;
      return ms * 10;
    });
    assert.deepEqual(out, [50, 10, 30, 20]);
    assert.equal(peak, 2);
  });
});

/** An engine whose sessions echo input 'a' as output 'y', with a chosen report. */
function echoEngine(fallbackNodes: number, loadDelayMs = 0): Engine {
  const session = (): MlirSessionApi => ({
    inputNames: ['a', 'b'],
    outputNames: ['y'],
    run: async (feeds) => {
      const a = feeds.get('a');
      return a === undefined ? new Map() : new Map([['y', a]]);
    },
    report: () => ({ totalNodes: 1, compiledNodes: 1 - fallbackNodes, fallbackNodes, fallbackReasons: fallbackNodes ? ['Add(Add_0): test'] : [] }),
    dispose: async () => undefined,
  });
  return {
    name: 'mlir',
    createSession: async () => {
      await new Promise((r) => setTimeout(r, loadDelayMs));
      return session();
    },
    supportsDataType: () => true,
  };
}

describe('mlir-style accounting (fake engine)', () => {
  let root = '';
  before(async () => {
    root = await tempDir('ort-mlir-fake-');
    await writeCase(root, 'test_echo', { model: addModel, inputs: [A, B], outputs: [floatTensor('y', [3], [1, 2, 3])] });
  });

  it('counts only fully compiled successes as passed', async () => {
    const cases = await discoverTestCases([root]);
    const opts = parseTestOptions([root, '-e', 'mlir', '--verbose']);
    assert.ok(opts !== 'help');
    for (const [fallback, passed] of [[0, 1], [1, 0]]) {
      const io = bufferIo();
      const results = await runTests(cases, echoEngine(fallback ?? 0), opts, io);
      const text = formatSummary(summarize(results, 'mlir'), 'mlir');
      assert.match(text, new RegExp(`Compiled fully: ${1 - (fallback ?? 0)} {2}Passed with fallback: ${fallback}\\n${passed} passed, ${1 - (passed ?? 0)} failed$`));
      if (fallback) assert.match(io.out.join(''), /test_echo: passed with fallback \[0\/1 nodes compiled\].*\n {4}fallback Add\(Add_0\): test\n/);
    }
  });

  it('reports a case that exceeds --timeout as failed', async () => {
    const [tc] = await discoverTestCases([root]);
    assert.ok(tc !== undefined);
    const r = await runCase(tc, echoEngine(0, 200), 20);
    assert.equal(r.status, 'timeout');
    assert.match(r.reason, /timed out after 0\.02 s/);
    assert.match(formatSummary(summarize([r], 'mlir'), 'mlir'), /Other reason: 1\n[\s\S]*Failed: test_echo\n[\s\S]*0 passed, 1 failed$/);
  });
});
