// Node accounting of what actually ran. A plan's report is written at compile
// time, when deferred segments and lazily compiled control-flow bodies count
// as compiled; the variants compiled for them at run time may fall back to
// the CPU EP in part or whole. The live executor tree corrects the plan-time
// report by what those variants did (computed on demand, nothing per run).
import type { ExecutionPlan } from '../module/format.js';

export type PlanReport = ExecutionPlan['report'];

export const EMPTY_REPORT: PlanReport = { totalNodes: 0, compiledNodes: 0, fallbackNodes: 0, fallbackReasons: [] };

/** A report of `nodes` nodes that all ran on the CPU EP for `why`. */
export function cpuReport(nodes: number, why: string): PlanReport {
  return { totalNodes: nodes, compiledNodes: 0, fallbackNodes: nodes, fallbackReasons: [why] };
}

/** `a` + `b`, counts and reasons. */
export function addReports(a: PlanReport, b: PlanReport): PlanReport {
  if (b === EMPTY_REPORT) return a;
  return {
    totalNodes: a.totalNodes + b.totalNodes,
    compiledNodes: a.compiledNodes + b.compiledNodes,
    fallbackNodes: a.fallbackNodes + b.fallbackNodes,
    fallbackReasons: [...a.fallbackReasons, ...b.fallbackReasons],
  };
}

/**
 * The correction that turns the plan-time `planned` into `actual`: count
 * differences, and the actual reasons (prefixed with `where`) that planned
 * did not already list.
 */
export function reportDelta(planned: PlanReport, actual: PlanReport, where: string): PlanReport {
  const known = new Set(planned.fallbackReasons);
  return {
    totalNodes: actual.totalNodes - planned.totalNodes,
    compiledNodes: actual.compiledNodes - planned.compiledNodes,
    fallbackNodes: actual.fallbackNodes - planned.fallbackNodes,
    fallbackReasons: actual.fallbackReasons.filter((r) => !known.has(r)).map((r) => `${where}: ${r}`),
  };
}

/** The report that fell back most (the one that decides whether everything ran compiled). */
export function worstReport(reports: readonly PlanReport[]): PlanReport | null {
  let worst: PlanReport | null = null;
  for (const r of reports) if (!worst || r.fallbackNodes > worst.fallbackNodes) worst = r;
  return worst;
}
