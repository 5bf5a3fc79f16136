// StringIndexer: a column of labels → label indices (double), as Spark's. Fitting is a lazy engine aggregate
// (GROUP BY value, count) run once; the order is Spark's: 'frequencyDesc' (default) with ties broken
// alphabetically, or frequencyAsc / alphabetDesc / alphabetAsc. The model's transform is LAZY: a CASE
// expression over the labels (plus a filter for handleInvalid 'skip'), so it becomes part of the DataFrame's
// plan and runs wherever the plan runs. handleInvalid 'error' first runs a small query for a value outside the
// labels (or NULL) and fails naming it. Above CASE_LIMIT labels (a CASE of thousands of branches is too deep
// to compile) the transform is a Map lookup over the input's batches instead, which is not lazy. Non-string inputs (int, bigint, boolean) are cast to strings, as Spark.
import type { DataFrame } from '../../sdk/dataframe.ts';
import { Column } from '../../sdk/column.ts';
import { col, lit, when } from '../../sdk/functions.ts';
import * as E from '../../expr/expr.ts';
import { DataTypes } from '../../types/data-type.ts';
import { DataError } from '../../types/errors.ts';
import { type Schema, field, resolveField, schema as makeSchema } from '../../types/schema.ts';
import { Estimator, Model, type StageState, appendColumn, requireColumn } from '../base.ts';
import { float64Column, withComputedColumns } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';

export type StringOrderType = 'frequencyDesc' | 'frequencyAsc' | 'alphabetDesc' | 'alphabetAsc';

export interface StringIndexerParams {
  inputCol: string;
  outputCol: string;
  handleInvalid: 'error' | 'skip' | 'keep';
  stringOrderType: StringOrderType;
}

const SPECS: ParamSpecs<StringIndexerParams> = {
  inputCol: param.string('input column of labels (string, or int/bigint/boolean cast to string)'),
  outputCol: param.string('output column of label indices (double)'),
  handleInvalid: param.oneOf(
    "labels not seen when fitting, and NULLs: 'error' fails, 'skip' drops the row, 'keep' gives them index numLabels",
    ['error', 'skip', 'keep'] as const,
    'error',
  ),
  stringOrderType: param.oneOf('how labels are ordered into indices', ['frequencyDesc', 'frequencyAsc', 'alphabetDesc', 'alphabetAsc'] as const, 'frequencyDesc'),
};

const INDEXABLE = (t: { kind: string }) => t.kind === 'utf8' || t.kind === 'int32' || t.kind === 'int64' || t.kind === 'bool';

function checkSchema(stage: StringIndexer | StringIndexerModel, schema: Schema): Schema {
  requireColumn(stage, schema, stage.get('inputCol'), INDEXABLE, 'a string (or int, bigint, boolean)');
  return appendColumn(stage, schema, stage.get('outputCol'), DataTypes.float64, true);
}

/** The input column as strings. */
function labelColumn(schema: Schema, name: string): Column {
  const f = schema.fields[resolveField(schema, name)]!;
  return f.type.kind === 'utf8' ? col(name) : col(name).cast('string');
}

/** Up to this many labels a transform is one CASE expression; above it, a Map lookup over the batches. */
export const CASE_LIMIT = 256;
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Labels in Spark's order from (label, count) pairs. */
export function orderLabels(counts: readonly { label: string; count: number }[], order: StringOrderType): string[] {
  const sorted = [...counts];
  switch (order) {
    case 'frequencyDesc':
      sorted.sort((a, b) => b.count - a.count || byString(a.label, b.label));
      break;
    case 'frequencyAsc':
      sorted.sort((a, b) => a.count - b.count || byString(a.label, b.label));
      break;
    case 'alphabetDesc':
      sorted.sort((a, b) => byString(b.label, a.label));
      break;
    case 'alphabetAsc':
      sorted.sort((a, b) => byString(a.label, b.label));
      break;
  }
  return sorted.map((c) => c.label);
}

export class StringIndexer extends Estimator<StringIndexerParams, StringIndexerModel> {
  constructor(params: Partial<StringIndexerParams> = {}, uid?: string) {
    super(SPECS, 'StringIndexer', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<StringIndexer> {
    return (await loadStage(path, options, 'StringIndexer')) as StringIndexer;
  }

  transformSchema(schema: Schema): Schema {
    return checkSchema(this, schema);
  }

  async fit(df: DataFrame): Promise<StringIndexerModel> {
    this.transformSchema(df.schema);
    const value = labelColumn(df.schema, this.get('inputCol'));
    const rows = await df.select(value.alias('__label')).filter(col('__label').isNotNull()).groupBy('__label').count().collect();
    const counts = rows.map((r) => ({ label: String(r['__label']), count: Number(r['count']) }));
    return new StringIndexerModel(this.paramMap(), orderLabels(counts, this.get('stringOrderType')), this.uid);
  }
}

export class StringIndexerModel extends Model<StringIndexerParams> {
  readonly labels: readonly string[];

  constructor(params: Partial<StringIndexerParams>, labels: readonly string[], uid?: string) {
    super(SPECS, 'StringIndexerModel', params, uid);
    this.labels = Object.freeze([...labels]);
  }

  static async load(path: string, options?: LoadOptions): Promise<StringIndexerModel> {
    return (await loadStage(path, options, 'StringIndexerModel')) as StringIndexerModel;
  }

  transformSchema(schema: Schema): Schema {
    return checkSchema(this, schema);
  }

  /** The index of each label as a CASE expression (lazy); `otherwise` for values outside the labels. */
  private indexColumn(value: Column, otherwise: number | null): Column {
    const f64 = (i: number) => new Column(E.literal(i, DataTypes.float64));
    if (this.labels.length === 0) return otherwise === null ? new Column(E.literal(null, DataTypes.float64)) : f64(otherwise);
    let c = when(value.eq(lit(this.labels[0]!)), f64(0));
    for (let i = 1; i < this.labels.length; i++) c = c.when(value.eq(lit(this.labels[i]!)), f64(i));
    return otherwise === null ? c : c.otherwise(f64(otherwise));
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    this.transformSchema(df.schema);
    if (this.labels.length > CASE_LIMIT) return this.transformByLookup(df);
    const inputCol = this.get('inputCol');
    const value = labelColumn(df.schema, inputCol);
    const known = this.labels.length ? value.isin([...this.labels]) : lit(false);
    switch (this.get('handleInvalid')) {
      case 'keep':
        return df.withColumn(this.get('outputCol'), this.indexColumn(value, this.labels.length));
      case 'skip':
        return df.filter(known).withColumn(this.get('outputCol'), this.indexColumn(value, null));
      case 'error': {
        const bad = await df.filter(value.isNull().or(known.not())).select(value.alias('__label')).limit(1).collect();
        if (bad.length > 0) throw this.invalid(inputCol, bad[0]!['__label'] ?? null);
        return df.withColumn(this.get('outputCol'), this.indexColumn(value, null));
      }
    }
  }

  /**
   * Many labels: a lookup in a Map over the input's batches (not lazy; a CASE that long overflows the
   * compiler's stack). A join with a (label, index) table would be lazy in this process, but that table would
   * be in memory, which a remote session cannot send either.
   */
  private async transformByLookup(df: DataFrame): Promise<DataFrame> {
    const inputCol = this.get('inputCol');
    const mode = this.get('handleInvalid');
    const index = new Map(this.labels.map((l, i) => [l, i]));
    const n = this.labels.length;
    return withComputedColumns(df, [field(this.get('outputCol'), DataTypes.float64, true)], (batch) => {
      const values = batch.values(inputCol);
      const out = new Float64Array(values.length);
      const keep: number[] = [];
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        const k = v === null || v === undefined ? undefined : index.get(String(v));
        if (k === undefined) {
          if (mode === 'error') throw this.invalid(inputCol, v ?? null);
          if (mode === 'skip') continue;
        }
        out[keep.length] = k ?? n;
        keep.push(i);
      }
      const column = float64Column(keep.length === values.length ? out : out.slice(0, keep.length), null);
      return keep.length === values.length ? { columns: [column] } : { columns: [column], keep: Int32Array.from(keep) };
    });
  }

  private invalid(inputCol: string, v: unknown): DataError {
    return new DataError(
      v === null
        ? `${this.uid}: column '${inputCol}' has a NULL value; set handleInvalid to 'skip' (drop such rows) or 'keep' (index ${this.labels.length})`
        : `${this.uid}: column '${inputCol}' has the label '${String(v)}', which was not seen when fitting (${this.labels.length} labels known); set handleInvalid to 'skip' or 'keep'`,
    );
  }

  override saveState(): StageState {
    return {
      data: {
        labels: {
          schema: makeSchema([field('index', DataTypes.int64, false), field('label', DataTypes.utf8, false)]),
          rows: this.labels.map((label, index) => ({ index, label })),
        },
      },
      extra: { numLabels: this.labels.length },
    };
  }
}

registerStage('StringIndexer', (ctx) => new StringIndexer(ctx.metadata.params as Partial<StringIndexerParams>, ctx.metadata.uid));
registerStage('StringIndexerModel', async (ctx) => {
  const n = ctx.extra('numLabels', 'number') as number;
  const rows = await ctx.table('labels');
  if (rows.length !== n) throw new DataError(`'${ctx.metadataFile}': field 'extra.numLabels' is ${n} but the labels table has ${rows.length} rows`);
  const labels: string[] = new Array(n);
  for (const r of rows) labels[Number(r['index'])] = String(r['label']);
  return new StringIndexerModel(ctx.metadata.params as Partial<StringIndexerParams>, labels, ctx.metadata.uid);
});
