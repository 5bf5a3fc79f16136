// reorderJoins: a chain of inner (and cross) joins is rebuilt greedily from estimated sizes. It starts from the
// largest relation (the probe side), then repeatedly joins the relation that gives the smallest estimated
// result among those a condition links to what is joined so far, so no cross join appears where the original
// had a linking condition. The smaller input of each join goes on the right, where the hash join builds its
// table. A projection on top restores the original column order. Chains with a relation of unknown size are
// left as they are.
import type { Expr } from '../../expr/expr.ts';
import { type Schema, schema as makeSchema } from '../../types/schema.ts';
import { type LogicalPlan, planInputs, withInputs } from '../../plan/logical-plan.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { type OptimizerContext, defaultOptimizerContext } from '../context.ts';
import { Estimator } from '../statistics.ts';
import { columnIndices, conjunction, referenceTo, rewriteColumns, splitConjuncts } from '../plan-utils.ts';

type JoinNode = Extract<LogicalPlan, { kind: 'join' }>;

interface Conjunct {
  /** The conjunct as written, over `schema` (the combined inputs of the join it came from). */
  readonly expr: Expr;
  readonly schema: Schema;
  /** Global position (over all leaves in original order) of the first field of `schema`. */
  readonly offset: number;
  readonly leaves: ReadonlySet<number>;
}

function isChainJoin(p: LogicalPlan): p is JoinNode {
  return p.kind === 'join' && (p.joinType === 'inner' || p.joinType === 'cross') && p.using.length === 0;
}

/** Leaves of the chain in left-to-right order and its conjuncts; null if a conjunct does not resolve. */
function flatten(root: JoinNode): { leaves: LogicalPlan[]; conjuncts: Conjunct[] } | null {
  const leaves: LogicalPlan[] = [];
  const leafStart: number[] = [];
  const pending: { expr: Expr; schema: Schema; offset: number }[] = [];
  let width = 0;
  const walk = (p: LogicalPlan): void => {
    if (!isChainJoin(p)) {
      leaves.push(p);
      leafStart.push(width);
      width += planSchema(p).fields.length;
      return;
    }
    const offset = width;
    walk(p.left);
    walk(p.right);
    if (p.on) {
      const s = makeSchema([...planSchema(p.left).fields, ...planSchema(p.right).fields]);
      for (const c of splitConjuncts(p.on)) pending.push({ expr: c, schema: s, offset });
    }
  };
  walk(root);
  const leafOf = (g: number) => {
    let i = leafStart.length - 1;
    while (leafStart[i]! > g) i--;
    return i;
  };
  const conjuncts: Conjunct[] = [];
  for (const c of pending) {
    const idx = columnIndices(c.expr, c.schema);
    if (!idx) return null;
    conjuncts.push({ ...c, leaves: new Set([...idx].map((i) => leafOf(c.offset + i))) });
  }
  return { leaves, conjuncts };
}

export function reorderJoins(plan: LogicalPlan, ctx: OptimizerContext = defaultOptimizerContext): LogicalPlan {
  const estimator = new Estimator(ctx.statistics);
  const visitPlan = (p: LogicalPlan): LogicalPlan => {
    if (isChainJoin(p)) return reorderChain(p, visitPlan, estimator);
    const inputs = planInputs(p);
    const next = inputs.map(visitPlan);
    return next.some((n, i) => n !== inputs[i]) ? withInputs(p, next) : p;
  };
  return visitPlan(plan);
}

function reorderChain(root: JoinNode, visitPlan: (p: LogicalPlan) => LogicalPlan, estimator: Estimator): LogicalPlan {
  const flat = flatten(root);
  if (!flat) return root;
  const leaves = flat.leaves.map(visitPlan);
  const rebuiltInPlace = () => rebuildSameShape(root, leaves);
  if (leaves.length < 2) return rebuiltInPlace();
  const rows = leaves.map((l) => estimator.rows(l));
  if (rows.some((r) => r === undefined)) return rebuiltInPlace();

  // Global field positions of each leaf in the original order.
  const starts: number[] = [];
  let w = 0;
  for (const l of leaves) {
    starts.push(w);
    w += planSchema(l).fields.length;
  }

  const placed = new Set<number>();
  const used = new Set<Conjunct>();
  let first = 0;
  rows.forEach((r, i) => {
    if (r! > rows[first]!) first = i;
  });
  // `order` lists leaves in the field order of `current`'s output.
  let current: LogicalPlan = leaves[first]!;
  let order = [first];
  placed.add(first);

  const build = (left: LogicalPlan, leftOrder: number[], right: LogicalPlan, rightOrder: number[], conds: Conjunct[]): JoinNode | null => {
    const combinedOrder = [...leftOrder, ...rightOrder];
    const combined = makeSchema([...planSchema(left).fields, ...planSchema(right).fields]);
    const on: Expr[] = [];
    for (const c of conds) {
      const e = rewriteColumns(c.expr, c.schema, (i) => {
        const g = c.offset + i;
        const pos = positionIn(combinedOrder, g, starts, leaves);
        return pos === null ? null : referenceTo(combined, pos);
      });
      if (!e) return null;
      on.push(e);
    }
    const condition = conjunction(on);
    return Object.freeze({ kind: 'join', left, right, joinType: condition ? 'inner' : 'cross', on: condition, using: Object.freeze([]) });
  };

  while (placed.size < leaves.length) {
    const linked = (j: number) =>
      flat.conjuncts.some((c) => !used.has(c) && c.leaves.has(j) && [...c.leaves].some((l) => placed.has(l)) && [...c.leaves].every((l) => l === j || placed.has(l)));
    let candidates = leaves.map((_, j) => j).filter((j) => !placed.has(j) && linked(j));
    // Only relations the original joined without any condition are joined by a cross join.
    if (candidates.length === 0) candidates = leaves.map((_, j) => j).filter((j) => !placed.has(j));
    let best: { j: number; node: JoinNode; order: number[]; rows: number; conds: Conjunct[] } | null = null;
    for (const j of candidates) {
      const conds = flat.conjuncts.filter((c) => !used.has(c) && [...c.leaves].every((l) => l === j || placed.has(l)) && c.leaves.size > 0);
      // The smaller input goes on the right (the build side).
      const swap = rows[j]! > (estimator.rows(current) ?? Infinity);
      const node = swap ? build(leaves[j]!, [j], current, order, conds) : build(current, order, leaves[j]!, [j], conds);
      if (!node) return rebuiltInPlace();
      const est = estimator.rows(node) ?? Infinity;
      if (!best || est < best.rows) best = { j, node, order: swap ? [j, ...order] : [...order, j], rows: est, conds };
    }
    current = best!.node;
    order = best!.order;
    placed.add(best!.j);
    for (const c of best!.conds) used.add(c);
  }
  // Restore the original column order.
  const out = planSchema(root);
  const now = planSchema(current);
  const exprs: Expr[] = [];
  let identity = true;
  for (let g = 0; g < out.fields.length; g++) {
    const pos = positionIn(order, g, starts, leaves)!;
    if (pos !== g) identity = false;
    const ref = referenceTo(now, pos);
    if (!ref) return rebuiltInPlace();
    exprs.push(ref);
  }
  let result: LogicalPlan = identity ? current : Object.freeze({ kind: 'project', input: current, exprs: Object.freeze(exprs) });
  // Conjuncts over no relation at all (constants) filter the result.
  const constant = conjunction(flat.conjuncts.filter((c) => !used.has(c)).map((c) => c.expr));
  if (constant) result = Object.freeze({ kind: 'filter', input: result, condition: constant });
  return result;
}

/** Position of global field `g` in the output of leaves concatenated in `order`; null if its leaf is absent. */
function positionIn(order: readonly number[], g: number, starts: readonly number[], leaves: readonly LogicalPlan[]): number | null {
  let pos = 0;
  for (const l of order) {
    const width = planSchema(leaves[l]!).fields.length;
    if (g >= starts[l]! && g < starts[l]! + width) return pos + (g - starts[l]!);
    pos += width;
  }
  return null;
}

/** The original join tree with (possibly rewritten) leaves put back in place. */
function rebuildSameShape(root: JoinNode, leaves: readonly LogicalPlan[]): LogicalPlan {
  let k = 0;
  const put = (p: LogicalPlan): LogicalPlan => {
    if (!isChainJoin(p)) return leaves[k++]!;
    const l = put(p.left);
    const r = put(p.right);
    return l === p.left && r === p.right ? p : withInputs(p, [l, r]);
  };
  return put(root);
}
