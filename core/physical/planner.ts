// Turns an optimized logical plan into a physical plan (plain data, ./physical-plan.ts). Expressions are bound
// to input positions, computed keys become projected columns (so aggregate, join and sort nodes only see plain
// columns), and join conditions split into equi-keys and a residual. In distributed mode the planner also places
// exchanges: aggregates split into partial and final steps around a hash exchange, joins broadcast a small build
// side or hash-partition both sides, sorts range-partition, limits and top-k finish on one partition, windows
// hash-partition on their partition keys (one partition without).
import {
  type Expr,
  alias,
  binary,
  boundColumn,
  call,
  cast,
  children as childrenOf,
  outputName,
  transformUp,
  visit,
  withChildren as withKids,
} from '../expr/expr.ts';
import { commonType, typeOf } from '../expr/type-of.ts';
import { type Schema, resolveField, schema as makeSchema } from '../types/schema.ts';
import { typeEquals } from '../types/data-type.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import { exprKey, planSchema, stripAlias } from '../plan/analyzer.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { partialStateWidth } from '../exec/hash-aggregate.ts';
import type { WindowFunctionSpec } from '../exec/window.ts';
import {
  type PhysicalAggregate,
  type PhysicalPlan,
  type PhysicalSortKey,
  type WorkerKind,
  physicalSchema,
} from './physical-plan.ts';
import type { ModelRef } from '../expr/model-ref.ts';
import { SizeEstimates } from './estimates.ts';
import type { StatisticsProvider } from '../optimizer/statistics.ts';

export interface PhysicalPlannerOptions {
  /** Place exchanges for a multi-task run; false plans for one process (no exchanges, single-step aggregates). */
  readonly distributed: boolean;
  /** Target bytes of input per task, used to size shuffles. */
  readonly targetBytesPerTask: number;
  /** Upper bound on the partitions of one shuffle. */
  readonly maxPartitions: number;
  /** Where scan sizes come from (default: the statistics readers put on scan nodes). */
  readonly stats?: StatisticsProvider;
  /** How model stages are placed (see `modelWorkerKind`). */
  readonly inference?: InferencePlanning;
}

export interface InferencePlanning {
  /** The job asks for a GPU: every model stage runs on `container-gpu` workers. */
  readonly gpu?: boolean;
  /** A persisted model above this many bytes runs on `container-gpu` workers (default 256 MB: beyond what a Lambda loads quickly). */
  readonly largeModelBytes?: number;
  /** Tasks of an inference stage (default: from the input's estimated size, as other shuffles). */
  readonly partitions?: number;
}

export const LARGE_MODEL_BYTES = 256 * 1024 * 1024;

/** The worker kind a model stage runs on: the model's own choice, else a GPU container when the model or the job asks for a GPU or the model is large, else a Lambda. */
export function modelWorkerKind(model: ModelRef, inference: InferencePlanning = {}): WorkerKind {
  if (model.workerKind) return model.workerKind;
  if (model.device === 'gpu' || inference.gpu) return 'container-gpu';
  if (model.bytes > (inference.largeModelBytes ?? LARGE_MODEL_BYTES)) return 'container-gpu';
  return 'lambda';
}

export const LOCAL_PLANNING: PhysicalPlannerOptions = Object.freeze({
  distributed: false,
  targetBytesPerTask: 64 * 1024 * 1024,
  maxPartitions: 1000,
});

export const DISTRIBUTED_PLANNING: PhysicalPlannerOptions = Object.freeze({ ...LOCAL_PLANNING, distributed: true });

const freeze = <T extends object>(o: T): T => Object.freeze(o);

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

/**
 * Whether `p`'s output already puts all rows with equal values of columns `keys` in one task: an exchange below
 * (seen through windows, filters and column-preserving projections) hashed on a subset of those keys, or
 * gathering everything in one task. Stacked windows over the same partitioning then need no second shuffle.
 */
function coPartitioned(p: PhysicalPlan, keys: readonly number[]): boolean {
  switch (p.kind) {
    case 'exchange': {
      const part = p.partitioning;
      if (part.kind === 'single') return true;
      return part.kind === 'hash' && part.keys.length > 0 && part.keys.every((k) => keys.includes(k));
    }
    case 'window':
    case 'filter':
      // Input columns keep their positions.
      return coPartitioned(p.input, keys);
    case 'project': {
      const below: number[] = [];
      for (const k of keys) {
        const e = p.exprs[k];
        const c = e?.kind === 'alias' ? e.input : e;
        if (c?.kind !== 'column' || c.index === undefined) return false;
        below.push(c.index);
      }
      return coPartitioned(p.input, below);
    }
    default:
      return false;
  }
}

function project(input: PhysicalPlan, exprs: readonly Expr[]): PhysicalPlan {
  return freeze({ kind: 'project', input, exprs: freeze([...exprs]) });
}

export function createPhysicalPlan(plan: LogicalPlan, options: PhysicalPlannerOptions = LOCAL_PLANNING): PhysicalPlan {
  return new Planner(options).plan(plan);
}

class Planner {
  private readonly sizes: SizeEstimates;
  constructor(private readonly o: PhysicalPlannerOptions) {
    this.sizes = new SizeEstimates(o.stats);
  }

  /**
   * A model in its own stage on its worker kind: for a cluster, a round-robin exchange ends the CPU stage below
   * (so preprocessing and inference are separate stages connected through the shuffle), and on GPU workers a
   * second one after it keeps the CPU work above off the GPU.
   */
  private applyModel(p: Extract<LogicalPlan, { kind: 'apply_model' }>): PhysicalPlan {
    const s = planSchema(p.input);
    const workerKind = modelWorkerKind(p.model, this.o.inference);
    let input = this.plan(p.input);
    const partitions = this.o.inference?.partitions ?? this.partitionsFor(this.sizes.bytes(p.input));
    if (this.o.distributed) input = freeze({ kind: 'exchange', input, partitioning: { kind: 'round_robin', partitions } });
    const inputs = p.inputs.map((e) => named(bindExpr(e, s), outputName(e)));
    let node: PhysicalPlan = freeze({ kind: 'apply_model', input, model: p.model, workerKind, inputs: freeze(inputs), outputs: p.outputs });
    if (this.o.distributed && workerKind === 'container-gpu') node = freeze({ kind: 'exchange', input: node, partitioning: { kind: 'round_robin', partitions } });
    return node;
  }

  /** Partitions for a shuffle of `bytes` estimated bytes. */
  private partitionsFor(bytes: number): number {
    return Math.max(1, Math.min(this.o.maxPartitions, Math.ceil(bytes / this.o.targetBytesPerTask)));
  }

  plan(p: LogicalPlan): PhysicalPlan {
    switch (p.kind) {
      case 'scan': {
        if (p.source.format === 'memory') {
          const scan: PhysicalPlan = freeze({ kind: 'memory_scan', id: p.source.id, schema: p.schema });
          if (p.projection === null) return scan;
          return project(scan, p.projection.map((n) => bindExpr({ kind: 'column', name: n }, p.schema)));
        }
        return freeze({ kind: 'file_scan', source: p.source, fileSchema: p.schema, projection: p.projection, filters: p.filters });
      }
      case 'alias':
        // Aliases only requalify names.
        return this.plan(p.input);
      case 'apply_model':
        return this.applyModel(p);
      case 'repartition': {
        const input = this.plan(p.input);
        if (!this.o.distributed) return input;
        const s = planSchema(p.input);
        if (p.keys.length === 0) return freeze({ kind: 'exchange', input, partitioning: { kind: 'round_robin', partitions: p.numPartitions } });
        const keys = p.keys.map((k) => bindExpr(k, s));
        const widened = project(input, [...columnsOf(s), ...keys.map((k, i) => alias(k, `__part${i}`))]);
        const exchanged: PhysicalPlan = freeze({
          kind: 'exchange',
          input: widened,
          partitioning: { kind: 'hash', keys: keys.map((_, i) => s.fields.length + i), partitions: p.numPartitions },
        });
        return project(exchanged, columnsOf(s));
      }
      case 'project': {
        const input = planSchema(p.input);
        return project(this.plan(p.input), p.exprs.map((e) => named(bindExpr(e, input), outputName(e))));
      }
      case 'filter': {
        const input = planSchema(p.input);
        return freeze({ kind: 'filter', input: this.plan(p.input), condition: bindExpr(p.condition, input) });
      }
      case 'aggregate':
        return this.aggregate(p);
      case 'window':
        return this.window(p);
      case 'join':
        return this.join(p);
      case 'sort':
        return this.sort(p, null);
      case 'limit': {
        if (p.input.kind === 'sort' && p.limit !== null) {
          // Top-k: the sort keeps only limit + offset rows.
          const sorted = this.sort(p.input, p.limit + p.offset);
          return p.offset ? freeze({ kind: 'limit', input: sorted, limit: p.limit, offset: p.offset }) : sorted;
        }
        let input = this.plan(p.input);
        if (this.o.distributed) {
          // Each task stops after limit + offset rows; one task applies the offset and the limit.
          if (p.limit !== null) input = freeze({ kind: 'limit', input, limit: p.limit + p.offset, offset: 0 });
          input = freeze({ kind: 'exchange', input, partitioning: { kind: 'single' } });
        }
        return freeze({ kind: 'limit', input, limit: p.limit, offset: p.offset });
      }
      case 'distinct': {
        const input = this.plan(p.input);
        const keys = physicalSchema(input).fields.map((_, i) => i);
        return this.groupedAggregate(input, keys, [], this.sizes.bytes(p.input));
      }
      case 'union': {
        const out = planSchema(p);
        const inputs = p.inputs.map((i) => {
          const s = planSchema(i);
          let op = this.plan(i);
          const exprs = out.fields.map((f, k) => {
            const idx = p.byName ? resolveField(s, f.name) : k;
            const col = boundColumn(idx, s.fields[idx]!.name);
            return named(typeEquals(s.fields[idx]!.type, f.type) ? col : cast(col, f.type), f.name);
          });
          const identity = exprs.every((e, k) => e.kind === 'column' && e.index === k) && exprs.length === s.fields.length;
          if (!identity) op = project(op, exprs);
          // Union is narrow in one process; across tasks each input is spread over the union's partitions.
          if (this.o.distributed) {
            op = freeze({ kind: 'exchange', input: op, partitioning: { kind: 'round_robin', partitions: this.partitionsFor(this.sizes.bytes(p)) } });
          }
          return op;
        });
        return freeze({ kind: 'union', inputs });
      }
    }
  }

  /** Aggregate over key columns `keys` of `input`: one step locally, partial → hash exchange → final across tasks. */
  private groupedAggregate(input: PhysicalPlan, keys: readonly number[], aggs: readonly PhysicalAggregate[], bytes: number): PhysicalPlan {
    if (!this.o.distributed) return freeze({ kind: 'hash_aggregate', input, groupKeys: keys, aggregates: aggs, mode: 'single' });
    const partitioning =
      keys.length === 0
        ? ({ kind: 'single' } as const)
        : ({ kind: 'hash', keys: keys.map((_, i) => i), partitions: this.partitionsFor(bytes) } as const);
    if (aggs.some((a) => a.fn === 'count_distinct')) {
      // Distinct counts cannot merge partial states: move whole groups to one task first.
      const moved: PhysicalPlan = freeze({
        kind: 'exchange',
        input,
        partitioning: keys.length === 0 ? { kind: 'single' } : { kind: 'hash', keys, partitions: this.partitionsFor(bytes) },
      });
      return freeze({ kind: 'hash_aggregate', input: moved, groupKeys: keys, aggregates: aggs, mode: 'single' });
    }
    const partial: PhysicalPlan = freeze({ kind: 'hash_aggregate', input, groupKeys: keys, aggregates: aggs, mode: 'partial' });
    const exchanged: PhysicalPlan = freeze({ kind: 'exchange', input: partial, partitioning });
    // In the partial output, aggregate k's state starts after the keys and the states before it.
    let at = keys.length;
    const finals = aggs.map((a) => {
      const f: PhysicalAggregate = { fn: a.fn, input: at, name: a.name };
      at += partialStateWidth(a.fn);
      return f;
    });
    return freeze({ kind: 'hash_aggregate', input: exchanged, groupKeys: keys.map((_, i) => i), aggregates: finals, mode: 'final' });
  }

  private aggregate(p: Extract<LogicalPlan, { kind: 'aggregate' }>): PhysicalPlan {
    const inSchema = planSchema(p.input);
    const groupExprs = p.groupBy.map((g) => bindExpr(stripAlias(g), inSchema));
    // Distinct aggregate calls, in order of appearance.
    const calls: Extract<Expr, { kind: 'aggregate' }>[] = [];
    const callIndex = new Map<string, number>();
    for (const a of p.aggregates) {
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
    const specs: PhysicalAggregate[] = calls.map((c, k) => {
      if (c.args.length > 1) throw new UnsupportedError(`${c.fn} takes at most one argument, got ${c.args.length}`);
      if (c.args.length === 0) {
        if (c.fn !== 'count') throw new AnalysisError(`${c.fn}() needs an argument`);
        return { fn: c.fn, input: null, name: `__agg${k}` };
      }
      pre.push(alias(bindExpr(c.args[0]!, inSchema), `__a${k}`));
      return { fn: c.fn, input: pre.length - 1, name: `__agg${k}` };
    });
    const agg = this.groupedAggregate(project(this.plan(p.input), pre), groupExprs.map((_, i) => i), specs, this.sizes.bytes(p.input));
    // Post-projection: group-key subexpressions and aggregate calls become columns of the aggregate's output.
    const groupKeys = new Map(p.groupBy.map((g, i) => [exprKey(stripAlias(g), inSchema), i]));
    const g = groupExprs.length;
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
      // Top-down, one level at a time, so group-key subexpressions match before their parts do.
      const kids = childrenOf(e);
      const next = kids.map(rewrite);
      return next.some((k, i) => k !== kids[i]) ? withKids(e, next) : e;
    };
    return project(agg, p.aggregates.map((a) => named(rewrite(a), outputName(a))));
  }

  /**
   * Window functions: computed partition keys, order keys and arguments become columns appended to the input
   * (as aggregates pre-project theirs); across tasks a hash exchange on the partition keys brings each
   * partition to one task (everything to one task without PARTITION BY). A projection drops the helper columns.
   */
  private window(p: Extract<LogicalPlan, { kind: 'window' }>): PhysicalPlan {
    const inSchema = planSchema(p.input);
    const width = inSchema.fields.length;
    const extra: Expr[] = [];
    const columnFor = (e: Expr, name: string): number => {
      const b = bindExpr(e, inSchema);
      if (b.kind === 'column') return b.index!;
      extra.push(alias(b, name));
      return width + extra.length - 1;
    };
    const windows = p.functions.map((f) => {
      if (f.kind !== 'alias' || f.input.kind !== 'window') throw new AnalysisError(`internal: Window node function ${outputName(f)} is not a named window expression`);
      return { name: f.name, w: f.input };
    });
    const spec = windows[0]!.w;
    const partitionKeys = spec.partitionBy.map((k, i) => columnFor(k, `__wp${i}`));
    const orderKeys: PhysicalSortKey[] = spec.orderBy.map((o, i) => ({ index: columnFor(o.expr, `__wo${i}`), ascending: o.ascending, nullsFirst: o.nullsFirst }));
    const functions: WindowFunctionSpec[] = windows.map(({ name, w }, k) => {
      if (w.args.length > 1) throw new UnsupportedError(`window ${w.fn}() takes at most one argument, got ${w.args.length}`);
      return { fn: w.fn, input: w.args.length ? columnFor(w.args[0]!, `__wa${k}`) : null, frame: w.frame, name };
    });
    let input = this.plan(p.input);
    if (extra.length) input = project(input, [...columnsOf(inSchema), ...extra]);
    if (this.o.distributed && !coPartitioned(input, partitionKeys)) {
      const partitioning =
        partitionKeys.length === 0
          ? ({ kind: 'single' } as const)
          : ({ kind: 'hash', keys: partitionKeys, partitions: this.partitionsFor(this.sizes.bytes(p.input)) } as const);
      input = freeze({ kind: 'exchange', input, partitioning });
    }
    const node: PhysicalPlan = freeze({ kind: 'window', input, partitionKeys, orderKeys, functions });
    if (!extra.length) return node;
    const wide = width + extra.length;
    return project(node, [...columnsOf(inSchema), ...functions.map((f, k) => boundColumn(wide + k, f.name))]);
  }

  private sort(p: Extract<LogicalPlan, { kind: 'sort' }>, limit: number | null): PhysicalPlan {
    const inSchema = planSchema(p.input);
    const width = inSchema.fields.length;
    const extra: Expr[] = [];
    const keys: PhysicalSortKey[] = p.orders.map((o, i) => {
      const e = bindExpr(o.expr, inSchema);
      if (e.kind === 'column') return { index: e.index!, ascending: o.ascending, nullsFirst: o.nullsFirst };
      extra.push(alias(e, `__sort${i}`));
      return { index: width + extra.length - 1, ascending: o.ascending, nullsFirst: o.nullsFirst };
    });
    let input = this.plan(p.input);
    if (extra.length) input = project(input, [...columnsOf(inSchema), ...extra]);
    let sorted: PhysicalPlan;
    if (!this.o.distributed) {
      sorted = freeze({ kind: 'sort', input, keys, limit });
    } else if (limit !== null) {
      // Top-k: every task keeps its own k best, one task merges them.
      const local: PhysicalPlan = freeze({ kind: 'sort', input, keys, limit });
      const gathered: PhysicalPlan = freeze({ kind: 'exchange', input: local, partitioning: { kind: 'single' } });
      sorted = freeze({ kind: 'sort', input: gathered, keys, limit });
    } else {
      const partitions = this.partitionsFor(this.sizes.bytes(p.input));
      const exchanged: PhysicalPlan = freeze({ kind: 'exchange', input, partitioning: { kind: 'range', keys, partitions } });
      sorted = freeze({ kind: 'sort', input: exchanged, keys, limit: null });
    }
    return extra.length ? project(sorted, columnsOf(inSchema)) : sorted;
  }

  private join(p: Extract<LogicalPlan, { kind: 'join' }>): PhysicalPlan {
    const ls = planSchema(p.left);
    const rs = planSchema(p.right);
    const lw = ls.fields.length;
    const combined = makeSchema([...ls.fields, ...rs.fields]);
    const leftKeys: Expr[] = [];
    const rightKeys: Expr[] = [];
    const residual: Expr[] = [];
    for (const name of p.using) {
      const li = resolveField(ls, name);
      const ri = resolveField(rs, name);
      leftKeys.push(boundColumn(li, ls.fields[li]!.name));
      rightKeys.push(boundColumn(ri, rs.fields[ri]!.name));
    }
    if (p.on) {
      for (const c of splitConjuncts(bindExpr(p.on, combined))) {
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
    let left = this.plan(p.left);
    let right = this.plan(p.right);
    if (leftExtra.length) left = project(left, [...columnsOf(ls), ...leftExtra]);
    if (rightExtra.length) right = project(right, [...columnsOf(rs), ...rightExtra]);
    const lwide = lw + leftExtra.length;
    // The residual is evaluated over the widened combined schema: shift right-side references past the left extras.
    const residualExpr = residual.length
      ? residual
          .map((c) => transformUp(c, (n) => (n.kind === 'column' && n.index! >= lw ? boundColumn(n.index! + leftExtra.length, n.name) : n)))
          .reduce((a, b) => binary('and', a, b))
      : null;
    if (this.o.distributed) [left, right] = this.exchangeJoinInputs(p, left, right, lk, rk);
    const join: PhysicalPlan = freeze({
      kind: 'hash_join',
      left,
      right,
      joinType: p.joinType,
      leftKeys: lk,
      rightKeys: rk,
      residual: residualExpr,
      buildSide: 'right',
    });
    // Output: what the logical join's schema says, in its order.
    const out: Expr[] = [];
    const usingLeft = new Set<number>();
    const usingRight = new Set<number>();
    const semi = p.joinType === 'semi' || p.joinType === 'anti';
    p.using.forEach((name) => {
      const li = resolveField(ls, name);
      const ri = resolveField(rs, name);
      usingLeft.add(li);
      usingRight.add(ri);
      if (semi) return;
      const t = ls.fields[li]!.type;
      const rt = rs.fields[ri]!.type;
      const common = typeEquals(t, rt) ? t : commonType(t, rt)!;
      const lcol = typeEquals(t, common) ? boundColumn(li, name) : cast(boundColumn(li, name), common);
      const rcol = typeEquals(rt, common) ? boundColumn(lwide + ri, name) : cast(boundColumn(lwide + ri, name), common);
      const key = p.joinType === 'full' ? call('coalesce', [lcol, rcol]) : p.joinType === 'right' ? rcol : lcol;
      out.push(named(key, ls.fields[li]!.name));
    });
    if (semi) return leftExtra.length === 0 ? join : project(join, columnsOf(ls));
    ls.fields.forEach((f, i) => {
      if (!usingLeft.has(i)) out.push(boundColumn(i, f.name));
    });
    rs.fields.forEach((f, i) => {
      if (!usingRight.has(i)) out.push(boundColumn(lwide + i, f.name));
    });
    const width = physicalSchema(join).fields.length;
    const identity = out.length === width && out.every((e, i) => e.kind === 'column' && e.index === i);
    return identity ? join : project(join, out);
  }

  /** Broadcast the build (right) side when the optimizer chose it (select_join_strategy, from size estimates)
   * and the join type allows it, or when there are no keys to hash by; else hash both sides. */
  private exchangeJoinInputs(
    p: Extract<LogicalPlan, { kind: 'join' }>,
    left: PhysicalPlan,
    right: PhysicalPlan,
    lk: readonly number[],
    rk: readonly number[],
  ): [PhysicalPlan, PhysicalPlan] {
    // Unmatched build rows of right/full joins would be emitted by every task if the build side were broadcast.
    const canBroadcast = p.joinType !== 'right' && p.joinType !== 'full';
    if (lk.length === 0 && !canBroadcast) {
      // A non-equi right/full join: both sides meet in one task.
      return [
        freeze({ kind: 'exchange', input: left, partitioning: { kind: 'single' } }),
        freeze({ kind: 'exchange', input: right, partitioning: { kind: 'single' } }),
      ];
    }
    const broadcast = canBroadcast && (lk.length === 0 || p.strategy === 'broadcast');
    if (broadcast) return [left, freeze({ kind: 'exchange', input: right, partitioning: { kind: 'broadcast' } })];
    const partitions = this.partitionsFor(Math.max(this.sizes.bytes(p.left), this.sizes.bytes(p.right)));
    return [
      freeze({ kind: 'exchange', input: left, partitioning: { kind: 'hash', keys: lk, partitions } }),
      freeze({ kind: 'exchange', input: right, partitioning: { kind: 'hash', keys: rk, partitions } }),
    ];
  }
}
