// Precompiled modules run with no toolchain present, and the runtime layers
// never import compiler code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { bufferIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { createMlirSession } from '../../src/ep/session.js';
import { floatTensor, toFloats } from '../helpers/differential.js';

function model(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [4]);
  const w = b.initializer('w', DataType.FLOAT, [4], [1, 2, 3, 4]);
  const [m] = b.node('Mul', [x, w]);
  const [t] = b.node('Tanh', [m], { outputs: ['y'] });
  b.output(t, DataType.FLOAT, [4]);
  return b.build();
}

test('ort-mlir compile → session from the module file with the toolchain hidden', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aot-'));
  const onnx = join(dir, 'm.onnx');
  const mod = join(dir, 'm.ortmlir');
  await writeFile(onnx, model());
  const io = bufferIo();
  assert.equal(await main(['compile', onnx, '-o', mod], io), 0, io.err.join(''));
  const s = await createMlirSession(onnx, { module: mod, toolchainHome: join(dir, 'no-llvm-here'), cacheDir: '' });
  const out = await s.run(new Map([['x', floatTensor([4], [0.1, 0.2, 0.3, 0.4])]]));
  const y = toFloats(out.get('y')!);
  [0.1, 0.4, 0.9, 1.6].forEach((v, i) => assert.ok(Math.abs(y[i] - Math.tanh(v)) < 1e-5));
  assert.equal(s.report().compiledNodes, 2);
  await s.dispose();
});

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../src');
const RUNTIME_DIRS = ['runtime', 'native', 'module'];
const COMPILER_DIRS = ['import', 'passes', 'codegen', 'toolchain', 'ir'];

test('runtime, native and module code never import compiler code', async () => {
  for (const d of RUNTIME_DIRS) {
    for (const f of await readdir(join(SRC, d))) {
      const text = await readFile(join(SRC, d, f), 'utf8');
      for (const m of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
        const top = m[1].split('/')[1];
        assert.ok(!COMPILER_DIRS.includes(top), `${d}/${f} imports ${m[1]}`);
      }
    }
  }
});
