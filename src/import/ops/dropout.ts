// Dropout when it is the identity: before opset 12 always (inference only),
// from 12 when training_mode is absent or a constant false, or the ratio a
// constant 0. The mask output is then all true. Before opset 12 the mask is
// declined: ONNX Runtime fills it with zeros where the reference keeps ones.
// A runtime training_mode with a non-zero ratio draws a random mask, which is
// left to the fallback EP.
import { DataType } from '../../onnx/model.js';
import type { TensorType } from '../../ir/types.js';
import { isFloat } from '../../ir/types.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { filled, identityLiteral } from '../reduce-helpers.js';
import { tensorToNumbers } from '../tensor-data.js';

/** Opset from which ratio and training_mode are inputs. */
const TRAINING_INPUTS_SINCE = 12;
const RATIO_INPUT = 1;
const TRAINING_MODE_INPUT = 2;

/** A scalar constant input's value, or null when the input is absent. */
function constScalar(ctx: NodeContext, i: number, what: string): number | null {
  if (!ctx.has(i)) return null;
  const t = ctx.constant(i);
  if (!t) ctx.unsupported(`${what} (input ${i}) is a runtime value: a training-mode dropout draws a random mask`);
  return tensorToNumbers(t)[0];
}

/** Declines unless the node is the identity for every run. */
function checkIdentity(ctx: NodeContext): void {
  if (ctx.opset < TRAINING_INPUTS_SINCE || !ctx.has(TRAINING_MODE_INPUT)) return;
  // A constant zero ratio keeps every element whatever the mode.
  const ratio = ctx.constant(RATIO_INPUT);
  if (ratio && tensorToNumbers(ratio)[0] === 0) return;
  if (constScalar(ctx, TRAINING_MODE_INPUT, 'training_mode') !== 0) {
    ctx.unsupported('training_mode is true with a non-zero ratio: the random mask is left to the fallback EP');
  }
}

function inferDropout(ctx: NodeContext): TensorType[] {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`Dropout of ${DataType[dt]} is not supported (expected a float tensor)`);
  checkIdentity(ctx);
  if (ctx.opset < TRAINING_INPUTS_SINCE && ctx.hasOutput(1)) {
    ctx.unsupported('the mask of an inference-only Dropout (opset < 12) is left to the fallback EP');
  }
  const shape = ctx.shape(0);
  return [{ dataType: dt, shape }, { dataType: DataType.BOOL, shape }];
}

function lowerDropout(ctx: LowerContext): string[] {
  checkIdentity(ctx);
  const y = ctx.input(0);
  if (!ctx.hasOutput(1)) return [y];
  return [y, filled(ctx.b, identityLiteral('one', DataType.BOOL), DataType.BOOL, ctx.shape(0)).value];
}

for (const since of [7, TRAINING_INPUTS_SINCE]) {
  registerOp({ domain: '', op: 'Dropout', since, infer: inferDropout, lower: lowerDropout });
}
