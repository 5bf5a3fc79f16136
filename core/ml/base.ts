// The shapes of Spark ML: a PipelineStage has parameters and checks a schema (`transformSchema`) before anything
// runs; a Transformer maps a DataFrame to a DataFrame; an Estimator fits a Model (a Transformer) to a DataFrame.
//
// `transform` and `fit` return Promises. Fitting reads data, so it is an action. A transform is lazy (a new plan
// over the input's) when the engine's expressions can compute it — StringIndexerModel is a CASE expression —
// but the expression engine does not compute on vectors (it only selects them), so stages that produce vectors
// (VectorAssembler, StandardScalerModel, LogisticRegressionModel) run the input and compute their columns over
// its record batches, one batch (partition) at a time, returning an in-memory DataFrame (see ./batches.ts).
// Each stage's comment says which it is.
import type { DataFrame } from '../sdk/dataframe.ts';
import { type DataType, isNumeric, typeToString } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import { type Field, type Schema, field, resolveField, schema as makeSchema } from '../types/schema.ts';
import { Params } from './params.ts';
import type { DataTable } from './persistence.ts';

/** What a stage saves beyond its parameters (see ./persistence.ts). */
export interface StageState {
  /** Tables written as Parquet, by name. */
  readonly data?: Readonly<Record<string, DataTable>>;
  /** Small JSON values kept in the metadata (sizes, class counts). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Nested stages (pipelines), each saved in its own directory. */
  readonly stages?: readonly PipelineStage[];
  /** Files copied into the saved stage as they are, by name → where they are now (local path, file:// or s3://). */
  readonly files?: Readonly<Record<string, string>>;
}

export interface SaveOptions {
  /** Replace a model already saved at the path (Spark's `write.overwrite()`); otherwise that is an error. */
  readonly overwrite?: boolean;
}

export abstract class PipelineStage<P extends object = any> extends Params<P> {
  /** The output schema for an input schema; throws an AnalysisError naming the column when the input does not fit. */
  abstract transformSchema(schema: Schema): Schema;

  /** What `save` writes beyond the parameters; stages with fitted state override it. */
  saveState(): StageState {
    return {};
  }

  /** Saves this stage to a directory (local path or s3://): JSON metadata plus Parquet data, committed atomically. */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    const { saveStage } = await import('./persistence.ts');
    await saveStage(this, path, options);
  }
}

export abstract class Transformer<P extends object = any> extends PipelineStage<P> {
  abstract transform(df: DataFrame): Promise<DataFrame>;
}

export abstract class Model<P extends object = any> extends Transformer<P> {}

export abstract class Estimator<P extends object = any, M extends Model = Model> extends PipelineStage<P> {
  abstract fit(df: DataFrame): Promise<M>;
}

// ---- schema checks ----

export const VECTOR_TYPE = 'a vector (vector<float32>[n])';
export const NUMERIC_TYPE = 'numeric (int, bigint, double or decimal)';

/** The field `name` of `schema`, which must satisfy `accept`: the error names the stage, the column, the type expected and the type found. */
export function requireColumn(stage: PipelineStage, schema: Schema, name: string, accept: (t: DataType) => boolean, expected: string): Field {
  let i: number;
  try {
    i = resolveField(schema, name);
  } catch (e) {
    throw new AnalysisError(`${stage.uid}: input column '${name}' is missing: ${(e as Error).message}`, { cause: e });
  }
  const f = schema.fields[i]!;
  if (!accept(f.type)) {
    throw new AnalysisError(`${stage.uid}: column '${name}' must be ${expected}, but it is ${typeToString(f.type)}`);
  }
  return f;
}

export const isVector = (t: DataType): boolean => t.kind === 'vector';
export const isNumber = (t: DataType): boolean => isNumeric(t);

/** `schema` with a new column `name`; fails if the column already exists (as Spark). */
export function appendColumn(stage: PipelineStage, schema: Schema, name: string, type: DataType, nullable = true): Schema {
  if (schema.fields.some((f) => f.name.toLowerCase() === name.toLowerCase())) {
    throw new AnalysisError(`${stage.uid}: output column '${name}' already exists; choose another output column name`);
  }
  return makeSchema([...schema.fields, field(name, type, nullable)]);
}
