// A small BatchModel for inference tests: `outputCol = inputCol * factor` (float64), with deliberate failures
// (a value that makes the model throw; batches above a size that fail as out-of-memory) so adaptive batching and
// dead letters can be checked exactly. Workers load it through ModelRef.modules (this file's path).
import * as arrow from 'apache-arrow';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { columnData, makeBatch, makeColumn } from '../../../core/arrow/column.ts';
import { Transformer } from '../../../core/ml/base.ts';
import type { BatchContext, BatchModel } from '../../../core/ml/batch-model.ts';
import { transformBatches } from '../../../core/ml/batches.ts';
import { param } from '../../../core/ml/params.ts';
import { registerStage } from '../../../core/ml/persistence.ts';
import { columnValues } from '../../../core/sdk/rows.ts';
import type { DataFrame } from '../../../core/sdk/dataframe.ts';
import { DataTypes } from '../../../core/types/data-type.ts';
import { AnalysisError } from '../../../core/types/errors.ts';
import { type Schema, field, resolveField, schema as makeSchema } from '../../../core/types/schema.ts';

export const TEST_MODELS_MODULE = fileURLToPath(import.meta.url);

interface ScaleParams {
  inputCol: string;
  outputCol: string;
  factor: number;
  /** An input value the model refuses (throws), as a model fails on a corrupt image. */
  failOn: number;
  /** Batches of more rows than this fail with an out-of-memory error (0: never). */
  oomAbove: number;
  /** A file path: the first worker to run a batch creates it and exits mid-batch (a crash); '' never crashes. Only in worker processes that allow faults. */
  crashMarker: string;
}

const SPECS = {
  inputCol: param.string('input column (numeric)', 'x'),
  outputCol: param.string('output column', 'scaled'),
  factor: param.number('multiplier', 2),
  failOn: param.number('value that makes the model throw', 1e300),
  oomAbove: param.number('batch rows above which the model runs out of memory (0: never)', 0, { min: 0, integer: true }),
  crashMarker: param.string('file whose absence makes the worker crash mid-batch (once)', ''),
};

export class ScaleModel extends Transformer<ScaleParams> implements BatchModel {
  /** Row counts of every batch the model was given, in this process. */
  static readonly calls: number[] = [];

  constructor(params: Partial<ScaleParams> = {}, uid?: string) {
    super(SPECS, 'TestScaleModel', params, uid);
  }

  transformSchema(schema: Schema): Schema {
    const f = schema.fields[resolveField(schema, this.get('inputCol'))]!;
    if (!['int32', 'int64', 'float64', 'decimal'].includes(f.type.kind)) throw new AnalysisError(`${this.uid}: column '${f.name}' must be numeric`);
    return makeSchema([...schema.fields, field(this.get('outputCol'), DataTypes.float64, true)]);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    return transformBatches(df, this);
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, context: BatchContext): Promise<arrow.RecordBatch> {
    ScaleModel.calls.push(batch.numRows);
    const marker = this.get('crashMarker');
    // Exactly one worker crashes: the marker is claimed with an exclusive create ('wx'), not a check-then-write,
    // which two worker processes running tasks of the stage at once could both pass (retries 2, not 1).
    if (marker && process.env.SQUALL_ALLOW_FAULTS === '1' && claim(marker)) {
      process.stderr.write(`TestScaleModel: crashing mid-batch (${batch.numRows} rows)\n`);
      process.exit(1);
    }
    const oom = this.get('oomAbove');
    if (oom > 0 && batch.numRows > oom) throw new RangeError(`Array buffer allocation failed (out of memory for ${batch.numRows} rows)`);
    const idx = resolveField(schema, this.get('inputCol'));
    const values = columnValues(columnData(batch, idx), schema.fields[idx]!.type);
    const out = new Float64Array(batch.numRows);
    const valid = new Uint8Array(Math.ceil(batch.numRows / 8));
    const failOn = this.get('failOn');
    values.forEach((v, i) => {
      if (v === null) return;
      if (Number(v) === failOn) throw new Error(`cannot score value ${failOn}`);
      out[i] = Number(v) * this.get('factor');
      valid[i >> 3]! |= 1 << (i & 7);
    });
    context.report('provider', context.device === 'gpu' ? 'test-gpu' : 'test-cpu');
    const cols = batch.schema.fields.map((_, i) => columnData(batch, i));
    const fields = [...batch.schema.fields, new arrow.Field(this.get('outputCol'), new arrow.Float64(), true)];
    return makeBatch(new arrow.Schema(fields), [...cols, makeColumn(DataTypes.float64, batch.numRows, out, valid)], batch.numRows);
  }
}

registerStage('TestScaleModel', (ctx) => new ScaleModel(ctx.metadata.params as Partial<ScaleParams>, ctx.metadata.uid));

/** Creates `path` if nobody has: true for the one caller that did. */
function claim(path: string): boolean {
  try {
    writeFileSync(path, `${process.pid}`, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}
