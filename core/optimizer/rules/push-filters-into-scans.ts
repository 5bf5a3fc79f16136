// pushFiltersIntoScans: copies what a Parquet scan can use of the filter directly above it into the scan's
// `filters`, where row groups, and pages of files with a page index, whose min/max statistics cannot match are
// skipped. The filter stays: scan filters only skip data, they never drop a row themselves. Statistics are in the column's own units, so each literal is restated exactly in its
// column's type (`price > 100.5` on decimal(15,2) → the decimal 100.50; `d >= '1998-09-02'` → a date);
// a comparison whose literal has no exact counterpart is not pushed.
import { type ComparisonOp, type Expr, between, binary, column, inList, isNull, literal } from '../../expr/expr.ts';
import type { Schema } from '../../types/schema.ts';
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { literalAs } from '../literals.ts';
import { columnIndices, splitConjuncts } from '../plan-utils.ts';

const FLIP: Record<ComparisonOp, ComparisonOp> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const STAT_OPS = new Set(['=', '<', '<=', '>', '>=']);

/** The scan column (by its source name) that `e` references, or null if `e` is not a plain column. */
function scanColumn(e: Expr, s: Schema): { name: string; type: Schema['fields'][number]['type'] } | null {
  if (e.kind !== 'column') return null;
  const idx = columnIndices(e, s);
  if (!idx || idx.size !== 1) return null;
  const f = s.fields[[...idx][0]!]!;
  return { name: f.name, type: f.type };
}

function restate(lit: Expr, type: Schema['fields'][number]['type']): Expr | null {
  const v = literalAs(lit, type);
  return v === undefined || v === null ? null : literal(v, type);
}

/** The part of `e` the row-group statistics can decide, with literals in the column's type; null if none. */
export function toScanPredicate(e: Expr, s: Schema): Expr | null {
  switch (e.kind) {
    case 'binary': {
      if (e.op === 'and') {
        // Dropping one side of an AND only weakens it, which is safe for skipping.
        const l = toScanPredicate(e.left, s);
        const r = toScanPredicate(e.right, s);
        return l && r ? binary('and', l, r) : (l ?? r);
      }
      if (e.op === 'or') {
        const l = toScanPredicate(e.left, s);
        const r = toScanPredicate(e.right, s);
        return l && r ? binary('or', l, r) : null;
      }
      if (!STAT_OPS.has(e.op)) return null;
      let col = scanColumn(e.left, s);
      let lit = e.right;
      let op = e.op as ComparisonOp;
      if (!col) {
        col = scanColumn(e.right, s);
        lit = e.left;
        op = FLIP[op];
      }
      if (!col || lit.kind !== 'literal') return null;
      const v = restate(lit, col.type);
      return v ? binary(op, column(col.name), v) : null;
    }
    case 'between': {
      const col = scanColumn(e.input, s);
      if (!col || e.negated) return null;
      const lo = restate(e.low, col.type);
      const hi = restate(e.high, col.type);
      return lo && hi ? between(column(col.name), lo, hi) : null;
    }
    case 'in': {
      const col = scanColumn(e.input, s);
      if (!col || e.negated) return null;
      const items = e.list.map((x) => restate(x, col.type));
      return items.every((x) => x !== null) ? inList(column(col.name), items as Expr[]) : null;
    }
    case 'is_null': {
      const col = scanColumn(e.input, s);
      return col && !e.negated ? isNull(column(col.name)) : null;
    }
    default:
      return null;
  }
}

export function pushFiltersIntoScans(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, (p) => {
    if (p.kind !== 'filter' || p.input.kind !== 'scan' || p.input.source.format !== 'parquet') return p;
    const scan = p.input;
    const s = planSchema(scan);
    const have = new Set(scan.filters.map((f) => JSON.stringify(f)));
    const added: Expr[] = [];
    for (const c of splitConjuncts(p.condition)) {
      const f = toScanPredicate(c, s);
      if (!f) continue;
      const k = JSON.stringify(f);
      if (have.has(k)) continue;
      have.add(k);
      added.push(f);
    }
    if (added.length === 0) return p;
    const input = Object.freeze({ ...scan, filters: Object.freeze([...scan.filters, ...added]) });
    return Object.freeze({ ...p, input });
  });
}
