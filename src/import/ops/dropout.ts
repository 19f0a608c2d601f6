// Dropout when it is the identity: before opset 12 always (inference only),
// from 12 when training_mode is absent or a constant false, or the ratio a
// constant 0. The mask output is then all ones (T before opset 10, bool
// after). A runtime training_mode with a non-zero ratio draws a random mask,
// which is left to the fallback EP.
import { DataType } from '../../onnx/model.js';
import type { TensorType } from '../../ir/types.js';
import { isFloat } from '../../ir/types.js';
import { registerOp } from '../registry.js';
import type { NodeContext } from '../node-context.js';
import type { LowerContext } from '../lower-context.js';
import { filled, identityLiteral } from '../reduce-helpers.js';
import { tensorToNumbers } from '../tensor-data.js';

/** Opset from which the mask is bool rather than the data type. */
const BOOL_MASK_SINCE = 10;
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
  if (ctx.has(RATIO_INPUT) && ctx.constant(RATIO_INPUT) && tensorToNumbers(ctx.constant(RATIO_INPUT)!)[0] === 0) return;
  if (constScalar(ctx, TRAINING_MODE_INPUT, 'training_mode') !== 0) {
    ctx.unsupported('training_mode is true with a non-zero ratio: the random mask is left to the fallback EP');
  }
}

function maskDtype(ctx: NodeContext): DataType {
  return ctx.opset < BOOL_MASK_SINCE ? ctx.dtype(0) : DataType.BOOL;
}

function inferDropout(ctx: NodeContext): TensorType[] {
  const dt = ctx.dtype(0);
  if (!isFloat(dt)) ctx.unsupported(`Dropout of ${DataType[dt]} is not supported (expected a float tensor)`);
  checkIdentity(ctx);
  const shape = ctx.shape(0);
  return [{ dataType: dt, shape }, { dataType: maskDtype(ctx), shape }];
}

function lowerDropout(ctx: LowerContext): string[] {
  checkIdentity(ctx);
  const y = ctx.input(0);
  if (!ctx.hasOutput(1)) return [y];
  const dt = maskDtype(ctx);
  return [y, filled(ctx.b, identityLiteral('one', dt), dt, ctx.shape(0)).value];
}

for (const since of [7, BOOL_MASK_SINCE, TRAINING_INPUTS_SINCE]) {
  registerOp({ domain: '', op: 'Dropout', since, infer: inferDropout, lower: lowerDropout });
}
