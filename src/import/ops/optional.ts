// OptionalHasElement / OptionalGetElement where the input is a plain tensor
// (or absent): the optional wrapper is then static, so HasElement folds to a
// constant and GetElement is the identity. Optional- and sequence-typed
// values have no tensor type here and stay on the fallback EP.
import { DataType } from '../../onnx/model.js';
import { registerOp } from '../registry.js';

registerOp({
  domain: '', op: 'OptionalHasElement', since: 18,
  // Not folded: the node stays a (trivial) compiled node rather than
  // leaving a graph whose every node folded away to the fallback path.
  infer: (ctx) => {
    if (ctx.inputCount > 0 && ctx.has(0)) ctx.type(0);
    return [{ dataType: DataType.BOOL, shape: [] }];
  },
  lower: (ctx) => [ctx.b.constant(`dense<${ctx.inputCount > 0 && ctx.has(0)}>`, 'tensor<i1>')],
});

registerOp({
  domain: '', op: 'OptionalGetElement', since: 18,
  infer: (ctx) => [ctx.type(0)],
  lower: (ctx) => [ctx.input(0)],
});
