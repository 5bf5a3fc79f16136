// node-sql-parser's AST, typed loosely: its published types do not cover the PostgreSQL dialect's nodes, so the
// translator checks each node's shape where it reads it. Helpers here read the recurring shapes.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SqlNode = any;

/** The name in an identifier node: a plain string, `{ value }`, or `{ expr: { value } }`. */
export function identName(n: SqlNode): string {
  if (typeof n === 'string') return n;
  if (n && typeof n === 'object') {
    if (typeof n.value === 'string') return n.value;
    if (n.expr) return identName(n.expr);
  }
  throw new Error(`internal: not an identifier: ${JSON.stringify(n)}`);
}

/** A subquery expression node: the parser wraps a SELECT as `{ ast, tableList?, parentheses? }`. */
export function isSubquery(n: SqlNode): boolean {
  return !!n && typeof n === 'object' && !!n.ast && n.ast.type === 'select' && n.type === undefined;
}

/** The function name of a `function` node (`{ name: { name: [{ value }] } }`), lower-cased. */
export function functionName(n: SqlNode): string {
  const parts = n?.name?.name;
  if (Array.isArray(parts)) return parts.map((p: SqlNode) => identName(p)).join('.').toLowerCase();
  if (typeof n?.name === 'string') return n.name.toLowerCase();
  return String(n?.name ?? '').toLowerCase();
}

/** Arguments of a `function` node. */
export function functionArgs(n: SqlNode): SqlNode[] {
  const a = n?.args;
  if (!a) return [];
  if (a.type === 'expr_list') return Array.isArray(a.value) ? a.value : [a.value];
  return Array.isArray(a) ? a : [a];
}

/** Conjuncts of an AND tree. */
export function splitAnd(n: SqlNode): SqlNode[] {
  if (n && n.type === 'binary_expr' && String(n.operator).toUpperCase() === 'AND') return [...splitAnd(n.left), ...splitAnd(n.right)];
  return n ? [n] : [];
}

/** Direction and null placement of an ORDER BY item; nulls go last by default in both directions (DuckDB). */
export function orderDirection(o: SqlNode): { ascending: boolean; nullsFirst: boolean } {
  const ascending = String(o.type ?? 'ASC').toUpperCase() !== 'DESC';
  const nulls = String(o.nulls ?? '').toUpperCase();
  return { ascending, nullsFirst: nulls.includes('FIRST') };
}
