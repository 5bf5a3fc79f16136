// session.udf: functions a session registers for SQL and the DataFrame API, as Spark's `spark.udf`.
//
// - `register(name, fn, returnType, context?)`: a TypeScript function called once per row. It is shipped as
//   source text (checked when registered: a function that uses variables of the surrounding scope is rejected
//   with the same message as RDD functions), so a serialized plan runs on executors. Returns a callable that
//   builds a Column, like Spark's `udf(...)`. NULL semantics: see core/expr/udf.ts.
// - `registerModel(name, model, options)`: a BatchModel (core/ml/batch-model.ts) callable in SQL,
//   `SELECT path, classify(features) FROM t`. An in-memory model is saved first (to `options.uri`, or a folder
//   under the session's model root: a temporary local folder in-process, the session's folder under the
//   bucket's jobs root for a remote session) so that tasks load it with `loadStage`; the call becomes an
//   ApplyModel step (extract_model_calls).
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Expr, modelCall, udfCall } from '../expr/expr.ts';
import type { ModelDevice, ModelRef, ModelWorkerKind } from '../expr/model-ref.ts';
import { typeOf } from '../expr/type-of.ts';
import { shipFunction } from '../rdd/closure.ts';
import { isBuiltinFunctionName } from '../sql/expressions.ts';
import type { DataType } from '../types/data-type.ts';
import { typeToString } from '../types/data-type.ts';
import { AnalysisError } from '../types/errors.ts';
import { type TypeLike, toDataType } from '../types/parse-type.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { localPath, storeFor } from '../io/file-store.ts';
import { DEFAULT_BUCKET, ENV } from '../io/object-store/aws-config.ts';
import { Column, type ColumnLike, columnExpr } from './column.ts';

/** A registered TypeScript UDF: call it with columns (or names) to get a Column. */
export type UserFunction = ((...args: ColumnLike[]) => Column) & { readonly functionName: string; readonly returnType: DataType };

/** What `registerModel` needs to know beyond the model itself. */
export interface RegisterModelOptions {
  /** The model's input columns, filled by the call's arguments in order (default: the model's inputCols/inputCol/featuresCol parameter, or its first stage's). */
  readonly inputCols?: readonly string[];
  /** The model column the call returns (default: the last column the model appends, e.g. `prediction`). */
  readonly outputCol?: string;
  readonly device?: ModelDevice;
  /** Force a worker kind (default: decided when planning, from the device, the model's size and the job's options). */
  readonly workerKind?: ModelWorkerKind;
  /** The most rows handed to the model at once (halved on out-of-memory). */
  readonly maxBatchRows?: number;
  /** Folder (local or s3://) of a dead-letter table: rows whose inference fails go there instead of failing the job. */
  readonly deadLetter?: string;
  /** Modules workers import to register user-defined stage classes. */
  readonly modules?: readonly string[];
  /** Where an in-memory model is saved (default: under the session's model root). A string model is already saved there. */
  readonly uri?: string;
}

/** The part of a BatchModel the registry uses (core/ml/batch-model.ts; the SDK does not import ml statically). */
export interface ModelLike {
  transformSchema(schema: Schema): Schema;
  transformBatch(...args: never[]): Promise<unknown>;
  readonly uid?: string;
  readonly className?: string;
}

export interface RegisteredModel {
  readonly name: string;
  readonly ref: ModelRef;
  readonly inputCols: readonly string[];
  readonly outputCol: string | undefined;
  readonly model: ModelLike;
}

type Registered =
  | { readonly kind: 'udf'; readonly fn: UserFunction; readonly build: (args: readonly Expr[]) => Expr }
  | { readonly kind: 'model'; readonly model: RegisteredModel };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class UdfRegistration {
  private readonly functions = new Map<string, Registered>();

  constructor(private readonly owner: { readonly remote: unknown; readonly modelRoot?: string }) {}

  private checkName(name: string): string {
    if (!NAME.test(name)) throw new AnalysisError(`invalid function name '${name}': use letters, digits and underscores, starting with a letter`);
    if (isBuiltinFunctionName(name)) throw new AnalysisError(`cannot register '${name}': it is a built-in SQL function; choose another name`);
    return name.toLowerCase();
  }

  /**
   * Registers `fn` as a function of this session's SQL and returns it as a Column builder. `context` (optional,
   * structured-clone serializable) is passed as the function's last argument, after the column values.
   */
  register(name: string, fn: (...args: never[]) => unknown, returnType: TypeLike, context?: unknown): UserFunction {
    const key = this.checkName(name);
    const { callable, build } = userFunction(name, fn, returnType, context);
    this.functions.set(key, { kind: 'udf', fn: callable, build });
    return callable;
  }

  /** Registers a model as a SQL function; saves it first when it is in memory. */
  async registerModel(name: string, model: ModelLike | string, options: RegisterModelOptions = {}): Promise<RegisteredModel> {
    const key = this.checkName(name);
    const { ref, model: live } = await this.prepareModel(name, model, options);
    const inputCols = options.inputCols ?? inferInputCols(live);
    if (!inputCols || inputCols.length === 0) {
      throw new AnalysisError(`registerModel('${name}'): cannot tell which columns ${live.className ?? 'the model'} reads; pass { inputCols: [...] }`);
    }
    const registered: RegisteredModel = Object.freeze({ name, ref, inputCols: Object.freeze([...inputCols]), outputCol: options.outputCol, model: live });
    this.functions.set(key, { kind: 'model', model: registered });
    return registered;
  }

  /**
   * The reference tasks load the model by: an in-memory model is saved (to `options.uri` or under the model root),
   * a string is the URI of a saved one (loaded here, for its schema). Also used by `df.applyModel`.
   */
  async prepareModel(name: string, model: ModelLike | string, options: RegisterModelOptions = {}): Promise<{ ref: ModelRef; model: ModelLike }> {
    let live: ModelLike;
    let uri: string;
    if (typeof model === 'string') {
      uri = model;
      const ml = await import('../ml/index.ts');
      live = (await ml.loadStage(uri)) as unknown as ModelLike;
    } else {
      live = model;
      uri = options.uri ?? this.defaultUri(name);
      const save = (model as { save?(path: string, o: { overwrite: boolean }): Promise<void> }).save;
      if (typeof save !== 'function') throw new AnalysisError(`${name}: the model cannot be saved (no save()), so executors could not load it; pass the URI of a saved model`);
      await save.call(model, uri, { overwrite: options.uri !== undefined });
    }
    if (typeof live.transformBatch !== 'function' || typeof live.transformSchema !== 'function') {
      throw new AnalysisError(`${name}: the model (${live.className ?? 'unknown class'}) cannot run on record batches (no transformBatch)`);
    }
    const ref: ModelRef = Object.freeze({
      uri,
      className: live.className ?? 'unknown',
      bytes: await folderBytes(uri),
      device: options.device ?? 'auto',
      ...(options.workerKind ? { workerKind: options.workerKind } : {}),
      ...(options.maxBatchRows ? { maxBatchRows: options.maxBatchRows } : {}),
      ...(options.deadLetter ? { deadLetter: options.deadLetter } : {}),
      ...(options.modules ? { modules: Object.freeze([...options.modules]) } : {}),
    });
    return { ref, model: live };
  }

  /** The call of registered function `name` over `args` (evaluated over `schema`), for SQL; undefined when not registered. */
  lookup(name: string): ((args: readonly Expr[], schema: Schema) => Expr) | undefined {
    const r = this.functions.get(name.toLowerCase());
    if (!r) return undefined;
    if (r.kind === 'udf') return (args) => r.build(args);
    return (args, schema) => modelCallExpr(r.model, args, schema);
  }

  /** Names of the registered functions. */
  list(): string[] {
    return [...this.functions.keys()];
  }

  /**
   * Where an in-memory model is saved: under `modelRoot` when the session has one; for a remote session under
   * SQUALL_MODEL_ROOT, else the session's folder under the project bucket's jobs root
   * (`s3://<SQUALL_BUCKET>/jobs/_models/<session>/`), which executors can read and the bucket's lifecycle rule
   * expires with job scratch; in-process, a temporary local folder.
   */
  private defaultUri(name: string): string {
    const leaf = `${name}-${randomUUID()}`;
    if (this.owner.modelRoot) return `${this.owner.modelRoot.replace(/\/+$/, '')}/${leaf}`;
    if (this.owner.remote) {
      const root = process.env.SQUALL_MODEL_ROOT ?? `s3://${process.env[ENV.bucket] || DEFAULT_BUCKET}/jobs/_models/${this.sessionKey}`;
      return `${root.replace(/\/+$/, '')}/${leaf}`;
    }
    return join(tmpdir(), 'squall-models', `${process.pid}`, leaf);
  }

  private readonly sessionKey = randomUUID();
}

/** A UDF's Column builder and call builder: the function checked and shipped as source text (see `register`). */
export function userFunction(
  name: string,
  fn: (...args: never[]) => unknown,
  returnType: TypeLike,
  context?: unknown,
): { callable: UserFunction; build: (args: readonly Expr[]) => Expr } {
  const shipped = shipFunction(fn, name, context);
  const type = toDataType(returnType);
  if (type.kind === 'null') throw new AnalysisError(`${name}: the return type of a user function cannot be null`);
  const ref = Object.freeze({ source: shipped.source, context: shipped.context ? Buffer.from(shipped.context).toString('base64') : null });
  const build = (args: readonly Expr[]): Expr => udfCall(name, ref, type, args);
  const callable = ((...args: ColumnLike[]) => new Column(build(args.map(columnExpr)))) as UserFunction;
  Object.defineProperty(callable, 'functionName', { value: name });
  Object.defineProperty(callable, 'returnType', { value: type });
  return { callable, build };
}

/** A model call: the argument types give the model's input schema, from which the model types its output. */
export function modelCallExpr(m: RegisteredModel, args: readonly Expr[], schema: Schema): Expr {
  if (args.length !== m.inputCols.length) {
    throw new AnalysisError(`model function ${m.name}() takes ${m.inputCols.length} argument${m.inputCols.length === 1 ? '' : 's'} (${m.inputCols.join(', ')}), got ${args.length}`);
  }
  const input = makeSchema(args.map((a, i) => field(m.inputCols[i]!, typeOf(a, schema), true)));
  let out: Schema;
  try {
    out = m.model.transformSchema(input);
  } catch (e) {
    throw new AnalysisError(`model function ${m.name}(): ${(e as Error).message} (arguments: ${input.fields.map((f) => `${f.name} ${typeToString(f.type)}`).join(', ')})`, { cause: e });
  }
  const added = out.fields.slice(input.fields.length);
  if (added.length === 0) throw new AnalysisError(`model function ${m.name}(): the model adds no columns`);
  const chosen = m.outputCol === undefined ? added[added.length - 1]! : added.find((f) => f.name === m.outputCol);
  if (!chosen) throw new AnalysisError(`model function ${m.name}(): outputCol '${m.outputCol}' is not a column the model adds (it adds ${added.map((f) => f.name).join(', ')})`);
  return modelCall(m.name, m.ref, m.inputCols, { name: chosen.name, type: chosen.type, nullable: chosen.nullable }, args);
}

/** The columns a stage reads, from its conventional parameters (a pipeline: its first stage's). */
export function inferInputCols(model: unknown): string[] | undefined {
  const m = model as { paramNames?: readonly string[]; get?(n: string): unknown; isDefined?(n: string): boolean; stages?: readonly unknown[] };
  if (Array.isArray(m.stages) && m.stages.length) return inferInputCols(m.stages[0]);
  const names = m.paramNames ?? [];
  const value = (n: string) => (names.includes(n) && (m.isDefined?.(n) ?? true) ? m.get?.(n) : undefined);
  const cols = value('inputCols');
  if (Array.isArray(cols) && cols.every((c) => typeof c === 'string')) return cols as string[];
  for (const n of ['inputCol', 'featuresCol']) {
    const c = value(n);
    if (typeof c === 'string') return [c];
  }
  return undefined;
}

/** Bytes of a saved stage (every file under its folder). */
async function folderBytes(uri: string): Promise<number> {
  const store = storeFor(uri);
  const root = store.remote ? uri.replace(/\/+$/, '') : localPath(uri);
  let total = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    for (const e of await store.list(dir)) {
      const path = store.join(dir, e.name);
      if (e.kind === 'dir') await walk(path, depth + 1);
      else total += (await store.stat(path))?.size ?? 0;
    }
  };
  await walk(root, 0);
  return total;
}


