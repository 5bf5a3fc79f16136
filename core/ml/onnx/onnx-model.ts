// OnnxModel: applies an ONNX model to fixed-size float32 vector columns. Each input column becomes a tensor
// [rows, size] fed to a model input (or [rows, ...dims] when the input declares fixed dims of that many values,
// e.g. a vector of 784 for an input [N, 1, 28, 28]); each model output becomes a column — vector<float32>[k] when outputSizes
// says k, a double when it says 0 (one value per row). Rows with a NULL input get NULL outputs. Naming an
// intermediate tensor in outputNames cuts the graph there (./graph-cut.ts).
//
// One code path: `transformBatch` (the BatchModel contract, ../batch-model.ts) does the work, and
// `transform(df)` runs it over the DataFrame's batches in this process. Models are loaded once per process
// (./loaded-models.ts); `save()` copies the model file into the saved stage (./model-location.ts).
import type * as arrow from 'apache-arrow';
import type { DataFrame } from '../../sdk/dataframe.ts';
import { type DataType, DataTypes } from '../../types/data-type.ts';
import { AnalysisError, DataError } from '../../types/errors.ts';
import { type Field, type Schema, field, resolveField } from '../../types/schema.ts';
import type { ColumnData } from '../../arrow/column.ts';
import { type StageState, Transformer, VECTOR_TYPE, appendColumn, isVector, requireColumn } from '../base.ts';
import { type BatchContext, type BatchModel, localBatchContext } from '../batch-model.ts';
import { batchView, computeBatch, float64Column, transformBatches, vectorColumn } from '../batches.ts';
import { type ParamSpecs, param } from '../params.ts';
import { type LoadOptions, loadStage, registerStage } from '../persistence.ts';
import { describeOnnxModel, perRowSize } from './describe-model.ts';
import { loadOnnxModel } from './loaded-models.ts';
import { MODEL_FILE, type SavedModelCopy, modelLocation } from './model-location.ts';
import { bitmapOf, inferInSubBatches, validRows } from './run-batches.ts';
import { type TensorData, rowWidth } from './tensor.ts';

export interface OnnxModelParams {
  modelUri: string;
  inputCols: readonly string[];
  inputNames: readonly string[];
  outputCols: readonly string[];
  outputNames: readonly string[];
  outputSizes: readonly number[];
  batchSize: number;
}

const SPECS: ParamSpecs<OnnxModelParams> = {
  modelUri: param.string('the .onnx file: a local path, file:// or s3:// URI'),
  inputCols: param.strings('input columns, each a vector<float32>[d] fed as a tensor [rows, d]'),
  inputNames: param.strings("the model input each input column feeds, in order; [] for the model's inputs in their order", []),
  outputCols: param.strings('output columns, one per model output'),
  outputNames: param.strings("the model outputs (or intermediate tensors) giving the output columns, in order; [] for the model's outputs in their order", []),
  outputSizes: param.numbers('per output column: k ≥ 1 for vector<float32>[k] (k values per row), 0 for a double (one value per row)'),
  batchSize: param.number('rows handed to the runtime at once (a task may ask for fewer; halved on out-of-memory)', 256, { min: 1, integer: true }),
};

export class OnnxModel extends Transformer<OnnxModelParams> implements BatchModel {
  private readonly savedCopy: SavedModelCopy | null;

  constructor(params: Partial<OnnxModelParams> = {}, uid?: string, savedCopy: SavedModelCopy | null = null) {
    super(SPECS, 'OnnxModel', params, uid);
    this.savedCopy = savedCopy;
  }

  static async load(path: string, options?: LoadOptions): Promise<OnnxModel> {
    return (await loadStage(path, options, 'OnnxModel')) as OnnxModel;
  }

  /**
   * An OnnxModel whose outputSizes (and output names, when outputNames is not given) come from what the model
   * declares: an output [N] becomes a double column, [N, k, …] with fixed dims a vector of their product. An
   * output with dynamic dims needs outputSizes given.
   */
  static async forModel(params: Partial<OnnxModelParams> & Pick<OnnxModelParams, 'modelUri' | 'inputCols' | 'outputCols'>): Promise<OnnxModel> {
    if (params.outputSizes) return new OnnxModel(params);
    const described = await describeOnnxModel(params.modelUri);
    const names = params.outputNames?.length ? params.outputNames : described.outputs.slice(0, params.outputCols.length).map((o) => o.name);
    const outputSizes = names.map((name, j) => {
      const info = described.outputs.find((o) => o.name === name);
      const size = info ? perRowSize(info) : null;
      if (size === null) {
        const shape = info?.shape ? `[${info.shape.join(', ')}]` : 'no declared shape';
        throw new AnalysisError(`OnnxModel.forModel: output '${name}' of '${params.modelUri}' has ${info ? shape : 'no declaration (an intermediate tensor)'}, so its size per row is not known; give outputSizes (column '${params.outputCols[j] ?? '?'}')`);
      }
      return size;
    });
    return new OnnxModel({ ...params, outputSizes });
  }

  /** Where the model is read from (the saved copy for a loaded stage). */
  get modelLocation(): string {
    return modelLocation(this.get('modelUri'), this.savedCopy);
  }

  /** The output fields, after checking the parameters agree with each other. */
  private outputFields(): Field[] {
    const cols = this.get('outputCols');
    const sizes = this.get('outputSizes');
    const names = this.get('outputNames');
    if (cols.length === 0) throw new AnalysisError(`${this.uid}: outputCols is empty; name a column for each model output`);
    if (sizes.length !== cols.length) throw new AnalysisError(`${this.uid}: outputSizes has ${sizes.length} values but outputCols has ${cols.length} columns; give one size per output column`);
    if (names.length > 0 && names.length !== cols.length) throw new AnalysisError(`${this.uid}: outputNames has ${names.length} names but outputCols has ${cols.length} columns`);
    return cols.map((c, j) => {
      const k = sizes[j]!;
      if (!Number.isInteger(k) || k < 0) throw new AnalysisError(`${this.uid}: outputSizes[${j}] must be an integer ≥ 0 (0: a double per row), got ${k}`);
      const type: DataType = k === 0 ? DataTypes.float64 : DataTypes.vector(k);
      return field(c, type, true);
    });
  }

  transformSchema(schema: Schema): Schema {
    const inputs = this.get('inputCols');
    if (inputs.length === 0) throw new AnalysisError(`${this.uid}: inputCols is empty; name the vector columns the model reads`);
    const names = this.get('inputNames');
    if (names.length > 0 && names.length !== inputs.length) throw new AnalysisError(`${this.uid}: inputNames has ${names.length} names but inputCols has ${inputs.length} columns`);
    for (const c of inputs) requireColumn(this, schema, c, isVector, VECTOR_TYPE);
    return this.outputFields().reduce((s, f) => appendColumn(this, s, f.name, f.type, f.nullable), schema);
  }

  async transform(df: DataFrame): Promise<DataFrame> {
    return transformBatches(df, this, localBatchContext());
  }

  async transformBatch(batch: arrow.RecordBatch, schema: Schema, context: BatchContext): Promise<arrow.RecordBatch> {
    this.transformSchema(schema);
    const fields = this.outputFields();
    const n = batch.numRows;
    const view = batchView(batch, schema);
    const inputCols = this.get('inputCols');
    const inputs = inputCols.map((c) => vectorInput(view.data(c), schema.fields[resolveField(schema, c)]!.type));
    const rows = validRows(n, inputs.map((i) => i.valid));
    const outputs = fields.map((f) => f.type.kind === 'vector' ? new Float32Array(n * f.type.size) : new Float64Array(n));
    if (rows.length > 0) {
      const model = await loadOnnxModel({ location: this.modelLocation, exposed: this.get('outputNames') }, context.device);
      const inputNames = this.get('inputNames').length > 0 ? this.get('inputNames') : model.inputNames;
      const outputNames = this.get('outputNames').length > 0 ? this.get('outputNames') : model.outputNames;
      if (inputNames.length !== inputCols.length) {
        throw new DataError(`${this.uid}: the model '${this.get('modelUri')}' has ${inputNames.length} inputs (${inputNames.join(', ')}) but inputCols has ${inputCols.length} columns; set inputNames`);
      }
      if (outputNames.length < fields.length) {
        throw new DataError(`${this.uid}: the model '${this.get('modelUri')}' has ${outputNames.length} outputs (${outputNames.join(', ')}) but outputCols has ${fields.length} columns`);
      }
      const fetch = outputNames.slice(0, fields.length);
      const rowDims = inputs.map((input, c) => tensorRowDims(model.inputShapes[inputNames[c]!], input.size));
      await inferInSubBatches(
        model,
        {
          rows: rows.length,
          batchSize: this.get('batchSize'),
          outputNames: fetch,
          feeds: (start, end) => {
            const feeds: Record<string, TensorData> = {};
            inputs.forEach((input, c) => {
              feeds[inputNames[c]!] = { data: gatherRows(input.values, input.size, rows, start, end, n), dims: [end - start, ...rowDims[c]!] };
            });
            return feeds;
          },
          take: (result, start, end) => {
            fields.forEach((f, j) => {
              const t = result[fetch[j]!]!;
              const k = f.type.kind === 'vector' ? f.type.size : 1;
              if (t.dims[0] !== end - start || rowWidth(t) !== k) {
                throw new DataError(
                  `${this.uid}: model output '${fetch[j]}' has shape [${t.dims.join(', ')}] for ${end - start} rows, but column '${f.name}' expects ${k} value${k === 1 ? '' : 's'} per row; set outputSizes[${j}] to ${t.dims[0] === end - start ? rowWidth(t) : 'the per-row size'}`,
                );
              }
              scatterRows(t.data, k, rows, start, end, outputs[j]!);
            });
          },
        },
        context,
      );
    }
    const valid = bitmapOf(rows, n);
    const columns = fields.map((f, j) => (f.type.kind === 'vector' ? vectorColumn(f.type as DataType & { kind: 'vector' }, outputs[j] as Float32Array, n, valid) : float64Column(outputs[j] as Float64Array, valid)));
    return computeBatch(batch, schema, fields, () => ({ columns }));
  }

  override saveState(): StageState {
    return { files: { [MODEL_FILE]: this.modelLocation } };
  }
}

/** A vector column's values (rows × size, contiguous: batches hold unsliced data) and validity. */
function vectorInput(data: ColumnData, type: DataType): { size: number; values: Float32Array; valid: Uint8Array | null } {
  return { size: (type as { size: number }).size, values: data.children[0]!.values as Float32Array, valid: data.nullCount > 0 ? (data.nullBitmap ?? null) : null };
}

/** The values of rows[start..end) (each `width` wide) as one tensor's data; a view when every row of the batch is there. */
function gatherRows(values: Float32Array, width: number, rows: Int32Array, start: number, end: number, batchRows: number): Float32Array {
  if (rows.length === batchRows) return values.subarray(start * width, end * width);
  const out = new Float32Array((end - start) * width);
  for (let r = start; r < end; r++) out.set(values.subarray(rows[r]! * width, (rows[r]! + 1) * width), (r - start) * width);
  return out;
}

/** Writes a tensor's rows (each `width` wide) for rows[start..end) to their places in `out`. */
function scatterRows(data: Float32Array, width: number, rows: Int32Array, start: number, end: number, out: Float32Array | Float64Array): void {
  for (let r = start; r < end; r++) {
    const at = rows[r]! * width;
    for (let x = 0; x < width; x++) out[at + x] = data[(r - start) * width + x]!;
  }
}

/** The dims of one row of an input: the declared ones when they are fixed and hold `size` values, else [size]. */
function tensorRowDims(declared: readonly (number | string)[] | undefined, size: number): number[] {
  const rest = declared?.slice(1) ?? [];
  if (rest.length > 1 && rest.every((d) => typeof d === 'number' && d > 0) && (rest as number[]).reduce((a, b) => a * b, 1) === size) return rest as number[];
  return [size];
}

registerStage('OnnxModel', (ctx) => {
  const params = ctx.metadata.params as Partial<OnnxModelParams>;
  return new OnnxModel(params, ctx.metadata.uid, { savedFrom: String(params.modelUri ?? ''), location: ctx.file(MODEL_FILE) });
});
