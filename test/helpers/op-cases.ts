// Side-by-side single-node cases in one model (each compiles once), fed with
// deterministic random or given values, checked against onnxruntime-node.
import { DataType } from '../../src/onnx/model.js';
import { ModelBuilder, type AttrInput } from '../../src/onnx/builder.js';
import type { HostTensor } from '../../src/runtime/host-tensor.js';
import { assertMatchesOrt, randomTensor, type DiffOptions } from './differential.js';

export interface CaseInput {
  dims: number[];
  dataType?: DataType;
  lo?: number;
  hi?: number;
  /** Makes the input an initializer (a compile-time constant) with these values. */
  init?: number[];
}

export interface OpCase {
  op: string;
  /** null marks an omitted optional input. */
  inputs: (CaseInput | null)[];
  attrs?: Record<string, AttrInput>;
  outputs?: number;
}

const BIGINT_TYPES: readonly DataType[] = [DataType.INT64, DataType.UINT64];

/** One model running every case side by side, with random feeds. */
export function caseModel(cases: readonly OpCase[], opset: number): { bytes: Uint8Array; feeds: Record<string, HostTensor> } {
  const b = new ModelBuilder({ opset });
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  cases.forEach((c, k) => {
    const names = c.inputs.map((inp, i) => {
      if (inp === null) return '';
      const name = `in${i}_${k}`;
      const dt = inp.dataType ?? DataType.FLOAT;
      if (inp.init) return b.initializer(name, dt, inp.dims, BIGINT_TYPES.includes(dt) ? inp.init.map(BigInt) : inp.init);
      b.input(name, dt, inp.dims);
      feeds[name] = randomTensor(dt, inp.dims, seed++, inp.lo ?? -1, inp.hi ?? 1);
      return name;
    });
    const outs = b.node(c.op, names, { attrs: c.attrs, outputs: c.outputs ?? 1 });
    outs.forEach((o) => b.output(o));
  });
  return { bytes: b.build(), feeds };
}

export async function checkCases(cases: readonly OpCase[], opset: number, opts: DiffOptions = {}): Promise<void> {
  const m = caseModel(cases, opset);
  await assertMatchesOrt(m.bytes, m.feeds, opts);
}
