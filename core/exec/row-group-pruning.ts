// Decides from a row group's min/max/null-count statistics whether a predicate can be TRUE for any of its
// rows. Anything it does not understand answers "might match", so pruning is always safe.
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
      if (!s || s.min === undefined || s.max === undefined || !comparable(lo) || !comparable(hi)) return true;
      return !(lt(s.max, lo) || gt(s.min, hi));
    }
    case 'in': {
      if (pred.negated) return true;
      const s = statsOf(pred.input, stats);
      if (!s || s.min === undefined || s.max === undefined) return true;
      return pred.list.some((item) => {
        const v = literalFor(pred.input, item, schema);
        return !comparable(v) || !(lt(s.max!, v) || gt(s.min!, v));
      });
    }
    case 'is_null': {
      const s = statsOf(pred.input, stats);
      if (!s || s.nullCount === undefined) return true;
      return pred.negated ? true : s.nullCount > 0;
    }
    default:
      return true;
  }
}
