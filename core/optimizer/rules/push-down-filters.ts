// pushDownFilters: moves each conjunct of a filter as close to the data as its columns allow — through
// projections (substituting the projected expressions), sorts, distincts, aliases, repartitions, unions (into
// every input), aggregates (conjuncts on group keys only), windows (conjuncts on plain partition-key columns
// only), and joins (to the input whose columns a conjunct uses, respecting outer-join semantics; conjuncts
// over both inputs of an inner join join its condition). Join
// conditions are pushed too: an inner join's one-sided conjuncts go to that side, an outer join's only to its
// null-extended side. Filters stop at scans and limits (pushFiltersIntoScans takes it from there).
import { type Expr, cast, containsAggregate } from '../../expr/expr.ts';
import { typeEquals } from '../../types/data-type.ts';
import { type Schema, resolveField, schema as makeSchema } from '../../types/schema.ts';
import { type LogicalPlan, planInputs, withInputs } from '../../plan/logical-plan.ts';
import { planSchema, stripAlias } from '../../plan/analyzer.ts';
import { columnIndices, conjunction, hasColumns, referenceTo, rewriteColumns, splitConjuncts } from '../plan-utils.ts';
import { joinOrigins } from '../join-origins.ts';

type JoinNode = Extract<LogicalPlan, { kind: 'join' }>;

function filterOver(conds: readonly Expr[], input: LogicalPlan): LogicalPlan {
  const condition = conjunction(conds);
  return condition ? Object.freeze({ kind: 'filter', input, condition }) : input;
}

/** A reference to field `i` of `to`, cast to `type` where the field's own type differs. */
function refAs(to: Schema, i: number, type: Schema['fields'][number]['type']): Expr | null {
  const ref = referenceTo(to, i);
  if (!ref) return null;
  return typeEquals(to.fields[i]!.type, type) ? ref : cast(ref, type);
}

/** `conds` applied on top of `plan`, each pushed as far down as it can go. */
function push(conds: readonly Expr[], plan: LogicalPlan): LogicalPlan {
  if (conds.length === 0) return plan;
  switch (plan.kind) {
    case 'filter':
      return push([...splitConjuncts(plan.condition), ...conds], plan.input);
    case 'sort':
    case 'distinct':
    case 'repartition':
      // Same schema below; filtering commutes with ordering, deduplication and partitioning.
      return withInputs(plan, [push(conds, plan.input)]);
    case 'alias': {
      const from = planSchema(plan);
      const to = planSchema(plan.input);
      return pushMapped(conds, plan.input, (c) => rewriteColumns(c, from, (i) => referenceTo(to, i)), (below) => withInputs(plan, [below]));
    }
    case 'project': {
      const from = planSchema(plan);
      return pushMapped(conds, plan.input, (c) => rewriteColumns(c, from, (i) => stripAlias(plan.exprs[i]!)), (below) => withInputs(plan, [below]));
    }
    case 'aggregate': {
      // Over a global aggregate even a constant condition must stay above (it yields a row on empty input).
      if (plan.groupBy.length === 0) return filterOver(conds, plan);
      const from = planSchema(plan);
      const byKey = (i: number): Expr | null => {
        const e = stripAlias(plan.aggregates[i]!);
        return containsAggregate(e) ? null : e;
      };
      return pushMapped(conds, plan.input, (c) => rewriteColumns(c, from, byKey), (below) => withInputs(plan, [below]));
    }
    case 'window': {
      // Rows of a partition are kept or dropped together by a conjunct over partition keys only, so each
      // partition's window results stay the same; any other conjunct would change them.
      const from = planSchema(plan);
      const to = planSchema(plan.input);
      const keys = partitionKeyColumns(plan, to);
      return pushMapped(
        conds,
        plan.input,
        (c) => rewriteColumns(c, from, (i) => (keys.has(i) ? referenceTo(to, i) : null)),
        (below) => withInputs(plan, [below]),
      );
    }
    case 'apply_model': {
      // Conjuncts over the input's columns only go below the model, so fewer rows reach inference; conjuncts
      // over the model's outputs stay above.
      const from = planSchema(plan);
      const to = planSchema(plan.input);
      return pushMapped(
        conds,
        plan.input,
        (c) => rewriteColumns(c, from, (i) => (i < to.fields.length ? referenceTo(to, i) : null)),
        (below) => withInputs(plan, [below]),
      );
    }
    case 'union':
      return pushUnion(conds, plan);
    case 'join':
      return pushJoin(conds, plan);
    case 'scan':
    case 'limit':
      return filterOver(conds, plan);
  }
}

/** Input positions of a window node's partition keys that are plain columns. */
function partitionKeyColumns(plan: Extract<LogicalPlan, { kind: 'window' }>, input: Schema): Set<number> {
  const out = new Set<number>();
  const first = plan.functions[0];
  if (first?.kind !== 'alias' || first.input.kind !== 'window') return out;
  for (const k of first.input.partitionBy) {
    if (k.kind !== 'column') continue;
    const idx = columnIndices(k, input);
    if (idx && idx.size === 1) out.add([...idx][0]!);
  }
  return out;
}

/** Pushes each conjunct that `map` can restate below the node (into `input`); the rest stay above. */
function pushMapped(
  conds: readonly Expr[],
  input: LogicalPlan,
  map: (c: Expr) => Expr | null,
  rebuild: (below: LogicalPlan) => LogicalPlan,
): LogicalPlan {
  const below: Expr[] = [];
  const above: Expr[] = [];
  for (const c of conds) {
    const m = map(c);
    if (m) below.push(m);
    else above.push(c);
  }
  if (below.length === 0) return filterOver(above, rebuild(input));
  return filterOver(above, rebuild(push(below, input)));
}

function pushUnion(conds: readonly Expr[], plan: Extract<LogicalPlan, { kind: 'union' }>): LogicalPlan {
  const out = planSchema(plan);
  const perInput: Expr[][] = plan.inputs.map(() => []);
  const above: Expr[] = [];
  for (const c of conds) {
    const mapped = plan.inputs.map((input) => {
      const s = planSchema(input);
      return rewriteColumns(c, out, (i) => {
        const f = out.fields[i]!;
        let j = i;
        if (plan.byName) {
          try {
            j = resolveField(s, f.name);
          } catch {
            return null;
          }
        }
        return refAs(s, j, f.type);
      });
    });
    if (mapped.every((m) => m !== null)) mapped.forEach((m, k) => perInput[k]!.push(m!));
    else above.push(c);
  }
  if (perInput[0]!.length === 0) return filterOver(above, plan);
  return filterOver(above, withInputs(plan, plan.inputs.map((input, k) => push(perInput[k]!, input))));
}

type Side = 'left' | 'right';

/** Restates a conjunct over the join's output on one input; null when it uses a column that input lacks. */
function toSide(c: Expr, join: JoinNode, side: Side): Expr | null {
  const origins = joinOrigins(join);
  const out = planSchema(join);
  const target = planSchema(side === 'left' ? join.left : join.right);
  return rewriteColumns(c, out, (i) => {
    const o = origins[i];
    if (!o) return null;
    if (o.side === 'both') return refAs(target, side === 'left' ? o.left : o.right, out.fields[i]!.type);
    if (o.side !== side) return null;
    return refAs(target, o.index, out.fields[i]!.type);
  });
}

/** Restates a conjunct over the join's output on the combined input schema (for the join condition). */
function toCombined(c: Expr, join: JoinNode, combined: Schema): Expr | null {
  const origins = joinOrigins(join);
  const out = planSchema(join);
  const lw = planSchema(join.left).fields.length;
  return rewriteColumns(c, out, (i) => {
    const o = origins[i];
    if (!o) return null;
    const k = o.side === 'both' ? o.left : o.side === 'left' ? o.index : lw + o.index;
    return refAs(combined, k, out.fields[i]!.type);
  });
}

/** Which sides a filter above a join of this type may push to. */
function filterTargets(t: JoinNode['joinType']): { left: boolean; right: boolean; condition: boolean } {
  switch (t) {
    case 'inner':
    case 'cross':
      return { left: true, right: true, condition: true };
    case 'left':
    case 'semi':
    case 'anti':
      return { left: true, right: false, condition: false };
    case 'right':
      return { left: false, right: true, condition: false };
    case 'full':
      return { left: false, right: false, condition: false };
  }
}

/** Which sides one-sided join-condition conjuncts may move to: a join condition only restricts which rows
 * match, so it can filter an input whose unmatched rows are dropped, never one whose rows are preserved. */
function conditionTargets(t: JoinNode['joinType']): { left: boolean; right: boolean } {
  switch (t) {
    case 'inner':
    case 'cross':
    case 'semi':
      return { left: true, right: true };
    case 'left':
    case 'anti':
      return { left: false, right: true };
    case 'right':
      return { left: true, right: false };
    case 'full':
      return { left: false, right: false };
  }
}

function pushJoin(conds: readonly Expr[], join: JoinNode): LogicalPlan {
  const targets = filterTargets(join.joinType);
  const ls = planSchema(join.left);
  const rs = planSchema(join.right);
  const combined = makeSchema([...ls.fields, ...rs.fields]);
  const left: Expr[] = [];
  const right: Expr[] = [];
  const condition: Expr[] = [];
  const above: Expr[] = [];
  for (const c of conds) {
    if (!hasColumns(c)) {
      above.push(c);
      continue;
    }
    const l = targets.left ? toSide(c, join, 'left') : null;
    const r = targets.right ? toSide(c, join, 'right') : null;
    if (l) left.push(l);
    if (r) right.push(r);
    if (l || r) continue;
    const j = targets.condition ? toCombined(c, join, combined) : null;
    if (j) condition.push(j);
    else above.push(c);
  }
  let next: JoinNode = join;
  if (condition.length) {
    const on = conjunction([...(join.on ? splitConjuncts(join.on) : []), ...condition]);
    next = Object.freeze({ ...join, joinType: 'inner', on });
  }
  return filterOver(above, pushJoinCondition(next, left, right));
}

/** Pushes the join condition's one-sided conjuncts (and `left`/`right` from a filter above) into the inputs. */
function pushJoinCondition(join: JoinNode, left: Expr[] = [], right: Expr[] = []): LogicalPlan {
  const targets = conditionTargets(join.joinType);
  let on = join.on;
  if (on && (targets.left || targets.right)) {
    const ls = planSchema(join.left);
    const rs = planSchema(join.right);
    const lw = ls.fields.length;
    const combined = makeSchema([...ls.fields, ...rs.fields]);
    const keep: Expr[] = [];
    for (const c of splitConjuncts(on)) {
      const idx = columnIndices(c, combined);
      if (!idx || idx.size === 0) {
        keep.push(c);
        continue;
      }
      const all = [...idx];
      const onlyLeft = all.every((i) => i < lw);
      const onlyRight = all.every((i) => i >= lw);
      const l = onlyLeft && targets.left ? rewriteColumns(c, combined, (i) => referenceTo(ls, i)) : null;
      const r = onlyRight && targets.right ? rewriteColumns(c, combined, (i) => referenceTo(rs, i - lw)) : null;
      if (l) left.push(l);
      else if (r) right.push(r);
      else keep.push(c);
    }
    on = conjunction(keep);
  }
  if (left.length === 0 && right.length === 0 && on === join.on) return join;
  const newLeft = push(left, join.left);
  const newRight = push(right, join.right);
  let out: JoinNode = Object.freeze({ ...join, left: newLeft, right: newRight, on });
  if (on === null && join.joinType === 'inner' && join.using.length === 0) out = Object.freeze({ ...out, joinType: 'cross' });
  return out;
}

function rewrite(plan: LogicalPlan): LogicalPlan {
  switch (plan.kind) {
    case 'filter':
      return push(splitConjuncts(plan.condition), rewrite(plan.input));
    case 'join': {
      const left = rewrite(plan.left);
      const right = rewrite(plan.right);
      const join = left === plan.left && right === plan.right ? plan : (withInputs(plan, [left, right]) as JoinNode);
      return pushJoinCondition(join);
    }
    default: {
      const inputs = [...planInputs(plan)];
      const next = inputs.map(rewrite);
      return next.some((n, i) => n !== inputs[i]) ? withInputs(plan, next) : plan;
    }
  }
}

export function pushDownFilters(plan: LogicalPlan): LogicalPlan {
  return rewrite(plan);
}
