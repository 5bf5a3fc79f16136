// Decides from min/max/null-count statistics whether a predicate can be TRUE for any row they describe: a
// row group's (footer statistics) or a segment of one (the page index's statistics of the pages covering it).
// Anything it does not understand answers "might match", so pruning is always safe.
import type { Expr, LiteralValue } from '../expr/expr.ts';
import type { Schema } from '../types/schema.ts';
import { typeEquals } from '../types/data-type.ts';
import type { ColumnStats, StatValue } from '../io/parquet-reader.ts';

type Stats = ReadonlyMap<string, ColumnStats>;

/** The literal's value, only if its type is exactly the column's (statistics are in the column's own units:
 * a decimal's unscaled integer, a date's days), so no comparison mixes units. */
function literalFor(column: Expr, e: Expr, schema: Schema): LiteralValue | undefined {
  if (e.kind !== 'literal' || column.kind !== 'column') return undefined;
  const f = schema.fields.find((x) => x.name === column.name);
  return f && typeEquals(f.type, e.type) ? e.value : undefined;
}

function comparable(v: LiteralValue | undefined): v is number | string {
  return typeof v === 'number' || typeof v === 'string';
}

function statsOf(e: Expr, stats: Stats): ColumnStats | undefined {
  if (e.kind !== 'column') return undefined;
  return stats.get(e.name);
}

function lt(a: StatValue, b: number | string): boolean {
  return typeof a === typeof b && a < b;
}
function gt(a: StatValue, b: number | string): boolean {
  return typeof a === typeof b && a > b;
}

const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=', '!=': '!=' };

/** Whether `pred` can be TRUE for some row of a row group or row range with these per-column statistics. */
export function rowGroupMightMatch(pred: Expr, stats: Stats, schema: Schema): boolean {
  switch (pred.kind) {
    case 'binary': {
      if (pred.op === 'and') return rowGroupMightMatch(pred.left, stats, schema) && rowGroupMightMatch(pred.right, stats, schema);
      if (pred.op === 'or') return rowGroupMightMatch(pred.left, stats, schema) || rowGroupMightMatch(pred.right, stats, schema);
      let s = statsOf(pred.left, stats);
      let v = literalFor(pred.left, pred.right, schema);
      let op: string = pred.op;
      if (!s) {
        s = statsOf(pred.right, stats);
        v = literalFor(pred.right, pred.left, schema);
        op = FLIP[op] ?? op;
      }
      // A comparison with NULL is never TRUE (only for comparisons with a literal of the column's type).
      if (s?.allNull && comparable(v) && op in FLIP) return false;
      if (!s || !comparable(v) || s.min === undefined || s.max === undefined) return true;
      // Literals must already be in the column's own type (the optimizer casts them); a date literal compared with
      // a date column is a number of days on both sides.
      switch (op) {
        case '=':
          return !(lt(s.max, v) || gt(s.min, v));
        case '<':
          return !(s.min >= v && typeof s.min === typeof v);
        case '<=':
          return !gt(s.min, v);
        case '>':
          return !(s.max <= v && typeof s.max === typeof v);
        case '>=':
          return !lt(s.max, v);
        default:
          return true;
      }
    }
    case 'between': {
      if (pred.negated) return true;
      const s = statsOf(pred.input, stats);
      const lo = literalFor(pred.input, pred.low, schema);
      const hi = literalFor(pred.input, pred.high, schema);
      if (s?.allNull && comparable(lo) && comparable(hi)) return false;
      if (!s || s.min === undefined || s.max === undefined || !comparable(lo) || !comparable(hi)) return true;
      return !(lt(s.max, lo) || gt(s.min, hi));
    }
    case 'in': {
      if (pred.negated) return true;
      const s = statsOf(pred.input, stats);
      if (s?.allNull && pred.list.every((item) => comparable(literalFor(pred.input, item, schema)))) return false;
      if (!s || s.min === undefined || s.max === undefined) return true;
      return pred.list.some((item) => {
        const v = literalFor(pred.input, item, schema);
        return !comparable(v) || !(lt(s.max!, v) || gt(s.min!, v));
      });
    }
    case 'is_null': {
      const s = statsOf(pred.input, stats);
      if (pred.negated && s?.allNull) return false;
      if (!s || s.nullCount === undefined) return true;
      return pred.negated ? true : s.nullCount > 0;
    }
    default:
      return true;
  }
}

/** The columns whose statistics `pred` can use (those a page index must describe for page skipping). */
export function prunableColumns(pred: Expr): string[] {
  const out = new Set<string>();
  const visit = (e: Expr): void => {
    switch (e.kind) {
      case 'binary':
        if (e.op === 'and' || e.op === 'or') {
          visit(e.left);
          visit(e.right);
        } else {
          if (e.left.kind === 'column') out.add(e.left.name);
          if (e.right.kind === 'column') out.add(e.right.name);
        }
        return;
      case 'between':
      case 'in':
      case 'is_null':
        if (e.input.kind === 'column') out.add(e.input.name);
        return;
      default:
        return;
    }
  };
  visit(pred);
  return [...out];
}
