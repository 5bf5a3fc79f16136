// simplifyExpressions: constant folding and boolean simplification in every expression of the plan.
// Column-free subexpressions are evaluated with the real compiler on a one-row batch (see ../literals.ts), so a
// folded value is exactly what execution would compute; a subexpression whose evaluation fails is left alone.
// Boolean rewrites follow SQL's three-valued logic: each holds for TRUE, FALSE and NULL operands alike.
import {
  containsModelCall,
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
import { DataTypes } from '../../types/data-type.ts';
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

/** One bottom-up pass of simplifications over an expression. */
export function simplifyExpr(e: Expr): Expr {
  return transformUp(e, (n) => {
    if (foldable(n)) {
      const folded = evaluateConstant(n);
      if (folded) return folded;
    }
    return simplifyNode(n);
  });
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
function simplifyNamed(e: Expr): Expr {
  const s = simplifyExpr(e);
  if (s === e) return e;
  const name = outputName(e);
  return outputName(s) === name ? s : alias(s.kind === 'alias' ? s.input : s, name);
}

/** A filter condition: NULL and FALSE both drop the row, so a NULL literal conjunct is FALSE here. */
export function simplifyPredicate(e: Expr): Expr {
  const s = simplifyExpr(e);
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
      const exprs = mapAll(p.exprs, simplifyNamed);
      return exprs === p.exprs ? p : Object.freeze({ ...p, exprs });
    }
    case 'filter': {
      const condition = simplifyPredicate(p.condition);
      return sameExpr(condition, p.condition) ? p : Object.freeze({ ...p, condition });
    }
    case 'aggregate': {
      // Group keys and outputs fold alike, so an output still matches its group key.
      const groupBy = mapAll(p.groupBy, simplifyExpr);
      const aggregates = mapAll(p.aggregates, simplifyNamed);
      return groupBy === p.groupBy && aggregates === p.aggregates ? p : Object.freeze({ ...p, groupBy, aggregates });
    }
    case 'join': {
      if (!p.on) return p;
      const on = simplifyPredicate(p.on);
      return sameExpr(on, p.on) ? p : Object.freeze({ ...p, on });
    }
    case 'sort': {
      const orders = p.orders.map((o) => {
        const expr = simplifyExpr(o.expr);
        return expr === o.expr ? o : Object.freeze({ ...o, expr });
      });
      return orders.every((o, i) => o === p.orders[i]) ? p : Object.freeze({ ...p, orders: Object.freeze(orders) });
    }
    case 'repartition': {
      const keys = mapAll(p.keys, simplifyExpr);
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
