// IndexToString: label indices (e.g. a prediction column) → the labels a StringIndexerModel kept, as Spark's.
// LAZY: a CASE expression in the DataFrame's plan. Spark reads the labels from column metadata, which Squall's
// schemas do not carry, so `labels` is a parameter (`new IndexToString({ labels: indexerModel.labels, ... })`).
// An index outside 0..labels.length−1 (or NULL) gives NULL. Above CASE_LIMIT labels it is an array lookup over
// the input's batches instead (not lazy).
import type { DataFrame } from '../../sdk/dataframe.ts';
import { Column } from '../../sdk/column.ts';
import { col, lit, when } from '../../sdk/functions.ts';
import * as E from '../../expr/expr.ts';
import { DataTypes } from '../../types/data-type.ts';
import { type Schema, field } from '../../types/schema.ts';
import { makeStringColumn } from '../../arrow/column.ts';
import { toNumber, withComputedColumns } from '../batches.ts';
import { CASE_LIMIT } from './string-indexer.ts';
import { NUMERIC_TYPE, Transformer, appendColumn, isNumber, requireColumn } from '../base.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';

export interface IndexToStringParams {
  inputCol: string;
  outputCol: string;
  labels: readonly string[];
}

const SPECS: ParamSpecs<IndexToStringParams> = {
  inputCol: param.string('input column of label indices (numeric)'),
  outputCol: param.string('output column of labels (string)'),
  labels: param.strings('the labels, by index (a StringIndexerModel\'s labels)'),
};

export class IndexToString extends Transformer<IndexToStringParams> {
  constructor(params: Partial<IndexToStringParams> = {}, uid?: string) {
    super(SPECS, 'IndexToString', params, uid);
  }

  static async load(path: string, options?: LoadOptions): Promise<IndexToString> {
    return (await loadStage(path, options, 'IndexToString')) as IndexToString;
  }

  transformSchema(schema: Schema): Schema {
    requireColumn(this, schema, this.get('inputCol'), isNumber, NUMERIC_TYPE);
    this.get('labels');
    return appendColumn(this, schema, this.get('outputCol'), DataTypes.utf8, true);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    this.transformSchema(df.schema);
    const labels = this.get('labels');
    const index = col(this.get('inputCol'));
    if (labels.length === 0) return df.withColumn(this.get('outputCol'), new Column(E.literal(null, DataTypes.utf8)));
    if (labels.length > CASE_LIMIT) {
      // Too many branches for one CASE: an array lookup over the input's batches (not lazy).
      const inputCol = this.get('inputCol');
      return withComputedColumns(df, [field(this.get('outputCol'), DataTypes.utf8, true)], (batch) => {
        const out = batch.values(inputCol).map((v) => {
          const i = toNumber(v);
          return i !== null && Number.isInteger(i) && i >= 0 && i < labels.length ? labels[i]! : null;
        });
        return { columns: [makeStringColumn(out)] };
      });
    }
    let c = when(index.eq(0), lit(labels[0]!));
    for (let i = 1; i < labels.length; i++) c = c.when(index.eq(i), lit(labels[i]!));
    return df.withColumn(this.get('outputCol'), c);
  }
}

registerStage('IndexToString', (ctx) => new IndexToString(ctx.metadata.params as Partial<IndexToStringParams>, ctx.metadata.uid));
