// ORT_MLIR_DUMP_DIR: one directory per compile holding every intermediate, from
// the imported graph IR through each MLIR stage to LLVM IR, assembly and the
// linked library.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder } from '../../src/onnx/builder.js';
import { createMlirSession } from '../../src/ep/session.js';
import { IMPORTED_IR_FILE } from '../../src/ep/dump-graph.js';
import { byUnit } from '../../src/toolchain/pipeline.js';

function model(): Uint8Array {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', DataType.FLOAT, [4, 8]);
  const w = b.initializer('w', DataType.FLOAT, [8, 3], Array.from({ length: 24 }, (_, i) => i / 24));
  const [m] = b.node('MatMul', [x, w], { name: 'mm' });
  const [t] = b.node('Tanh', [m], { name: 'act' });
  b.output(t, DataType.FLOAT, [4, 3]);
  return b.build();
}

test('ORT_MLIR_DUMP_DIR receives the imported IR and every toolchain stage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ort-mlir-dump-'));
  const before = process.env.ORT_MLIR_DUMP_DIR;
  process.env.ORT_MLIR_DUMP_DIR = dir;
  try {
    const s = await createMlirSession(model(), { cacheDir: '' });
    await s.dispose();
  } finally {
    if (before === undefined) delete process.env.ORT_MLIR_DUMP_DIR;
    else process.env.ORT_MLIR_DUMP_DIR = before;
  }
  const [compile] = await readdir(dir);
  assert.ok(compile, 'one directory per compile');
  const files = await readdir(join(dir, compile));
  const ir = await readFile(join(dir, compile, IMPORTED_IR_FILE), 'utf8');
  assert.match(ir, /MatMul\(mm\) \[ai\.onnx\] p0 compiled/);
  assert.match(ir, /x: FLOAT\[4,8\]/);
  for (const suffix of ['.input.mlir', '.llvm.mlir', '.ll', '.opt.ll', '.s', '.o']) {
    assert.ok(files.some((f) => f.endsWith(suffix)), `a ${suffix} file among ${files.join(', ')}`);
  }
  assert.ok(files.includes('module.so'), 'the linked library');
});

test('notes.txt lists the units in order (each unit\'s notes as they came), whatever order they finished in', async () => {
  const finished = ['ortmlir_p10: b', 'ortmlir_p2: a', 'ortmlir_p10: c', 'ortmlir_p0: z'];
  assert.deepEqual(byUnit(finished), ['ortmlir_p0: z', 'ortmlir_p2: a', 'ortmlir_p10: b', 'ortmlir_p10: c']);
});
