// buffer-results-to-out-params (hoisting static allocations) crashes when a
// function returns one buffer twice. The emitter copies repeated SSA results
// (partition-module.ts), but CSE in the prepare passes can still merge two
// equal results (two identical fills, two equal comparisons) into one value.
// This rewrite runs on the prepared IR: a repeated return operand is returned
// through a bufferization.alloc_tensor copy, which later passes keep.

const RETURN_LINE = /^(\s*)((?:func\.)?return) (.+) : (.+)$/;
const RESULT_TYPES = /->\s*\(([^)]*)\)/;

/** Whether some function of `mlir` returns two results of one type (only those can be merged by CSE). */
export function mayRepeatResults(mlir: string): boolean {
  for (const line of mlir.split('\n')) {
    if (!line.includes('func.func')) continue;
    const m = RESULT_TYPES.exec(line);
    if (!m) continue;
    const types = m[1].split(',').map((t) => t.trim());
    if (new Set(types).size < types.length) return true;
  }
  return false;
}

/** Rewrites every function return so that no tensor operand appears twice. */
export function distinctReturnOperands(mlir: string): string {
  let copies = 0;
  const out: string[] = [];
  for (const line of mlir.split('\n')) {
    const m = RETURN_LINE.exec(line);
    const operands = m ? m[3].split(',').map((s) => s.trim()) : [];
    const types = m ? m[4].split(',').map((s) => s.trim()) : [];
    if (!m || operands.length !== types.length || new Set(operands).size === operands.length) {
      out.push(line);
      continue;
    }
    const [, indent, keyword] = m;
    const seen = new Set<string>();
    const distinct = operands.map((v, i) => {
      if (!seen.has(v) || !types[i].startsWith('tensor<')) {
        seen.add(v);
        return v;
      }
      const copy = `%ortmlir_result_copy${copies++}`;
      out.push(`${indent}${copy} = bufferization.alloc_tensor() copy(${v}) : ${types[i]}`);
      return copy;
    });
    out.push(`${indent}${keyword} ${distinct.join(', ')} : ${types.join(', ')}`);
  }
  return out.join('\n');
}
