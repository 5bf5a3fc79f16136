// Turns a logical plan into a tree of physical operators for one process. Expressions are bound to input
// positions here, computed keys become projected columns (so aggregate, join and sort operators only see
// plain columns), and join conditions split into equi-keys and a residual predicate.
import type * as arrow from 'apache-arrow';
import {
  type Expr,
  alias,
  binary,
  boundColumn,
  call,
  cast,
  children as childrenOf,
  outputName,
  withChildren as withKids,
  transformUp,
  visit,
} from '../expr/expr.ts';
import { commonType, typeOf } from '../expr/type-of.ts';
import { compilePredicate } from '../expr/compile.ts';
import { type Schema, resolveField, schema as makeSchema } from '../types/schema.ts';
import { typeEquals } from '../types/data-type.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import { exprKey, planSchema, stripAlias } from '../plan/analyzer.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import type { PhysicalOperator } from '../exec/operator.ts';
import { FilterExec } from '../exec/filter.ts';
import { ProjectExec } from '../exec/project.ts';
import { FileScanExec } from '../exec/scan.ts';
import { MemoryScanExec } from '../exec/memory-scan.ts';
import { type AggregateSpec, HashAggregateExec } from '../exec/hash-aggregate.ts';
import { HashJoinExec } from '../exec/hash-join.ts';
import { SortExec } from '../exec/sort.ts';
import { LimitExec } from '../exec/limit.ts';
import { UnionExec } from '../exec/union.ts';

export interface PlannerContext {
  /** Batches of an in-memory table registered with the session. */
  memoryTable(id: string): { readonly schema: Schema; readonly batches: readonly arrow.RecordBatch[] };
}

/** Rewrites every column reference in `e` into a reference bound to its position in `input`. */
export function bindExpr(e: Expr, input: Schema): Expr {
  return transformUp(e, (n) => {
    if (n.kind !== 'column') return n;
    const i = resolveField(input, n.name, n.qualifier, n.index);
    return boundColumn(i, input.fields[i]!.name);
  });
}

/** Keep the name the logical plan gives an expression, even after rewriting changed its text. */
function named(e: Expr, name: string): Expr {
  if (e.kind === 'alias' && e.name === name) return e;
  if (e.kind === 'column' && e.name === name) return e;
  return alias(e.kind === 'alias' ? e.input : e, name);
}

function columnsOf(input: Schema): Expr[] {
  return input.fields.map((f, i) => boundColumn(i, f.name));
}

function splitConjuncts(e: Expr): Expr[] {
  if (e.kind === 'binary' && e.op === 'and') return [...splitConjuncts(e.left), ...splitConjuncts(e.right)];
  return [e];
}

/** Which inputs (by column position ranges) an expression bound to the combined join schema refers to. */
function sidesOf(e: Expr, leftWidth: number): { left: boolean; right: boolean } {
  const out = { left: false, right: false };
  visit(e, (n) => {
    if (n.kind === 'column') {
      if (n.index! < leftWidth) out.left = true;
      else out.right = true;
    }
  });
  return out;
}

function shiftColumns(e: Expr, by: number): Expr {
  return transformUp(e, (n) => (n.kind === 'column' ? boundColumn(n.index! + by, n.name) : n));
}

export function createPhysicalPlan(plan: LogicalPlan, ctx: PlannerContext): PhysicalOperator {
  const recurse = (p: LogicalPlan) => createPhysicalPlan(p, ctx);
  switch (plan.kind) {
    case 'scan': {
      if (plan.source.format === 'memory') {
        const table = ctx.memoryTable(plan.source.id);
        const scan = new MemoryScanExec(table.schema, [...table.batches]);
        if (plan.projection === null) return scan;
        return new ProjectExec(scan, plan.projection.map((n) => bindExpr({ kind: 'column', name: n }, table.schema)));
      }
      return new FileScanExec(plan.source, plan.schema, plan.projection, plan.filters);
    }
    case 'alias':
    case 'repartition':
      // Aliases only requalify names; repartitioning means nothing inside one process.
      return recurse(plan.input);
    case 'project': {
      const input = planSchema(plan.input);
      return new ProjectExec(recurse(plan.input), plan.exprs.map((e) => named(bindExpr(e, input), outputName(e))));
    }
    case 'filter': {
      const input = planSchema(plan.input);
      return new FilterExec(recurse(plan.input), bindExpr(plan.condition, input));
    }
    case 'aggregate':
      return planAggregate(plan, recurse(plan.input));
    case 'join':
      return planJoin(plan, recurse(plan.left), recurse(plan.right));
    case 'sort': {
      return planSort(plan, recurse(plan.input), null);
    }
    case 'limit': {
      if (plan.input.kind === 'sort' && plan.limit !== null) {
        // Top-k: the sort keeps only limit + offset rows.
        const sorted = planSort(plan.input, recurse(plan.input.input), plan.limit + plan.offset);
        return plan.offset ? new LimitExec(sorted, plan.limit, plan.offset) : sorted;
      }
      return new LimitExec(recurse(plan.input), plan.limit, plan.offset);
    }
    case 'distinct': {
      const input = recurse(plan.input);
      return new HashAggregateExec(input, input.schema.fields.map((_, i) => i), [], 'single');
    }
    case 'union': {
      const out = planSchema(plan);
      const inputs = plan.inputs.map((p) => {
        const s = planSchema(p);
        const op = recurse(p);
        const exprs = out.fields.map((f, i) => {
          const idx = plan.byName ? resolveField(s, f.name) : i;
          const col = boundColumn(idx, s.fields[idx]!.name);
          return named(typeEquals(s.fields[idx]!.type, f.type) ? col : cast(col, f.type), f.name);
        });
        const identity = exprs.every((e, i) => e.kind === 'column' && e.index === i) && exprs.length === s.fields.length;
        return identity ? op : new ProjectExec(op, exprs);
      });
      return new UnionExec(inputs);
    }
  }
}

function planAggregate(plan: Extract<LogicalPlan, { kind: 'aggregate' }>, input: PhysicalOperator): PhysicalOperator {
  const inSchema = planSchema(plan.input);
  const groupExprs = plan.groupBy.map((g) => bindExpr(stripAlias(g), inSchema));
  // Distinct aggregate calls, in order of appearance.
  const calls: Extract<Expr, { kind: 'aggregate' }>[] = [];
  const callIndex = new Map<string, number>();
  for (const a of plan.aggregates) {
    visit(a, (n) => {
      if (n.kind !== 'aggregate') return true;
      const key = exprKey(n, inSchema);
      if (!callIndex.has(key)) {
        callIndex.set(key, calls.length);
        calls.push(n);
      }
      return false;
    });
  }
  // Pre-projection: group keys, then one column per aggregate argument.
  const pre: Expr[] = groupExprs.map((g, i) => alias(g, `__g${i}`));
  const specs: AggregateSpec[] = calls.map((c, k) => {
    if (c.args.length > 1) throw new UnsupportedError(`${c.fn} takes at most one argument, got ${c.args.length}`);
    if (c.args.length === 0) {
      if (c.fn !== 'count') throw new AnalysisError(`${c.fn}() needs an argument`);
      return { fn: c.fn, input: null, name: `__agg${k}` };
    }
    pre.push(alias(bindExpr(c.args[0]!, inSchema), `__a${k}`));
    return { fn: c.fn, input: pre.length - 1, name: `__agg${k}` };
  });
  const projected = new ProjectExec(input, pre);
  const agg = new HashAggregateExec(projected, groupExprs.map((_, i) => i), specs, 'single');
  // Post-projection: group-key subexpressions and aggregate calls become columns of the aggregate's output.
  const groupKeys = new Map(plan.groupBy.map((g, i) => [exprKey(stripAlias(g), inSchema), i]));
  const g = groupExprs.length;
  const post = plan.aggregates.map((a) => {
    const rewrite = (e: Expr): Expr => {
      if (e.kind === 'aggregate') {
        const k = callIndex.get(exprKey(e, inSchema))!;
        return boundColumn(g + k, `__agg${k}`);
      }
      if (e.kind !== 'alias') {
        const gi = groupKeys.get(exprKey(e, inSchema));
        if (gi !== undefined) return boundColumn(gi, `__g${gi}`);
      }
      if (e.kind === 'column') throw new AnalysisError(`column '${e.name}' must appear in groupBy or inside an aggregate function`);
      return rewriteChildren(e, rewrite);
    };
    return named(rewrite(a), outputName(a));
  });
  return new ProjectExec(agg, post);
}

function rewriteChildren(e: Expr, f: (e: Expr) => Expr): Expr {
  // One level: rebuild `e` from rewritten children (transformUp would visit bottom-up and lose the top-down
  // matching of group-key subexpressions).
  let changed = false;
  const mapped = (x: Expr) => {
    const y = f(x);
    if (y !== x) changed = true;
    return y;
  };
  const kids = childrenOf(e).map(mapped);
  return changed ? withKids(e, kids) : e;
}

function planSort(plan: Extract<LogicalPlan, { kind: 'sort' }>, input: PhysicalOperator, limit: number | null): PhysicalOperator {
  const inSchema = planSchema(plan.input);
  const width = inSchema.fields.length;
  const bound = plan.orders.map((o) => bindExpr(o.expr, inSchema));
  const extra: Expr[] = [];
  const keys = plan.orders.map((o, i) => {
    const e = bound[i]!;
    if (e.kind === 'column') return { index: e.index!, ascending: o.ascending, nullsFirst: o.nullsFirst };
    extra.push(alias(e, `__sort${i}`));
    return { index: width + extra.length - 1, ascending: o.ascending, nullsFirst: o.nullsFirst };
  });
  if (extra.length === 0) return new SortExec(input, keys, limit);
  const widened = new ProjectExec(input, [...columnsOf(inSchema), ...extra]);
  return new ProjectExec(new SortExec(widened, keys, limit), columnsOf(inSchema));
}

function planJoin(plan: Extract<LogicalPlan, { kind: 'join' }>, left: PhysicalOperator, right: PhysicalOperator): PhysicalOperator {
  const ls = planSchema(plan.left);
  const rs = planSchema(plan.right);
  const lw = ls.fields.length;
  const combined = makeSchema([...ls.fields, ...rs.fields]);
  const leftKeys: Expr[] = [];
  const rightKeys: Expr[] = [];
  const residual: Expr[] = [];
  for (const name of plan.using) {
    const li = resolveField(ls, name);
    const ri = resolveField(rs, name);
    leftKeys.push(boundColumn(li, ls.fields[li]!.name));
    rightKeys.push(boundColumn(ri, rs.fields[ri]!.name));
  }
  if (plan.on) {
    for (const c of splitConjuncts(bindExpr(plan.on, combined))) {
      if (c.kind === 'binary' && c.op === '=') {
        const l = sidesOf(c.left, lw);
        const r = sidesOf(c.right, lw);
        if (l.left && !l.right && r.right && !r.left) {
          leftKeys.push(c.left);
          rightKeys.push(shiftColumns(c.right, -lw));
          continue;
        }
        if (l.right && !l.left && r.left && !r.right) {
          leftKeys.push(c.right);
          rightKeys.push(shiftColumns(c.left, -lw));
          continue;
        }
      }
      residual.push(c);
    }
  }
  // Keys become plain columns of one common type: append computed or cast keys to each side.
  const leftExtra: Expr[] = [];
  const rightExtra: Expr[] = [];
  const lk: number[] = [];
  const rk: number[] = [];
  leftKeys.forEach((le, i) => {
    const re = rightKeys[i]!;
    const lt = typeOf(le, ls);
    const rt = typeOf(re, rs);
    const t = typeEquals(lt, rt) ? lt : commonType(lt, rt);
    if (!t) throw new AnalysisError(`join keys have incompatible types: ${outputName(le)} and ${outputName(re)}`);
    const lkExpr = typeEquals(lt, t) ? le : cast(le, t);
    const rkExpr = typeEquals(rt, t) ? re : cast(re, t);
    if (lkExpr.kind === 'column') lk.push(lkExpr.index!);
    else {
      leftExtra.push(alias(lkExpr, `__lk${i}`));
      lk.push(lw + leftExtra.length - 1);
    }
    if (rkExpr.kind === 'column') rk.push(rkExpr.index!);
    else {
      rightExtra.push(alias(rkExpr, `__rk${i}`));
      rk.push(rs.fields.length + rightExtra.length - 1);
    }
  });
  const lop = leftExtra.length ? new ProjectExec(left, [...columnsOf(ls), ...leftExtra]) : left;
  const rop = rightExtra.length ? new ProjectExec(right, [...columnsOf(rs), ...rightExtra]) : right;
  const lwide = lw + leftExtra.length;
  // The residual is evaluated over the widened combined schema: shift right-side references past the left extras.
  const residualExpr = residual.length
    ? residual.map((c) => transformUp(c, (n) => (n.kind === 'column' && n.index! >= lw ? boundColumn(n.index! + leftExtra.length, n.name) : n))).reduce((a, b) => binary('and', a, b))
    : null;
  const joinType = plan.joinType === 'cross' ? 'cross' : plan.joinType;
  const join = new HashJoinExec(lop, rop, {
    joinType,
    leftKeys: lk,
    rightKeys: rk,
    residual: residualExpr ? compilePredicate(residualExpr, makeSchema([...lop.schema.fields, ...rop.schema.fields])) : undefined,
    buildSide: 'right',
  });
  // Output: what the logical join's schema says, in its order.
  const out: Expr[] = [];
  const usingLeft = new Set<number>();
  const usingRight = new Set<number>();
  const semi = plan.joinType === 'semi' || plan.joinType === 'anti';
  plan.using.forEach((name) => {
    const li = resolveField(ls, name);
    const ri = resolveField(rs, name);
    usingLeft.add(li);
    usingRight.add(ri);
    if (semi) return;
    const t = typeOf(boundColumn(li, name), ls);
    const rt = rs.fields[ri]!.type;
    const common = typeEquals(t, rt) ? t : commonType(t, rt)!;
    const lcol = typeEquals(t, common) ? boundColumn(li, name) : cast(boundColumn(li, name), common);
    const rcol = typeEquals(rt, common) ? boundColumn(lwide + ri, name) : cast(boundColumn(lwide + ri, name), common);
    const key =
      plan.joinType === 'full' ? call('coalesce', [lcol, rcol]) : plan.joinType === 'right' ? rcol : lcol;
    out.push(named(key, ls.fields[li]!.name));
  });
  if (semi) {
    if (leftExtra.length === 0) return join;
    return new ProjectExec(join, columnsOf(ls));
  }
  ls.fields.forEach((f, i) => {
    if (!usingLeft.has(i)) out.push(boundColumn(i, f.name));
  });
  rs.fields.forEach((f, i) => {
    if (!usingRight.has(i)) out.push(boundColumn(lwide + i, f.name));
  });
  const identity = out.length === join.schema.fields.length && out.every((e, i) => e.kind === 'column' && e.index === i);
  return identity ? join : new ProjectExec(join, out);
}
