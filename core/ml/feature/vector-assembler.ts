// VectorAssembler: numeric columns and vectors → one float32 vector column, as Spark's. Not lazy: the expression
// engine does not build vectors, so it runs over the input's batches (../batches.ts), one batch at a time; the
// same per-batch map is its `transformBatch` (a BatchModel, see ../batch-model.ts).
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { DataTypes } from '../../types/data-type.ts';
import { AnalysisError, DataError } from '../../types/errors.ts';
import { type Field, type Schema, field } from '../../types/schema.ts';
import { Transformer, appendColumn, requireColumn } from '../base.ts';
import type { BatchContext, BatchModel } from '../batch-model.ts';
import { type BatchView, type ComputedColumns, toNumber, transformBatchComputed, transformComputed, vectorColumn } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { registerStage } from '../persistence.ts';

export type HandleInvalid = 'error' | 'skip' | 'keep';

export interface VectorAssemblerParams {
  inputCols: readonly string[];
  outputCol: string;
  handleInvalid: HandleInvalid;
}

const SPECS: ParamSpecs<VectorAssemblerParams> = {
  inputCols: param.strings('input columns: numeric (int, bigint, double, decimal, boolean) or vectors'),
  outputCol: param.string('output vector column', 'features'),
  handleInvalid: param.oneOf(
    "what to do with NULL and NaN inputs: 'error' fails, 'skip' drops the row, 'keep' puts NaN in the vector",
    ['error', 'skip', 'keep'] as const,
    'error',
  ),
};

export class VectorAssembler extends Transformer<VectorAssemblerParams> implements BatchModel {
  constructor(params: Partial<VectorAssemblerParams> = {}, uid?: string) {
    super(SPECS, 'VectorAssembler', params, uid);
  }

  static async load(path: string): Promise<VectorAssembler> {
    const { loadStage } = await import('../persistence.ts');
    return (await loadStage(path, {}, 'VectorAssembler')) as VectorAssembler;
  }

  /** The width each input column contributes. */
  private widths(schema: Schema): number[] {
    const cols = this.get('inputCols');
    if (cols.length === 0) throw new AnalysisError(`${this.uid}: inputCols is empty; name at least one column`);
    return cols.map((c) => {
      const f = requireColumn(this, schema, c, (t) => t.kind === 'vector' || t.kind === 'bool' || t.kind === 'int32' || t.kind === 'int64' || t.kind === 'float64' || t.kind === 'decimal', 'numeric, boolean or a vector');
      return f.type.kind === 'vector' ? f.type.size : 1;
    });
  }

  transformSchema(schema: Schema): Schema {
    const size = this.widths(schema).reduce((a, b) => a + b, 0);
    return appendColumn(this, schema, this.get('outputCol'), DataTypes.vector(size), false);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    return transformComputed(df, this, (s) => this.batchComputation(s));
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, _context?: BatchContext): Promise<arrow.RecordBatch> {
    return transformBatchComputed(batch, schema, (s) => this.batchComputation(s));
  }

  /** The column added and the per-batch map that computes it, for input `schema`. */
  private batchComputation(schema: Schema): { fields: Field[]; compute: (batch: BatchView) => ComputedColumns } {
    const out = this.transformSchema(schema);
    const type = out.fields[out.fields.length - 1]!.type as { kind: 'vector'; size: number };
    const widths = this.widths(schema);
    const cols = this.get('inputCols');
    const mode = this.get('handleInvalid');
    const compute = (batch: BatchView): ComputedColumns => {
      const n = batch.numRows;
      const inputs = cols.map((c) => batch.values(c));
      const values = new Float32Array(n * type.size);
      const keep: number[] = [];
      let w = 0;
      for (let i = 0; i < n; i++) {
        let at = w * type.size;
        let invalid = false;
        for (let c = 0; c < cols.length; c++) {
          const v = inputs[c]![i];
          const width = widths[c]!;
          if (v instanceof Float32Array) {
            for (let k = 0; k < width; k++) {
              if (Number.isNaN(v[k]!)) invalid = true;
              values[at + k] = v[k]!;
            }
          } else {
            const x = toNumber(v);
            if (x === null || Number.isNaN(x)) {
              invalid = true;
              for (let k = 0; k < width; k++) values[at + k] = Number.NaN;
            } else values[at] = x;
          }
          if (invalid && mode === 'error') {
            throw new DataError(
              `${this.uid}: column '${cols[c]}' is ${v === null ? 'NULL' : 'NaN'} in row ${i + 1} of a batch; set handleInvalid to 'skip' (drop such rows) or 'keep' (NaN)`,
            );
          }
          at += width;
        }
        if (invalid && mode === 'skip') continue;
        keep.push(i); // its values were written at slot w
        w++;
      }
      // Kept rows are packed at the front of `values`; `keep` selects the matching input rows.
      const column = vectorColumn(type, w === n ? values : values.slice(0, w * type.size), w, null);
      return w === n ? { columns: [column] } : { columns: [column], keep: Int32Array.from(keep) };
    };
    return { fields: [field(this.get('outputCol'), type, false)], compute };
  }
}

registerStage('VectorAssembler', (ctx) => new VectorAssembler(ctx.metadata.params as Partial<VectorAssemblerParams>, ctx.metadata.uid));
