// Cardinality and size estimates for cost-based rules (join reordering, join strategy). A statistics provider
// says what is known about each scan's source; estimates propagate up the plan with textbook selectivities,
// refined by min/max statistics where a predicate compares a source column with a literal.
import * as arrow from 'apache-arrow';
import type { Expr } from '../expr/expr.ts';
import type { DataType } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';
import type { ColumnStatistics, LogicalPlan, TableStatistics } from '../plan/logical-plan.ts';
import { planSchema, stripAlias } from '../plan/analyzer.ts';
import { columnIndices, splitConjuncts } from './plan-utils.ts';
import { literalAs } from './literals.ts';
import { joinOrigins } from './join-origins.ts';

export type ScanNode = Extract<LogicalPlan, { kind: 'scan' }>;

/** What is known about a scan's source; undefined when nothing is. */
export type StatisticsProvider = (scan: ScanNode) => TableStatistics | undefined;

/** Statistics carried on the scan node (filled by the Parquet reader from file footers). */
export const scanNodeStatistics: StatisticsProvider = (scan) => scan.statistics;

/** Statistics of in-memory tables counted from their batches, falling back to `fallback` for other scans. */
export function memoryTableStatistics(
  lookup: (id: string) => { readonly batches: readonly arrow.RecordBatch[] } | undefined,
  fallback: StatisticsProvider = scanNodeStatistics,
): StatisticsProvider {
  const cache = new Map<string, TableStatistics>();
  return (scan) => {
    if (scan.source.format !== 'memory') return fallback(scan);
    const id = scan.source.id;
    let s = cache.get(id);
    if (!s) {
      const table = lookup(id);
      if (!table) return fallback(scan);
      let rows = 0;
      let bytes = 0;
      const columns: Record<string, { min?: number; max?: number; nullCount: number }> = {};
      for (const b of table.batches) {
        rows += b.numRows;
        bytes += byteLength(b.data);
        b.schema.fields.forEach((f, i) => {
          const c = (columns[f.name] ??= { nullCount: 0 });
          numericBounds(b.data.children[i]!, c);
        });
      }
      s = { rowCount: rows, sizeInBytes: bytes, columns };
      cache.set(id, s);
    }
    return s;
  };
}

/** Widens `c` by the min/max and null count of a numeric or date column (other types: null count only). */
function numericBounds(d: arrow.Data, c: { min?: number; max?: number; nullCount: number }): void {
  c.nullCount += d.nullCount;
  const id = d.type.typeId;
  const T = arrow.Type;
  if (id !== T.Int && id !== T.Float && id !== T.Date) return;
  const values = d.values as ArrayLike<number | bigint>;
  const valid = d.nullCount > 0 ? d.nullBitmap : null;
  let min = c.min ?? Infinity;
  let max = c.max ?? -Infinity;
  for (let i = 0; i < d.length; i++) {
    if (valid && !((valid[i >> 3]! >> (i & 7)) & 1)) continue;
    const v = Number(values[i]!);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min <= max) {
    c.min = min;
    c.max = max;
  }
}

function byteLength(d: arrow.Data): number {
  let n = 0;
  for (const buf of [d.values, d.valueOffsets, d.nullBitmap] as (ArrayBufferView | undefined)[]) n += buf?.byteLength ?? 0;
  for (const c of d.children) n += byteLength(c);
  if (d.dictionary) for (const c of d.dictionary.data) n += byteLength(c);
  return n;
}

// ---- selectivities ----------------------------------------------------------------------------------------

export const SELECTIVITY = Object.freeze({ equality: 0.1, range: 0.33, like: 0.25, isNull: 0.1, other: 0.25 });

/** Where field `i` of `plan`'s output comes from, when it is a source column passed through unchanged. */
export function columnOrigin(plan: LogicalPlan, i: number): { scan: ScanNode; name: string } | null {
  switch (plan.kind) {
    case 'scan': {
      const f = planSchema(plan).fields[i];
      return f ? { scan: plan, name: f.name } : null;
    }
    case 'filter':
    case 'sort':
    case 'limit':
    case 'distinct':
    case 'alias':
    case 'repartition':
      return columnOrigin(plan.input, i);
    case 'project': {
      const e = stripAlias(plan.exprs[i]!);
      if (e.kind !== 'column') return null;
      const idx = columnIndices(e, planSchema(plan.input));
      return idx && idx.size === 1 ? columnOrigin(plan.input, [...idx][0]!) : null;
    }
    case 'aggregate': {
      const e = stripAlias(plan.aggregates[i]!);
      if (e.kind !== 'column') return null;
      const idx = columnIndices(e, planSchema(plan.input));
      return idx && idx.size === 1 ? columnOrigin(plan.input, [...idx][0]!) : null;
    }
    case 'join': {
      const o = joinOrigins(plan)[i];
      if (!o) return null;
      if (o.side === 'left') return columnOrigin(plan.left, o.index);
      if (o.side === 'right') return columnOrigin(plan.right, o.index);
      return null;
    }
    case 'union':
      return null;
    case 'window':
    case 'apply_model':
      // The input's columns pass through; the function (model) columns come from no source.
      return i < planSchema(plan.input).fields.length ? columnOrigin(plan.input, i) : null;
  }
}

export class Estimator {
  private readonly rowsCache = new WeakMap<LogicalPlan, number | undefined>();

  constructor(readonly stats: StatisticsProvider) {}

  private columnStats(plan: LogicalPlan, i: number): { stats: ColumnStatistics | undefined; rows: number; type: DataType } | null {
    const o = columnOrigin(plan, i);
    if (!o) return null;
    const t = this.stats(o.scan);
    if (!t) return null;
    const f = o.scan.schema.fields.find((x) => x.name === o.name);
    if (!f) return null;
    return { stats: t.columns?.[o.name], rows: t.rowCount, type: f.type };
  }

  /** Distinct values of field `i` of `plan`, from its source: the row count, capped by the min/max range for
   * integer-like columns. Undefined when unknown. */
  distinctCount(plan: LogicalPlan, i: number): number | undefined {
    const c = this.columnStats(plan, i);
    if (!c) return undefined;
    let n = c.rows;
    const s = c.stats;
    const integral = c.type.kind === 'int32' || c.type.kind === 'int64' || c.type.kind === 'date32';
    if (integral && typeof s?.min === 'number' && typeof s.max === 'number') n = Math.min(n, s.max - s.min + 1);
    return Math.max(1, n);
  }

  /** The fraction of `input`'s rows for which `condition` holds. */
  selectivity(condition: Expr, input: LogicalPlan): number {
    const s = planSchema(input);
    let out = 1;
    for (const c of splitConjuncts(condition)) out *= this.conjunctSelectivity(c, input, s);
    return out;
  }

  private conjunctSelectivity(e: Expr, input: LogicalPlan, s: Schema): number {
    switch (e.kind) {
      case 'literal':
        return e.value === true ? 1 : 0;
      case 'binary': {
        if (e.op === 'and') return this.conjunctSelectivity(e.left, input, s) * this.conjunctSelectivity(e.right, input, s);
        if (e.op === 'or') {
          const a = this.conjunctSelectivity(e.left, input, s);
          const b = this.conjunctSelectivity(e.right, input, s);
          return a + b - a * b;
        }
        if (e.op === '=') return this.rangeFraction(e.left, '=', e.right, input, s) ?? SELECTIVITY.equality;
        if (e.op === '!=') return 1 - SELECTIVITY.equality;
        if (e.op === '<' || e.op === '<=' || e.op === '>' || e.op === '>=') {
          const direct = this.rangeFraction(e.left, e.op, e.right, input, s);
          if (direct !== undefined) return direct;
          const flipped = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' }[e.op] as '<' | '>';
          return this.rangeFraction(e.right, flipped, e.left, input, s) ?? SELECTIVITY.range;
        }
        return SELECTIVITY.other;
      }
      case 'between': {
        const lo = this.rangeFraction(e.input, '>=', e.low, input, s);
        const hi = this.rangeFraction(e.input, '<=', e.high, input, s);
        const inside = lo !== undefined && hi !== undefined ? Math.max(0, lo + hi - 1) : SELECTIVITY.range * SELECTIVITY.range * 3;
        return e.negated ? 1 - inside : inside;
      }
      case 'in': {
        const inside = Math.min(1, SELECTIVITY.equality * e.list.length);
        return e.negated ? 1 - inside : inside;
      }
      case 'like':
        return e.negated ? 1 - SELECTIVITY.like : SELECTIVITY.like;
      case 'is_null': {
        const idx = e.input.kind === 'column' ? columnIndices(e.input, s) : null;
        const c = idx && idx.size === 1 ? this.columnStats(input, [...idx][0]!) : null;
        const f = c?.stats?.nullCount !== undefined && c.rows > 0 ? c.stats.nullCount / c.rows : SELECTIVITY.isNull;
        return e.negated ? 1 - f : f;
      }
      case 'not':
        return 1 - this.conjunctSelectivity(e.input, input, s);
      default:
        return SELECTIVITY.other;
    }
  }

  /** The fraction of rows with `col op lit` from the column's min/max (uniform), when both are known. */
  private rangeFraction(col: Expr, op: '=' | '<' | '<=' | '>' | '>=', lit: Expr, input: LogicalPlan, s: Schema): number | undefined {
    if (col.kind !== 'column' || lit.kind !== 'literal') return undefined;
    const idx = columnIndices(col, s);
    if (!idx || idx.size !== 1) return undefined;
    const c = this.columnStats(input, [...idx][0]!);
    const min = c?.stats?.min;
    const max = c?.stats?.max;
    if (!c || typeof min !== 'number' || typeof max !== 'number') return undefined;
    const v = approximately(lit, c.type);
    if (v === undefined) return undefined;
    if (op === '=') return v < min || v > max ? 0 : undefined;
    if (max <= min) return (op === '<' ? v > min : op === '<=' ? v >= min : op === '>' ? v < min : v <= min) ? 1 : 0;
    const below = Math.min(1, Math.max(0, (v - min) / (max - min)));
    return op === '<' || op === '<=' ? below : 1 - below;
  }

  /** Estimated output rows of `plan`, or undefined when a source's size is unknown. */
  rows(plan: LogicalPlan): number | undefined {
    if (this.rowsCache.has(plan)) return this.rowsCache.get(plan);
    const r = this.computeRows(plan);
    this.rowsCache.set(plan, r);
    return r;
  }

  private computeRows(plan: LogicalPlan): number | undefined {
    switch (plan.kind) {
      case 'scan':
        return this.stats(plan)?.rowCount;
      case 'filter': {
        const n = this.rows(plan.input);
        return n === undefined ? undefined : n * this.selectivity(plan.condition, plan.input);
      }
      case 'project':
      case 'sort':
      case 'alias':
      case 'repartition':
      case 'distinct':
      case 'window':
      case 'apply_model':
        return this.rows(plan.input);
      case 'limit': {
        const n = this.rows(plan.input);
        if (n === undefined) return plan.limit ?? undefined;
        return Math.max(0, Math.min(plan.limit ?? Infinity, n - plan.offset));
      }
      case 'aggregate': {
        const n = this.rows(plan.input);
        if (plan.groupBy.length === 0) return 1;
        if (n === undefined) return undefined;
        const s = planSchema(plan.input);
        let groups = 1;
        for (const g of plan.groupBy) {
          const e = stripAlias(g);
          const idx = e.kind === 'column' ? columnIndices(e, s) : null;
          const d = idx && idx.size === 1 ? this.distinctCount(plan.input, [...idx][0]!) : undefined;
          groups *= d ?? n;
          if (groups >= n) break;
        }
        return Math.min(n, groups);
      }
      case 'union': {
        let total = 0;
        for (const p of plan.inputs) {
          const n = this.rows(p);
          if (n === undefined) return undefined;
          total += n;
        }
        return total;
      }
      case 'join':
        return this.joinRows(plan);
    }
  }

  private joinRows(plan: Extract<LogicalPlan, { kind: 'join' }>): number | undefined {
    const l = this.rows(plan.left);
    const r = this.rows(plan.right);
    if (l === undefined || r === undefined) return undefined;
    if (plan.joinType === 'semi' || plan.joinType === 'anti') return l;
    const inner = this.innerJoinRows(plan, l, r);
    switch (plan.joinType) {
      case 'left':
        return Math.max(l, inner);
      case 'right':
        return Math.max(r, inner);
      case 'full':
        return Math.max(l, r, inner);
      default:
        return inner;
    }
  }

  /** |L ⋈ R| = |L|·|R| / max(ndv(l), ndv(r)) for the most selective equi-key, times the other conjuncts' selectivity. */
  private innerJoinRows(plan: Extract<LogicalPlan, { kind: 'join' }>, l: number, r: number): number {
    const ls = planSchema(plan.left);
    const rs = planSchema(plan.right);
    const lw = ls.fields.length;
    const keys: [number, number][] = [];
    for (const name of plan.using) {
      const li = ls.fields.findIndex((f) => f.name.toLowerCase() === name.toLowerCase());
      const ri = rs.fields.findIndex((f) => f.name.toLowerCase() === name.toLowerCase());
      if (li >= 0 && ri >= 0) keys.push([li, ri]);
    }
    let other = 1;
    if (plan.on) {
      const combined = { fields: [...ls.fields, ...rs.fields] };
      for (const c of splitConjuncts(plan.on)) {
        if (c.kind === 'binary' && c.op === '=' && c.left.kind === 'column' && c.right.kind === 'column') {
          const a = columnIndices(c.left, combined);
          const b = columnIndices(c.right, combined);
          if (a && b && a.size === 1 && b.size === 1) {
            const x = [...a][0]!;
            const y = [...b][0]!;
            if (x < lw && y >= lw) {
              keys.push([x, y - lw]);
              continue;
            }
            if (y < lw && x >= lw) {
              keys.push([y, x - lw]);
              continue;
            }
          }
        }
        other *= SELECTIVITY.other;
      }
    }
    if (keys.length === 0) return l * r * other;
    let best = Infinity;
    for (const [li, ri] of keys) {
      const dl = Math.min(this.distinctCount(plan.left, li) ?? l, Math.max(1, l));
      const dr = Math.min(this.distinctCount(plan.right, ri) ?? r, Math.max(1, r));
      best = Math.min(best, (l * r) / Math.max(dl, dr, 1));
    }
    return best * other;
  }

  /** Estimated bytes of `plan`'s output: rows × the width of its columns (from the source's bytes per row
   * where known). */
  bytes(plan: LogicalPlan): number | undefined {
    const n = this.rows(plan);
    if (n === undefined) return undefined;
    return n * rowWidth(planSchema(plan));
  }
}

/** A literal's value in the units of a column of type `t`, close enough for estimates (6.5 for an integer). */
function approximately(lit: Expr & { kind: 'literal' }, t: DataType): number | undefined {
  const exact = literalAs(lit, t);
  if (typeof exact === 'number') return exact;
  if (typeof lit.value !== 'number') return undefined;
  const x = lit.type.kind === 'decimal' ? lit.value / 10 ** lit.type.scale : lit.value;
  if (t.kind === 'int32' || t.kind === 'int64' || t.kind === 'float64') return x;
  if (t.kind === 'decimal') return x * 10 ** t.scale;
  return undefined;
}

/** Bytes per row of a schema in Arrow layout (strings counted at a typical 24 bytes). */
export function rowWidth(s: Schema): number {
  let w = 0;
  for (const f of s.fields) w += typeWidth(f.type);
  return Math.max(1, w);
}

function typeWidth(t: DataType): number {
  switch (t.kind) {
    case 'null':
    case 'bool':
      return 1;
    case 'int32':
    case 'date32':
      return 4;
    case 'int64':
    case 'float64':
    case 'timestamp':
      return 8;
    case 'decimal':
      return 16;
    case 'utf8':
      return 24;
    case 'vector':
      return 4 * t.size;
  }
}
