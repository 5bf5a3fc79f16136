// Name and type resolution for logical plans: the output schema of every node, with the checks that make a
// bad DataFrame fail when it is built (missing column, non-boolean filter, aggregate misuse), not when it runs.
import { AnalysisError } from '../types/errors.ts';
import { type Field, type Schema, field, qualifiedName, resolveField, schema } from '../types/schema.ts';
import { typeEquals, typeToString } from '../types/data-type.ts';
import { type Expr, containsAggregate, containsWindow, exprToString, visit } from '../expr/expr.ts';
import { commonType, toField, typeOf } from '../expr/type-of.ts';
import type { LogicalPlan } from './logical-plan.ts';

const schemaCache = new WeakMap<LogicalPlan, Schema>();

/** The output schema of `plan`; validates the node against its inputs. Cached per (immutable) node. */
export function planSchema(plan: LogicalPlan): Schema {
  const cached = schemaCache.get(plan);
  if (cached) return cached;
  const s = computeSchema(plan);
  schemaCache.set(plan, s);
  return s;
}

function requalify(fields: readonly Field[], qualifier: string | undefined): Field[] {
  return fields.map((f) => field(f.name, f.type, f.nullable, qualifier));
}

function rejectAggregates(exprs: readonly Expr[], where: string): void {
  for (const e of exprs) {
    if (containsAggregate(e)) {
      throw new AnalysisError(
        `aggregate function in ${where} is not allowed: ${exprToString(e)}. Use groupBy(...).agg(...) or agg(...) instead`,
      );
    }
  }
}

/** Window functions live only in a select list (see ./extract-windows.ts), never in these clauses. */
function rejectWindows(
  exprs: readonly Expr[],
  where: string,
  hint = 'Compute it as a column with select() or withColumn() first, then use that column',
): void {
  for (const e of exprs) {
    if (containsWindow(e)) throw new AnalysisError(`window function in ${where} is not allowed: ${exprToString(e)}. ${hint}`);
  }
}

/** The window specification a window node's functions share, for comparing them. */
function windowSpecKey(e: Expr & { kind: 'window' }, input: Schema): string {
  return JSON.stringify([e.partitionBy.map((k) => exprKey(k, input)), e.orderBy.map((o) => [exprKey(o.expr, input), o.ascending, o.nullsFirst])]);
}

function windowSchema(plan: Extract<LogicalPlan, { kind: 'window' }>): Schema {
  const input = planSchema(plan.input);
  if (plan.functions.length === 0) throw new AnalysisError('a Window node needs at least one window function');
  let spec: string | null = null;
  const names = new Set(input.fields.map((f) => f.name.toLowerCase()));
  for (const f of plan.functions) {
    if (f.kind !== 'alias' || f.input.kind !== 'window') {
      throw new AnalysisError(`a Window node computes named window functions (alias over fn(...) OVER (...)), got ${exprToString(f)}`);
    }
    typeOf(f.input, input);
    const key = windowSpecKey(f.input, input);
    if (spec !== null && key !== spec) {
      throw new AnalysisError(`the functions of one Window node must share PARTITION BY and ORDER BY: ${exprToString(f)}`);
    }
    spec = key;
    if (names.has(f.name.toLowerCase())) throw new AnalysisError(`Window output '${f.name}' collides with another column of that name`);
    names.add(f.name.toLowerCase());
  }
  return schema([...input.fields, ...plan.functions.map((e) => toField(e, input))]);
}

function computeSchema(plan: LogicalPlan): Schema {
  switch (plan.kind) {
    case 'scan': {
      const all = plan.schema.fields;
      const chosen = plan.projection === null ? all : plan.projection.map((n) => all[resolveField(plan.schema, n)]!);
      return schema(requalify(chosen, plan.alias));
    }
    case 'project': {
      const input = planSchema(plan.input);
      rejectAggregates(plan.exprs, 'select');
      // The SDK and SQL front end move window functions out of a projection into Window nodes.
      rejectWindows(plan.exprs, 'a Project node', 'Window functions are computed by Window nodes, which extractWindows() builds from a select list');
      return schema(plan.exprs.map((e) => toField(e, input)));
    }
    case 'filter': {
      const input = planSchema(plan.input);
      rejectAggregates([plan.condition], 'filter/where (use HAVING-style filtering after agg)');
      rejectWindows([plan.condition], 'filter/where');
      const t = typeOf(plan.condition, input);
      if (t.kind !== 'bool' && t.kind !== 'null') {
        throw new AnalysisError(`filter condition must be boolean, got ${typeToString(t)}: ${exprToString(plan.condition)}`);
      }
      return input;
    }
    case 'aggregate': {
      const input = planSchema(plan.input);
      rejectAggregates(plan.groupBy, 'groupBy');
      rejectWindows(plan.groupBy, 'groupBy');
      rejectWindows(plan.aggregates, 'agg/aggregate outputs');
      for (const g of plan.groupBy) {
        const t = typeOf(g, input);
        if (t.kind === 'vector') throw new AnalysisError(`cannot group by a vector column: ${exprToString(g)}`);
      }
      for (const a of plan.aggregates) checkAggregateOutput(a, plan.groupBy, input);
      return schema(plan.aggregates.map((e) => toField(e, input)));
    }
    case 'join': {
      const left = planSchema(plan.left);
      const right = planSchema(plan.right);
      return joinSchema(plan, left, right);
    }
    case 'sort': {
      const input = planSchema(plan.input);
      rejectAggregates(plan.orders.map((o) => o.expr), 'orderBy');
      rejectWindows(plan.orders.map((o) => o.expr), 'orderBy');
      for (const o of plan.orders) {
        const t = typeOf(o.expr, input);
        if (t.kind === 'vector') throw new AnalysisError(`cannot sort by a vector column: ${exprToString(o.expr)}`);
      }
      return input;
    }
    case 'limit':
      if (plan.limit !== null && (!Number.isInteger(plan.limit) || plan.limit < 0)) {
        throw new AnalysisError(`limit must be a non-negative integer, got ${plan.limit}`);
      }
      if (!Number.isInteger(plan.offset) || plan.offset < 0) {
        throw new AnalysisError(`offset must be a non-negative integer, got ${plan.offset}`);
      }
      return planSchema(plan.input);
    case 'distinct':
      return planSchema(plan.input);
    case 'repartition':
      rejectWindows(plan.keys, 'repartition keys');
      return planSchema(plan.input);
    case 'window':
      return windowSchema(plan);
    case 'apply_model': {
      const input = planSchema(plan.input);
      rejectAggregates(plan.inputs, 'model inputs');
      rejectWindows(plan.inputs, 'model inputs');
      // Type-checks the inputs (a missing column fails here, naming it).
      for (const e of plan.inputs) typeOf(e, input);
      return schema([...input.fields, ...plan.outputs.map((o) => field(o.as, o.type, o.nullable))]);
    }
    case 'alias':
      return schema(requalify(planSchema(plan.input).fields, plan.alias));
    case 'union':
      return unionSchema(plan.inputs.map(planSchema), plan.byName);
  }
}

/** Every column an aggregate output uses outside an aggregate call must be a grouping expression. */
function checkAggregateOutput(e: Expr, groupBy: readonly Expr[], input: Schema): void {
  typeOf(e, input);
  const groupKeys = new Set(groupBy.map((g) => exprKey(stripAlias(g), input)));
  const check = (node: Expr): boolean => {
    if (node.kind === 'aggregate') {
      for (const a of node.args) {
        if (containsAggregate(a)) throw new AnalysisError(`nested aggregate functions are not allowed: ${exprToString(node)}`);
      }
      return false;
    }
    if (node.kind !== 'alias' && groupKeys.has(exprKey(node, input))) return false;
    if (node.kind === 'column') {
      throw new AnalysisError(
        `column '${node.name}' must appear in groupBy or be used inside an aggregate function (in ${exprToString(e)})`,
      );
    }
    return true;
  };
  visit(e, check);
}

export function stripAlias(e: Expr): Expr {
  return e.kind === 'alias' ? stripAlias(e.input) : e;
}

/** A key identifying an expression up to how its columns are referenced (by resolved position). */
export function exprKey(e: Expr, input: Schema): string {
  return JSON.stringify(e, (k, v) => {
    if (v && typeof v === 'object' && (v as Expr).kind === 'column') {
      const c = v as Extract<Expr, { kind: 'column' }>;
      return { kind: 'column', index: resolveField(input, c.name, c.qualifier, c.index) };
    }
    return v;
  });
}

export function joinSchema(plan: Extract<LogicalPlan, { kind: 'join' }>, left: Schema, right: Schema): Schema {
  const leftNullable = plan.joinType === 'right' || plan.joinType === 'full';
  const rightNullable = plan.joinType === 'left' || plan.joinType === 'full';
  const nullableIf = (f: Field, yes: boolean) => (yes && !f.nullable ? field(f.name, f.type, true, f.qualifier) : f);
  const combined = schema([...left.fields, ...right.fields]);
  if (plan.on) {
    rejectAggregates([plan.on], 'join condition');
    rejectWindows([plan.on], 'a join condition');
    const t = typeOf(plan.on, combined);
    if (t.kind !== 'bool') throw new AnalysisError(`join condition must be boolean, got ${typeToString(t)}: ${exprToString(plan.on)}`);
  }
  if (plan.joinType === 'cross' && (plan.on || plan.using.length)) {
    throw new AnalysisError('a cross join takes no join condition; use an inner join instead');
  }
  const usingLeft = new Set<number>();
  const usingRight = new Set<number>();
  const keyFields: Field[] = [];
  for (const name of plan.using) {
    const li = resolveJoinKey(left, name, 'left');
    const ri = resolveJoinKey(right, name, 'right');
    usingLeft.add(li);
    usingRight.add(ri);
    const lf = left.fields[li]!;
    const rf = right.fields[ri]!;
    const t = commonType(lf.type, rf.type);
    if (!t) {
      throw new AnalysisError(`join key '${name}' has incompatible types: ${typeToString(lf.type)} on the left, ${typeToString(rf.type)} on the right`);
    }
    // As in Spark: the key is the left one, except a right join takes the right one and a full join either.
    const nullable = plan.joinType === 'full' ? lf.nullable || rf.nullable : plan.joinType === 'right' ? rf.nullable : lf.nullable;
    keyFields.push(field(lf.name, t, nullable));
  }
  if (plan.joinType === 'semi' || plan.joinType === 'anti') {
    return left;
  }
  const leftRest = left.fields.filter((_, i) => !usingLeft.has(i)).map((f) => nullableIf(f, leftNullable));
  const rightRest = right.fields.filter((_, i) => !usingRight.has(i)).map((f) => nullableIf(f, rightNullable));
  return schema([...keyFields, ...leftRest, ...rightRest]);
}

function resolveJoinKey(s: Schema, name: string, side: string): number {
  try {
    return resolveField(s, name);
  } catch (err) {
    throw new AnalysisError(`join column '${name}' on the ${side} side: ${(err as Error).message}`);
  }
}

export function unionSchema(inputs: readonly Schema[], byName: boolean): Schema {
  const first = inputs[0]!;
  const aligned = inputs.map((s, n) => {
    if (byName) {
      if (s.fields.length !== first.fields.length) {
        throw new AnalysisError(`unionByName: input ${n + 1} has columns (${s.fields.map(qualifiedName).join(', ')}) but the first has (${first.fields.map(qualifiedName).join(', ')})`);
      }
      return first.fields.map((f) => s.fields[resolveField(s, f.name)]!);
    }
    if (s.fields.length !== first.fields.length) {
      throw new AnalysisError(`union: input ${n + 1} has ${s.fields.length} columns but the first has ${first.fields.length}; union matches columns by position (use unionByName to match by name)`);
    }
    return s.fields;
  });
  return schema(
    first.fields.map((f, i) => {
      let t = f.type;
      let nullable = f.nullable;
      for (let n = 1; n < aligned.length; n++) {
        const g = aligned[n]![i]!;
        const c = typeEquals(t, g.type) ? t : commonType(t, g.type);
        if (!c) {
          throw new AnalysisError(`union: column ${i + 1} ('${f.name}') is ${typeToString(t)} in the first input but ${typeToString(g.type)} in input ${n + 1}`);
        }
        t = c;
        nullable = nullable || g.nullable;
      }
      return field(f.name, t, nullable);
    }),
  );
}
