// What a plan says about a user function or a model it calls, as plain JSON-serializable data: a TypeScript UDF
// travels as its source text (checked for captured variables when it is registered, re-created in a fresh
// node:vm context where it runs), a model as the URI of its persisted stage (core/ml/persistence.ts) that the
// task loads with `loadStage`. Neither carries a function or a class instance, so plans stay data.

/** A user function shipped as source text (see core/rdd/closure.ts `shipFunction`). */
export interface ShippedUdf {
  /** JavaScript expression text evaluating to the function. */
  readonly source: string;
  /** The explicit context argument, structured-clone serialized (v8.serialize) as base64; null when none. */
  readonly context: string | null;
}

/** Where a model stage runs: its own kind of worker (DESIGN.md "Worker kinds"). Same strings as physical WorkerKind. */
export type ModelWorkerKind = 'lambda' | 'container' | 'container-gpu';

/** Same strings as core/ml/batch-model.ts `InferenceDevice` (the expression layer cannot import ml). */
export type ModelDevice = 'auto' | 'cpu' | 'gpu';

export interface ModelRef {
  /** The persisted stage (local folder, `file://` or `s3://`): what tasks `loadStage`. */
  readonly uri: string;
  /** The stage's class (for messages and explain). */
  readonly className: string;
  /** Bytes of the persisted stage; a large model goes to a container worker even without a GPU. */
  readonly bytes: number;
  /** Chosen explicitly; absent: decided by the physical planner from `device`, `bytes` and the job's options. */
  readonly workerKind?: ModelWorkerKind;
  readonly device: ModelDevice;
  /** The most rows handed to the model at once (it halves on out-of-memory); absent: the whole input batch. */
  readonly maxBatchRows?: number;
  /** Folder of a dead-letter table: rows whose inference fails are written there (Parquet) instead of failing the job. */
  readonly deadLetter?: string;
  /** Modules a worker imports before loading the stage, so user-defined stage classes register themselves (absolute paths or file:// URLs). */
  readonly modules?: readonly string[];
}
