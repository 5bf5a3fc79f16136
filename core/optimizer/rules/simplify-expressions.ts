// simplifyExpressions: constant folding and boolean simplification in every expression of the plan.
// Column-free subexpressions are evaluated with the real compiler on a one-row batch (see ../literals.ts), so a
// folded value is exactly what execution would compute; a subexpression whose evaluation fails is left alone.
// Boolean rewrites follow SQL's three-valued logic: each holds for TRUE, FALSE and NULL operands alike.
// NullPropagation (Catalyst's rule of that name): a null-intolerant node with a NULL literal operand becomes a
// NULL literal of the node's type, so its other operands are never evaluated and cannot raise (DuckDB folds the
// same way at planning).
import {
  NULL_INTOLERANT_FUNCTIONS,
  containsAggregate,
  containsModelCall,
  containsWindow,
  containsUdf,
  type ComparisonOp,
  type Expr,
  alias,
  binary,
  isNull,
  like,
  inList,
  between,
  literal,
  outputName,
  transformUp,
} from '../../expr/expr.ts';
import { typeOf } from '../../expr/type-of.ts';
import { DataTypes } from '../../types/data-type.ts';
import { type Schema, schema } from '../../types/schema.ts';
import { planSchema } from '../../plan/analyzer.ts';
import { type LogicalPlan, transformPlanUp } from '../../plan/logical-plan.ts';
import { evaluateConstant } from '../literals.ts';
import { hasColumns, isLiteral, splitConjuncts } from '../plan-utils.ts';

const TRUE = literal(true, DataTypes.bool);
const FALSE = literal(false, DataTypes.bool);

const NEGATED: Record<ComparisonOp, ComparisonOp> = { '=': '!=', '!=': '=', '<': '>=', '<=': '>', '>': '<=', '>=': '<' };

function foldable(e: Expr): boolean {
  if (e.kind === 'literal' || e.kind === 'alias' || e.kind === 'aggregate') return false;
  if (hasColumns(e)) return false;
  // User functions and models may be nondeterministic or costly: they run where the plan runs, never at planning.
  if (containsUdf(e) || containsModelCall(e)) return false;
  let agg = false;
  transformUp(e, (n) => {
    if (n.kind === 'aggregate') agg = true;
    return n;
  });
  return !agg;
}

/** One bottom-up pass of simplifications over an expression whose columns resolve against `input`. */
export function simplifyExpr(e: Expr, input: Schema): Expr {
  return transformUp(e, (n) => {
    if (foldable(n)) {
      const folded = evaluateConstant(n);
      if (folded) return folded;
    }
    const nulled = propagateNull(n, input);
    if (nulled !== n) return nulled;
    return simplifyNode(n);
  });
}

/** NULL of `e`'s own type when a NULL literal operand makes `e` NULL on every row; `e` otherwise. */
function propagateNull(e: Expr, input: Schema): Expr {
  if (!strictOperands(e).some((x) => isLiteral(x, null))) return e;
  // Aggregate outputs must keep matching their group keys and windows live in their own node: left alone.
  if (containsAggregate(e) || containsWindow(e)) return e;
  try {
    const t = typeOf(e, input);
    // Literals cannot hold vectors (see ../literals.ts).
    return t.kind === 'vector' ? e : literal(null, t);
  } catch {
    // A node that does not type-check (round(x, NULL) wants a literal digit count) fails where it runs, as before.
    return e;
  }
}

/** The operands of `e` any of which, when NULL, makes `e` NULL. */
function strictOperands(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'binary':
      // FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
      return e.op === 'and' || e.op === 'or' ? [] : [e.left, e.right];
    case 'not':
    case 'negate':
    case 'cast':
    case 'like':
      return [e.input];
    case 'in':
    case 'between':
      // Only the tested value: 1 IN (1, NULL) is TRUE and 1 BETWEEN NULL AND 0 is FALSE.
      return [e.input];
    case 'call':
      return NULL_INTOLERANT_FUNCTIONS[e.fn] ? e.args : [];
    case 'is_null':
    case 'case':
    case 'alias':
    case 'column':
    case 'literal':
    case 'aggregate':
    case 'window':
    case 'udf':
    case 'model_call':
      return [];
  }
}

function simplifyNode(e: Expr): Expr {
  switch (e.kind) {
    case 'binary': {
      const { left: l, right: r } = e;
      if (e.op === 'and') {
        if (isLiteral(l, true)) return r;
        if (isLiteral(r, true)) return l;
        // x AND FALSE is FALSE even when x is NULL.
        if (isLiteral(l, false) || isLiteral(r, false)) return FALSE;
        if (sameExpr(l, r)) return l;
        return e;
      }
      if (e.op === 'or') {
        if (isLiteral(l, false)) return r;
        if (isLiteral(r, false)) return l;
        // x OR TRUE is TRUE even when x is NULL.
        if (isLiteral(l, true) || isLiteral(r, true)) return TRUE;
        if (sameExpr(l, r)) return l;
        return e;
      }
      return e;
    }
    case 'not': {
      const x = e.input;
      // NOT NOT x = x; NOT of a comparison/IS NULL/IN/LIKE/BETWEEN flips it (NULL stays NULL either way).
      if (x.kind === 'not') return x.input;
      if (x.kind === 'binary' && x.op in NEGATED) return binary(NEGATED[x.op as ComparisonOp], x.left, x.right);
      if (x.kind === 'is_null') return isNull(x.input, !x.negated);
      if (x.kind === 'in') return inList(x.input, x.list, !x.negated);
      if (x.kind === 'like') return like(x.input, x.pattern, !x.negated, x.caseInsensitive);
      if (x.kind === 'between') return between(x.input, x.low, x.high, !x.negated);
      return e;
    }
    default:
      return e;
  }
}

function sameExpr(a: Expr, b: Expr): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Simplifies an output expression, keeping its output name (a folded `1 + 2` is still called `(1 + 2)`). */
function simplifyNamed(e: Expr, input: Schema): Expr {
  const s = simplifyExpr(e, input);
  if (s === e) return e;
  const name = outputName(e);
  return outputName(s) === name ? s : alias(s.kind === 'alias' ? s.input : s, name);
}

/** A filter condition: NULL and FALSE both drop the row, so a NULL literal conjunct is FALSE here. */
export function simplifyPredicate(e: Expr, input: Schema): Expr {
  const s = simplifyExpr(e, input);
  const conj = splitConjuncts(s);
  if (conj.some((c) => isLiteral(c, null) || isLiteral(c, false))) return FALSE;
  return s;
}

function mapAll(exprs: readonly Expr[], f: (e: Expr) => Expr): readonly Expr[] {
  const out = exprs.map(f);
  return out.some((e, i) => e !== exprs[i]) ? Object.freeze(out) : exprs;
}

function simplifyNodeExprs(p: LogicalPlan): LogicalPlan {
  switch (p.kind) {
    case 'project': {
      const input = planSchema(p.input);
      const exprs = mapAll(p.exprs, (e) => simplifyNamed(e, input));
      return exprs === p.exprs ? p : Object.freeze({ ...p, exprs });
    }
    case 'filter': {
      const condition = simplifyPredicate(p.condition, planSchema(p.input));
      return sameExpr(condition, p.condition) ? p : Object.freeze({ ...p, condition });
    }
    case 'aggregate': {
      // Group keys and outputs fold alike, so an output still matches its group key.
      const input = planSchema(p.input);
      const groupBy = mapAll(p.groupBy, (e) => simplifyExpr(e, input));
      const aggregates = mapAll(p.aggregates, (e) => simplifyNamed(e, input));
      return groupBy === p.groupBy && aggregates === p.aggregates ? p : Object.freeze({ ...p, groupBy, aggregates });
    }
    case 'join': {
      if (!p.on) return p;
      // A join condition sees both sides' columns, left then right (as ../../plan/analyzer.ts types it).
      const on = simplifyPredicate(p.on, schema([...planSchema(p.left).fields, ...planSchema(p.right).fields]));
      return sameExpr(on, p.on) ? p : Object.freeze({ ...p, on });
    }
    case 'sort': {
      const input = planSchema(p.input);
      const orders = p.orders.map((o) => {
        const expr = simplifyExpr(o.expr, input);
        return expr === o.expr ? o : Object.freeze({ ...o, expr });
      });
      return orders.every((o, i) => o === p.orders[i]) ? p : Object.freeze({ ...p, orders: Object.freeze(orders) });
    }
    case 'repartition': {
      const input = planSchema(p.input);
      const keys = mapAll(p.keys, (e) => simplifyExpr(e, input));
      return keys === p.keys ? p : Object.freeze({ ...p, keys });
    }
    case 'scan':
    case 'limit':
    case 'distinct':
    case 'union':
    case 'alias':
    case 'window':
    case 'apply_model':
      return p;
  }
}

export function simplifyExpressions(plan: LogicalPlan): LogicalPlan {
  return transformPlanUp(plan, simplifyNodeExprs);
}
