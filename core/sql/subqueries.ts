// Subqueries in expressions, turned into joins (decorrelation, as Spark's RewritePredicateSubquery and
// RewriteCorrelatedScalarSubquery):
// - EXISTS / NOT EXISTS → semi / anti join on the correlation predicates; uncorrelated, a one-row flag.
// - x IN (subquery) → semi join on x = value AND the correlation predicates.
// - x NOT IN (subquery) → anti join on x = value, plus a one-row (count, non-null count) side table so that a
//   NULL in the subquery or in x makes the predicate non-TRUE, as SQL's three-valued logic requires.
// - scalar subquery → cross join with its single row; correlated (equality predicates, aggregate select) →
//   left join with the aggregate grouped by the correlation keys, with a marker column for aggregates that are
//   not NULL on no rows (the "count bug").
// Each translation registers a pending join; the query block applies them to the plan the expression is
// evaluated over, then evaluates the expression, in which the subquery is now a column.
import * as E from '../expr/expr.ts';
import type { Expr } from '../expr/expr.ts';
import { nullableOf } from '../expr/type-of.ts';
import { planSchema } from '../plan/analyzer.ts';
import type { JoinType, LogicalPlan } from '../plan/logical-plan.ts';
import { DataTypes } from '../types/data-type.ts';
import { type SqlNode, functionArgs, functionName, isSubquery } from './ast.ts';
import type { QueryEnv, Scope } from './context.ts';
import { type ExprEnv, type SubqueryHandler, toExpr } from './expressions.ts';
import { aliasPlan } from './from.ts';
import { andAll } from './join-order.ts';
import { translateQueryResult } from './query.ts';
import { type SelectResult, translateSelect } from './select.ts';

/** A subquery predicate that is a whole WHERE conjunct (possibly under NOT). */
export interface PredicateSubquery {
  readonly kind: 'exists' | 'in';
  readonly sub: SqlNode;
  readonly input: SqlNode | null;
  readonly negated: boolean;
  readonly node: SqlNode;
}

export function predicateSubquery(node: SqlNode): PredicateSubquery | null {
  let negated = false;
  let n = node;
  for (;;) {
    if (n?.type === 'unary_expr' && String(n.operator).toUpperCase() === 'NOT') n = n.expr;
    else if (n?.type === 'function' && functionName(n) === 'not' && functionArgs(n).length === 1) n = functionArgs(n)[0];
    else break;
    negated = !negated;
  }
  if (n?.type === 'unary_expr' && String(n.operator).toUpperCase() === 'NOT EXISTS') {
    return { kind: 'exists', sub: n.expr, input: null, negated: !negated, node };
  }
  if (n?.type === 'function' && functionName(n) === 'exists' && functionArgs(n).length === 1 && isSubquery(functionArgs(n)[0])) {
    return { kind: 'exists', sub: functionArgs(n)[0], input: null, negated, node };
  }
  if (n?.type === 'binary_expr') {
    const op = String(n.operator).toUpperCase();
    const items = n.right?.type === 'expr_list' ? (Array.isArray(n.right.value) ? n.right.value : [n.right.value]) : [];
    if ((op === 'IN' || op === 'NOT IN') && items.length === 1 && isSubquery(items[0])) {
      return { kind: 'in', sub: items[0], input: n.left, negated: negated !== (op === 'NOT IN'), node };
    }
  }
  return null;
}

function join(left: LogicalPlan, right: LogicalPlan, joinType: JoinType, on: Expr | null): LogicalPlan {
  return Object.freeze({ kind: 'join', left, right, joinType, on, using: Object.freeze([]) });
}

export class SubqueryTranslator implements SubqueryHandler {
  private pending: ((plan: LogicalPlan) => LogicalPlan)[] = [];
  /** Why correlated subqueries cannot be used here (e.g. after aggregation), or null when they can. */
  correlatedNotAllowed: string | null = null;

  constructor(
    private readonly env: QueryEnv,
    private readonly scope: Scope,
  ) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Applies the joins registered so far to `plan`. */
  flush(plan: LogicalPlan): LogicalPlan {
    let out = plan;
    for (const f of this.pending) out = f(out);
    this.pending = [];
    return out;
  }

  private translate(node: SqlNode, mode: 'scalar' | 'exists' | 'in', valueNames?: readonly string[]): { result: SelectResult; alias: string } {
    const ast = node.ast;
    const alias = this.env.ctx.fresh('sq');
    const env: QueryEnv = { ...this.env, outer: this.scope };
    const simple = !ast._next && !(Array.isArray(ast.with) && ast.with.length);
    const result = simple ? translateSelect(ast, env, { correlate: { mode, alias }, valueNames }) : translateQueryResult(ast, env, valueNames);
    if (result.correlation && this.correlatedNotAllowed) {
      throw this.env.ctx.unsupported(`a correlated subquery in ${this.correlatedNotAllowed}`, node);
    }
    return { result, alias };
  }

  scalar(node: SqlNode): Expr {
    const v = this.env.ctx.fresh('v');
    const { result, alias } = this.translate(node, 'scalar', [v]);
    if (!result.correlation) {
      let plan = result.plan;
      if (!result.singleRow) {
        if (!result.atMostOneRow) {
          throw this.env.ctx.unsupported('a scalar subquery that can return more than one row', node, 'Make it an aggregate (e.g. max(x)) or add LIMIT 1');
        }
        // At most one row: an aggregate makes it exactly one, NULL when the subquery is empty.
        plan = Object.freeze({ kind: 'aggregate', input: plan, groupBy: [], aggregates: [E.alias(E.aggregate('first', [E.column(v)]), v)] });
      }
      this.pending.push((p) => join(p, aliasPlan(plan, alias), 'cross', null));
      return E.column(v, alias);
    }
    const { conditions, empty } = result.correlation;
    this.pending.push((p) => join(p, aliasPlan(result.plan, alias), 'left', andAll(conditions)));
    const value = E.column(v, alias);
    if (!empty) return value;
    return E.caseWhen([{ when: E.isNull(E.column(empty.marker, alias)), then: empty.value }], value);
  }

  /** An uncorrelated EXISTS as a boolean column of a one-row side table. */
  private existsFlag(plan: LogicalPlan, negated: boolean): Expr {
    const flag = this.env.ctx.fresh('e');
    const alias = this.env.ctx.fresh('sq');
    const one: LogicalPlan = Object.freeze({ kind: 'limit', input: plan, limit: 1, offset: 0 });
    const agg: LogicalPlan = Object.freeze({
      kind: 'aggregate',
      input: one,
      groupBy: [],
      aggregates: [E.alias(E.binary('>', E.aggregate('count', []), E.literal(0, DataTypes.int64)), flag)],
    });
    this.pending.push((p) => join(p, aliasPlan(agg, alias), 'cross', null));
    const c = E.column(flag, alias);
    return negated ? E.not(c) : c;
  }

  exists(sub: SqlNode, negated: boolean, at: SqlNode): Expr {
    const { result } = this.translate(sub, 'exists');
    if (result.correlation) {
      throw this.env.ctx.unsupported('a correlated EXISTS inside OR, NOT, CASE or another expression', at, 'Correlated EXISTS is supported as a WHERE conjunct');
    }
    return this.existsFlag(result.plan, negated);
  }

  in(_input: SqlNode, _sub: SqlNode, negated: boolean, at: SqlNode): Expr {
    throw this.env.ctx.unsupported(`${negated ? 'NOT IN' : 'IN'} (subquery) inside OR, CASE or another expression`, at, 'IN (subquery) is supported as a WHERE conjunct');
  }

  /** A WHERE conjunct that is EXISTS / IN (subquery): registers its join; returns a filter to add, if any. */
  predicate(p: PredicateSubquery, whereEnv: ExprEnv): Expr | null {
    const { ctx } = this.env;
    if (p.kind === 'exists') {
      const { result, alias } = this.translate(p.sub, 'exists');
      if (!result.correlation) return this.existsFlag(result.plan, p.negated);
      const on = andAll(result.correlation.conditions);
      this.pending.push((plan) => join(plan, aliasPlan(result.plan, alias), p.negated ? 'anti' : 'semi', on));
      return null;
    }
    const input = toExpr(p.input, whereEnv);
    const v = ctx.fresh('v');
    const { result, alias } = this.translate(p.sub, 'in', [v]);
    const eq = E.binary('=', input, E.column(v, alias));
    if (!p.negated) {
      const on = andAll([eq, ...(result.correlation?.conditions ?? [])]);
      this.pending.push((plan) => join(plan, aliasPlan(result.plan, alias), 'semi', on));
      return null;
    }
    if (result.correlation) throw ctx.unsupported('NOT IN with a correlated subquery', p.node, 'Use NOT EXISTS, whose NULL semantics differ');
    this.pending.push((plan) => join(plan, aliasPlan(result.plan, alias), 'anti', eq));
    const valueNullable = planSchema(result.plan).fields[0]!.nullable;
    let inputNullable = true;
    try {
      inputNullable = nullableOf(input, this.scope.schema);
    } catch {
      // The input refers to columns of an earlier subquery join: assume it can be NULL.
    }
    if (!valueNullable && !inputNullable) return null;
    // Null-aware NOT IN: TRUE only if the subquery is empty, or x is not NULL, matches nothing (the anti join)
    // and the subquery has no NULL.
    const counts = ctx.fresh('sq');
    const n = ctx.fresh('n');
    const nn = ctx.fresh('nn');
    const agg: LogicalPlan = Object.freeze({
      kind: 'aggregate',
      input: result.plan,
      groupBy: [],
      aggregates: [E.alias(E.aggregate('count', []), n), E.alias(E.aggregate('count', [E.column(v)]), nn)],
    });
    this.pending.push((plan) => join(plan, aliasPlan(agg, counts), 'cross', null));
    const zero = E.literal(0, DataTypes.int64);
    return E.binary(
      'or',
      E.binary('=', E.column(n, counts), zero),
      E.binary('and', E.isNull(input, true), E.binary('=', E.column(n, counts), E.column(nn, counts))),
    );
  }
}
