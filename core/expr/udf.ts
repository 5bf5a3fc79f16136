// Evaluating TypeScript user functions (Expr kind 'udf') inside compiled expressions. A UDF is not generated
// code: its arguments are evaluated as columns by the normal kernels, turned into JavaScript values (the same
// values `collect()` returns: int64 as number, decimal as number, date/timestamp as Date, vector as
// Float32Array, NULL as null), the function is called once per row in a fresh node:vm context re-created from
// its source text, and the results are built into a column of the declared return type. The expression around
// the UDF then compiles as usual, reading the UDF's values as an extra input column.
//
// NULLs: the function is called for every row, NULL arguments arrive as null (as Spark's UDFs with boxed/object
// parameters and Python UDFs see None), and returning null or undefined gives NULL. A value that does not fit
// the return type fails the task naming the function and the row (DataError, not retried).
import * as arrow from 'apache-arrow';
import { columnData, makeBatch } from '../arrow/column.ts';
import type { ColumnData } from '../arrow/column.ts';
import { instantiateFunction } from '../rdd/sandbox.ts';
import { columnValues } from '../sdk/rows.ts';
import { buildColumn } from '../sdk/from-rows.ts';
import { toArrowType } from '../types/arrow-types.ts';
import { DataError, SquallError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { type Expr, boundColumn, children, withChildren } from './expr.ts';
import { typeOf } from './type-of.ts';

/** Evaluates one UDF call over a batch of `input`; `compileArg` compiles an argument (which may hold UDFs itself). */
export function udfEvaluator(
  e: Extract<Expr, { kind: 'udf' }>,
  input: Schema,
  compileArg: (arg: Expr, input: Schema) => { evaluate(batch: arrow.RecordBatch): ColumnData },
): (batch: arrow.RecordBatch) => ColumnData {
  const args = e.args.map((a) => ({ eval: compileArg(a, input), type: typeOf(a, input) }));
  // Re-created once per compiled expression (once per task), not per batch.
  const { fn, context, describe } = instantiateFunction({ source: e.fn.source, op: e.name, context: e.fn.context ? Buffer.from(e.fn.context, 'base64') : null });
  const withContext = e.fn.context !== null;
  return (batch) => {
    const n = batch.numRows;
    const columns = args.map((a) => columnValues(a.eval.evaluate(batch), a.type));
    const out = new Array<unknown>(n);
    const call = new Array<unknown>(args.length + (withContext ? 1 : 0));
    if (withContext) call[args.length] = context;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < columns.length; j++) call[j] = columns[j]![i];
      try {
        out[i] = fn(...call);
      } catch (err) {
        throw new DataError(`user function ${e.name}() threw: ${describe(err)}`, { cause: err });
      }
    }
    try {
      return buildColumn(`${e.name}()`, e.returnType, out);
    } catch (err) {
      if (err instanceof SquallError) throw new DataError(`user function ${e.name}() returned a value that is not its declared type: ${err.message}`, { cause: err });
      throw err;
    }
  };
}

/**
 * `e` with every outermost UDF call replaced by a bound column past the end of `input`, the schema with those
 * columns, and a function that appends their values to a batch. Null when `e` calls no UDF.
 */
export function extractUdfs(
  e: Expr,
  input: Schema,
  compileArg: (arg: Expr, input: Schema) => { evaluate(batch: arrow.RecordBatch): ColumnData },
): { expr: Expr; schema: Schema; extend(batch: arrow.RecordBatch): arrow.RecordBatch } | null {
  const calls: Extract<Expr, { kind: 'udf' }>[] = [];
  const replace = (n: Expr): Expr => {
    if (n.kind === 'udf') {
      const i = calls.push(n) - 1;
      return boundColumn(input.fields.length + i, `__udf${i}`);
    }
    const kids = children(n);
    if (kids.length === 0) return n;
    const next = kids.map(replace);
    return next.some((k, i) => k !== kids[i]) ? withChildren(n, next) : n;
  };
  const expr = replace(e);
  if (calls.length === 0) return null;
  const extra = calls.map((c, i) => field(`__udf${i}`, c.returnType, true));
  const schema = makeSchema([...input.fields, ...extra]);
  const evaluators = calls.map((c) => udfEvaluator(c, input, compileArg));
  const extraArrow = extra.map((f) => new arrow.Field(f.name, toArrowType(f.type), true));
  return {
    expr,
    schema,
    extend(batch) {
      const cols = batch.schema.fields.map((_, i) => columnData(batch, i));
      const values = evaluators.map((ev) => ev(batch));
      return makeBatch(new arrow.Schema([...batch.schema.fields, ...extraArrow]), [...cols, ...values], batch.numRows);
    },
  };
}
