// State shared while one SQL statement is translated: the catalog of tables, the source text (for error
// positions), fresh names for generated columns, and the scopes that column references resolve in.
import type { Expr } from '../expr/expr.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import type { SqlNode } from './ast.ts';
import { nodeToSql } from './parse.ts';

/** Where session.sql() finds tables. */
export interface SqlCatalog {
  /** The plan of a registered table (names are case-insensitive), or undefined. */
  table(name: string): LogicalPlan | undefined;
  tableNames(): readonly string[];
  /** A plan with exactly one row, for SELECT without FROM. */
  oneRow(): LogicalPlan;
  /** A function registered with the session (case-insensitive), as a builder of its call over the arguments;
   * `schema` is what the arguments are evaluated over (a model function types its output from it). */
  function?(name: string): ((args: readonly Expr[], schema: Schema) => Expr) | undefined;
}

/** A common table expression: its plan and output names, inlined where it is referenced. */
export interface Cte {
  readonly plan: LogicalPlan;
}

export class SqlContext {
  private counter = 0;

  constructor(
    readonly catalog: SqlCatalog,
    readonly text: string,
  ) {}

  /** A column or alias name no user query uses: `__<prefix><n>`. */
  fresh(prefix: string): string {
    return `__${prefix}${this.counter++}`;
  }

  /** " at line L, column C (`snippet`)" for a node, as far as the parser recorded it. */
  where(node: SqlNode): string {
    const loc = node?.loc?.start;
    const snippet = node ? nodeToSql(node) : null;
    const shown = snippet ? ` \`${snippet.length > 80 ? `${snippet.slice(0, 77)}...` : snippet}\`` : '';
    if (loc) return ` at line ${loc.line}, column ${loc.column}${shown ? `:${shown}` : ''}`;
    return shown ? ` in${shown}` : '';
  }

  unsupported(what: string, node: SqlNode, hint?: string): UnsupportedError {
    return new UnsupportedError(`${what} is not supported${this.where(node)}${hint ? `. ${hint}` : ''}`);
  }

  error(message: string, node: SqlNode): AnalysisError {
    return new AnalysisError(`${message}${this.where(node)}`);
  }
}

/**
 * The columns a query block's expressions can see: its FROM clause's schema, and through `outer` those of the
 * enclosing query (correlated subqueries). References resolved in `outer` are recorded in `outerRefs` by
 * identity, so decorrelation can find them.
 */
export interface Scope {
  readonly schema: Schema;
  readonly outer: Scope | null;
  readonly outerRefs: Set<Expr>;
}

export function scope(schema: Schema, outer: Scope | null): Scope {
  return { schema, outer, outerRefs: new Set() };
}

/** What a query block is translated with: the context, visible CTEs and the enclosing scope. */
export interface QueryEnv {
  readonly ctx: SqlContext;
  readonly ctes: ReadonlyMap<string, Cte>;
  readonly outer: Scope | null;
}
