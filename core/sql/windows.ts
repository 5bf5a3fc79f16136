// Window functions in the select list (placeholder until the window plan node lands).
import type { Expr } from '../expr/expr.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import type { SqlNode } from './ast.ts';
import type { QueryEnv, Scope, SqlContext } from './context.ts';
import type { ExprEnv } from './expressions.ts';

export class WindowCollector {
  constructor(
    private readonly env: QueryEnv,
    private readonly scope: Scope,
  ) {}

  add(node: SqlNode, _env: ExprEnv): Expr {
    void this.scope;
    throw this.env.ctx.unsupported('window functions', node);
  }

  isPlaceholder(_e: Expr): boolean {
    return false;
  }

  rewrite(_f: (e: Expr) => Expr): void {}

  apply(plan: LogicalPlan, _ctx: SqlContext): LogicalPlan {
    return plan;
  }
}
