// Window functions in SQL: `fn(...) OVER (PARTITION BY ... ORDER BY ... frame)` → a window expression. It stays
// inline in the select list (or ORDER BY); the projection that finishes the query block is built by
// ../plan/extract-windows.ts, which moves window expressions into Window nodes below it. Supported: row_number,
// rank, dense_rank, and sum/avg/min/max/count over the frames WindowExec computes.
import * as E from '../expr/expr.ts';
import type { Expr, WindowFrame, WindowFunctionName } from '../expr/expr.ts';
import { type SqlNode, identName, orderDirection } from './ast.ts';
import type { QueryEnv } from './context.ts';
import { type ExprEnv, toExpr } from './expressions.ts';

const RANKING: Record<string, WindowFunctionName> = { row_number: 'row_number', rank: 'rank', dense_rank: 'dense_rank' };
const AGGREGATES: Record<string, WindowFunctionName> = { sum: 'sum', avg: 'avg', mean: 'avg', min: 'min', max: 'max', count: 'count' };

const SUPPORTED = 'Window functions supported: row_number(), rank(), dense_rank(), and sum, avg, min, max, count OVER (...)';
const FRAMES =
  'Supported frames: ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW, RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (the default with ORDER BY), and ROWS/RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING (the default without)';

/** The text of a frame bound as the parser gives it: `UNBOUNDED PRECEDING`, `CURRENT ROW`, `1 PRECEDING`. */
function boundText(n: SqlNode): string {
  return String(n?.value ?? '').toUpperCase().replace(/\s+/g, ' ').trim();
}

export class WindowTranslator {
  constructor(private readonly env: QueryEnv) {}

  /** Translates one window function call; `env` translates its arguments and keys (no nested windows). */
  translate(node: SqlNode, env: ExprEnv): Expr {
    const { ctx } = this.env;
    const spec = node.over?.as_window_specification;
    if (typeof spec === 'string' || spec?.window_specification === undefined) {
      throw ctx.unsupported('a named window (OVER name)', node, 'Write the window specification in OVER (...)');
    }
    const w = spec.window_specification;
    if (w.name) throw ctx.unsupported('a window specification that refers to a named window', node);
    const { fn, args } = this.call(node, env);
    const partitionBy = ((w.partitionby ?? []) as SqlNode[]).map((p) => toExpr(p?.type === 'expr' ? p.expr : p, env));
    const orderBy = ((w.orderby ?? []) as SqlNode[]).map((o) => {
      const d = orderDirection(o);
      return E.sortOrder(toExpr(o.expr, env), d.ascending, d.nullsFirst);
    });
    // Ranking functions ignore the frame (SQL standard, DuckDB).
    const frame: WindowFrame = E.RANKING_FUNCTIONS.has(fn) ? 'rows_to_current' : this.frame(w.window_frame_clause, orderBy.length > 0, node);
    return E.windowExpr(fn, args, partitionBy, orderBy, frame);
  }

  private call(node: SqlNode, env: ExprEnv): { fn: WindowFunctionName; args: Expr[] } {
    const { ctx } = this.env;
    if (node.type === 'window_func') {
      const name = String(node.name).toLowerCase();
      const fn = RANKING[name];
      if (!fn) throw ctx.unsupported(`window function ${name}()`, node, SUPPORTED);
      const a = node.args;
      const n = a ? (a.type === 'expr_list' ? (Array.isArray(a.value) ? a.value.length : 1) : 1) : 0;
      if (n > 0) throw ctx.error(`${name}() takes no arguments`, node);
      return { fn, args: [] };
    }
    if (node.type === 'aggr_func') {
      const name = String(node.name).toLowerCase();
      const fn = AGGREGATES[name];
      if (!fn) throw ctx.unsupported(`${name}() as a window function`, node, SUPPORTED);
      const a = node.args ?? {};
      if (String(a.distinct ?? '').toUpperCase() === 'DISTINCT') throw ctx.unsupported(`${name}(DISTINCT ...) OVER (...)`, node);
      if (a.orderby) throw ctx.unsupported(`ORDER BY inside ${name}()`, node);
      if (node.filter) throw ctx.unsupported(`FILTER on ${name}()`, node);
      const raw: SqlNode[] = a.expr === undefined || a.expr === null ? [] : a.expr.type === 'expr_list' ? a.expr.value : [a.expr];
      if (raw.length === 1 && raw[0]?.type === 'star') {
        if (fn !== 'count') throw ctx.error(`${name}(*) is not valid; only count(*) takes *`, node);
        return { fn, args: [] };
      }
      if (raw.length !== 1) throw ctx.error(`${name}() takes one argument, got ${raw.length}`, node);
      return { fn, args: [toExpr(raw[0], env)] };
    }
    const name = node.type === 'function' ? (node.name?.name ?? []).map((p: SqlNode) => identName(p)).join('.').toLowerCase() : String(node.type);
    throw ctx.unsupported(`window function ${name}()`, node, SUPPORTED);
  }

  /** The frame clause (null: the default) as one of the frames WindowExec computes. */
  private frame(clause: SqlNode, ordered: boolean, at: SqlNode): WindowFrame {
    const { ctx } = this.env;
    // RANGE frames equal to a default are removed before parsing (see parse.ts); no ORDER BY makes every row a peer.
    if (!clause) return ordered ? 'range_to_current' : 'partition';
    let kind: string;
    let start: string;
    let end: string;
    if (clause.type === 'binary_expr' && String(clause.operator).toUpperCase() === 'BETWEEN') {
      kind = String(clause.left?.value ?? '').toUpperCase();
      const [s, e] = (clause.right?.value ?? []) as SqlNode[];
      start = boundText(s);
      end = boundText(e);
    } else {
      // `ROWS x` is `ROWS BETWEEN x AND CURRENT ROW`.
      kind = String(clause.type ?? '').toUpperCase();
      start = boundText(clause.expr);
      end = 'CURRENT ROW';
    }
    if (kind === 'ROWS' && start === 'UNBOUNDED PRECEDING') {
      if (end === 'CURRENT ROW') return 'rows_to_current';
      if (end === 'UNBOUNDED FOLLOWING') return 'partition';
    }
    throw ctx.unsupported(`the window frame ${kind} BETWEEN ${start} AND ${end}`, at, FRAMES);
  }
}
