// Window functions out of a select list, after Catalyst's ExtractWindowExpressions: each window expression in
// the projection becomes a column computed by a Window node below it, one node per distinct window
// specification (PARTITION BY + ORDER BY), stacked in order of first appearance; the projection then reads
// those columns. The DataFrame API (select, withColumn) and the SQL front end both build projections here.
import { type Expr, alias, children, column, containsWindow, exprToString, outputName, transformUp, visit } from '../expr/expr.ts';
import { AnalysisError } from '../types/errors.ts';
import { planSchema } from './analyzer.ts';
import type { LogicalPlan } from './logical-plan.ts';

type WindowExpr = Expr & { kind: 'window' };

const freeze = <T extends object>(o: T): T => Object.freeze(o);

/** The identity of a window specification: its partition keys and ordering, as written. */
function specKey(w: WindowExpr): string {
  return JSON.stringify([w.partitionBy, w.orderBy]);
}

/**
 * Window nodes computing `functions` (each `alias(window expression, name)`) over `input`: one node per
 * window specification, in order of first appearance, each over the previous one.
 */
export function windowNodes(input: LogicalPlan, functions: readonly Expr[]): LogicalPlan {
  const groups = new Map<string, Expr[]>();
  for (const f of functions) {
    if (f.kind !== 'alias' || f.input.kind !== 'window') {
      throw new AnalysisError(`internal: expected a named window expression, got ${exprToString(f)}`);
    }
    const k = specKey(f.input);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(f);
  }
  let plan = input;
  for (const g of groups.values()) plan = freeze({ kind: 'window', input: plan, functions: freeze([...g]) });
  return plan;
}

/**
 * `SELECT exprs FROM input` where `exprs` may contain window expressions: a Project over Window nodes (see the
 * header), or a plain Project when there are none. Each window expression (deduplicated) is computed under a
 * fresh column name (`__w0`, ...) unused by the input, and the projection keeps every output's name.
 */
export function extractWindows(input: LogicalPlan, exprs: readonly Expr[]): LogicalPlan {
  if (!exprs.some(containsWindow)) return freeze({ kind: 'project', input, exprs: freeze([...exprs]) });
  const taken = new Set(planSchema(input).fields.map((f) => f.name.toLowerCase()));
  const names = new Map<string, string>();
  const functions: Expr[] = [];
  let counter = 0;
  for (const e of exprs) {
    visit(e, (n) => {
      if (n.kind === 'window' && children(n).some(containsWindow)) {
        throw new AnalysisError(`window functions cannot be nested: ${exprToString(n)}`);
      }
    });
  }
  const nameFor = (w: WindowExpr): string => {
    const key = JSON.stringify(w);
    let name = names.get(key);
    if (name === undefined) {
      do name = `__w${counter++}`;
      while (taken.has(name));
      taken.add(name);
      names.set(key, name);
      functions.push(alias(w, name));
    }
    return name;
  };
  const projected = exprs.map((e) => {
    if (!containsWindow(e)) return e;
    const rewritten = transformUp(e, (n) => (n.kind === 'window' ? column(nameFor(n)) : n));
    // Keep the name the user sees: `rank() OVER (...)` unaliased is still called that.
    const name = outputName(e);
    if (outputName(rewritten) === name) return rewritten;
    return alias(rewritten.kind === 'alias' ? rewritten.input : rewritten, name);
  });
  return freeze({ kind: 'project', input: windowNodes(input, functions), exprs: freeze(projected) });
}
