// Helpers shared by the optimizer rules: conjunct lists, column references resolved to input positions, and
// rewriting an expression from one schema to another (the core move of every pushdown).
import { type Expr, binary, column, transformUp, visit } from '../expr/expr.ts';
import { type Schema, resolveField } from '../types/schema.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';

export function splitConjuncts(e: Expr): Expr[] {
  if (e.kind === 'binary' && e.op === 'and') return [...splitConjuncts(e.left), ...splitConjuncts(e.right)];
  return [e];
}

/** `a AND b AND ...` (left-deep), or null for an empty list. Duplicate conjuncts are kept once. */
export function conjunction(exprs: readonly Expr[]): Expr | null {
  const seen = new Set<string>();
  const unique = exprs.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.length ? unique.reduce((a, b) => binary('and', a, b)) : null;
}

/** Positions in `s` of the columns `e` references; null if a reference does not resolve (or is ambiguous). */
export function columnIndices(e: Expr, s: Schema): Set<number> | null {
  const out = new Set<number>();
  let ok = true;
  visit(e, (n) => {
    if (!ok) return false;
    if (n.kind === 'column') {
      try {
        out.add(resolveField(s, n.name, n.qualifier, n.index));
      } catch {
        ok = false;
      }
    }
    return true;
  });
  return ok ? out : null;
}

/** A reference to field `i` of `s` that resolves back to exactly `i`, or null when no name can say that. */
export function referenceTo(s: Schema, i: number): Expr | null {
  const f = s.fields[i]!;
  const ref = column(f.name, f.qualifier);
  try {
    return resolveField(s, f.name, f.qualifier) === i ? ref : null;
  } catch {
    return null;
  }
}

/**
 * `e` with each column reference (resolved in `from`) replaced by `replace(position)`; null if a reference does
 * not resolve or `replace` returns null for one. The replacement is not revisited.
 */
export function rewriteColumns(e: Expr, from: Schema, replace: (index: number) => Expr | null): Expr | null {
  let failed = false;
  const out = transformUp(e, (n) => {
    if (failed || n.kind !== 'column') return n;
    let i: number;
    try {
      i = resolveField(from, n.name, n.qualifier, n.index);
    } catch {
      failed = true;
      return n;
    }
    const r = replace(i);
    if (r === null) failed = true;
    return r ?? n;
  });
  return failed ? null : out;
}

/** Rewrites `e` from schema `from` into schema `to`, where field i of `from` is field `map(i)` of `to`. */
export function rebase(e: Expr, from: Schema, to: Schema, map: (i: number) => number | null = (i) => i): Expr | null {
  return rewriteColumns(e, from, (i) => {
    const j = map(i);
    return j === null ? null : referenceTo(to, j);
  });
}

export function hasColumns(e: Expr): boolean {
  let found = false;
  visit(e, (n) => {
    if (n.kind === 'column') found = true;
    return !found;
  });
  return found;
}

/** Structural equality of plans (rules may rebuild an identical node; the driver treats that as no change). */
export function samePlan(a: LogicalPlan, b: LogicalPlan): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export function isLiteral(e: Expr, value?: boolean | null): boolean {
  if (e.kind !== 'literal') return false;
  return value === undefined || e.value === value;
}
