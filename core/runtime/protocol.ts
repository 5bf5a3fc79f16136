// The contract between the coordinator and an executor: what one invocation of the executor function receives
// and what it answers. Plain versioned JSON, validated on both ends with zod, so a coordinator and executors of
// different builds fail loudly instead of misreading each other.
//
// Inputs travel by reference: a task names the committed manifest of every stage it reads (the manifest lists
// the committed map outputs and their partition offsets), never the data. A task whose JSON would exceed the
// inline limit travels as an S3 object (`taskUri`).
//
// Range-partitioned stages run twice, as Spark's RangePartitioner does: a `sample` pass returns a sample of the
// sort keys from every task (nothing is written), the coordinator cuts R-1 boundaries from the samples, then the
// `run` pass writes the partitioned output with those boundaries.
//
// Logistic regression training (mode `logistic`, core/runtime/logistic-fit.ts) runs no stage task: each request
// names the Parquet parts (with their ETags) holding one training partition's rows and asks for the summary pass
// or one loss-and-gradient evaluation; vectors travel as base64 float64 bytes, so every double is exact.
import { z } from 'zod';
import type { TaskDescription } from '../physical/task.ts';
import type { MapOutput } from '../shuffle/map-output.ts';
import { AnalysisError } from '../types/errors.ts';
import { parseValidated } from '../types/validate.ts';

export const EXECUTOR_PROTOCOL_VERSION = 1;

/** Task JSON larger than this goes to S3 and the request carries its URI. */
export const INLINE_TASK_LIMIT = 256 * 1024;

/** Deliberate failures for fault-injection tests; ignored unless the executor runs with SQUALL_ALLOW_FAULTS=1. */
export interface FaultPlan {
  /** Which attempts misbehave (0 = first). */
  readonly attempts: readonly number[];
  /** `throw`: the handler fails; `crash`: the process exits; `hang`: never answers (hits the timeout). */
  readonly kind: 'throw' | 'crash' | 'hang';
  /** Only these tasks of the stage (all when absent). */
  readonly tasks?: readonly number[];
  /** Only this stage (all when absent). */
  readonly stage?: number;
}

export interface StageInputRef {
  readonly stage: number;
  /** URI of the committed manifest version (core/shuffle/manifest.ts) the task reads. */
  readonly manifest: string;
}

/** A combining step (core/shuffle/combiner.ts): one combiner concatenates a group of a stage's map outputs. */
export interface CombineRequest {
  readonly job: string;
  readonly stage: number;
  /** This combiner's index: its "task" in the stage's 'combined' manifest. */
  readonly combiner: number;
  readonly attempt: number;
  /** The committed map manifest the group is taken from. */
  readonly manifest: string;
  /** Map tasks of the group, in order. */
  readonly tasks: readonly number[];
}

/** Rows [start, end) of one committed Parquet part of a fit job's training input. */
export interface LogisticSegment {
  readonly uri: string;
  /** The part's ETag: executors cache decoded parts by URI and ETag. */
  readonly etag: string;
  /** Training rows before this part (row numbers in errors count from the start of the input). */
  readonly rowBase: number;
  readonly start: number;
  readonly end: number;
}

/** The columns a logistic task reads (TrainingColumns in core/ml/classification/logistic-training.ts). */
export interface LogisticColumns {
  readonly uid: string;
  readonly featuresCol: string;
  readonly labelCol: string;
  readonly weightCol: string;
  readonly numFeatures: number;
}

export type LogisticOp =
  | { readonly kind: 'summary'; readonly features: boolean }
  | {
      readonly kind: 'gradient';
      /** base64 float64 */
      readonly coefficients: string;
      readonly numClasses: number;
      readonly multinomial: boolean;
      readonly fitIntercept: boolean;
      /** base64 float64, or null without standardization. */
      readonly featureScale: string | null;
    };

/** One task of a logistic regression fit: an operation over one training partition. */
export interface LogisticRequest {
  readonly job: string;
  readonly partition: number;
  readonly attempt: number;
  readonly columns: LogisticColumns;
  /** The partition's rows, in order. */
  readonly segments: readonly LogisticSegment[];
  readonly op: LogisticOp;
}

export type LogisticResult =
  | {
      readonly kind: 'summary';
      readonly maxLabel: number;
      /** Weight per class index (0 for absent classes). */
      readonly classWeights: readonly number[];
      /** base64 float64 [weightSum, weightSquareSum, sum…, sumSquares…], or null when not asked for. */
      readonly features: string | null;
    }
  /** base64 float64 [loss, count, gradient…]. */
  | { readonly kind: 'gradient'; readonly values: string };

export interface ExecutorRequest {
  readonly version: typeof EXECUTOR_PROTOCOL_VERSION;
  /**
   * `run` executes and writes; `sample` (range outputs only) executes and returns a key sample; `combine` runs
   * no task but the combining step in `combine` (task and taskUri are then null); `logistic` runs the training
   * task in `logistic` (no task either).
   */
  readonly mode: 'run' | 'sample' | 'combine' | 'logistic';
  readonly combine?: CombineRequest;
  readonly logistic?: LogisticRequest;
  /** The task, inline; null when it travels by `taskUri`. */
  readonly task: TaskDescription | null;
  readonly taskUri: string | null;
  /** `s3://bucket/jobs/<job>/shuffle` (or a local folder): where map outputs go. */
  readonly shuffleRoot: string;
  /** Folder of the job's result: result tasks write `<resultRoot>/_temporary/part-<T>-attempt-<A>.parquet`. */
  readonly resultRoot: string;
  /** One per `task.inputs` entry, same order. */
  readonly inputs: readonly StageInputRef[];
  /** Range output, run pass: R-1 boundary rows (sort-key columns) as base64 Arrow IPC stream. */
  readonly rangeBoundaries: string | null;
  /** Sample pass: rows of sort keys to return at most. */
  readonly sampleSize: number;
  /** Result tasks also return their rows inline (base64 IPC) when the encoded output is at most this. */
  readonly inlineResultBytes: number;
  readonly faults?: readonly FaultPlan[];
}

export interface TaskMetrics {
  /** Rows the task produced. */
  readonly rows: number;
  /** Bytes read from files and shuffle inputs. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly durationMs: number;
  /** Peak resident memory of the executor process during the task. */
  readonly peakMemoryBytes: number;
  /** Facts models reported (ApplyModel stages): provider ('cpu', 'cuda'…), inferenceRows, modelLoads, modelCacheHits, batchHalvings, deadLetterRows… */
  readonly reported?: Readonly<Record<string, string | number>>;
}

export type TaskOutput =
  | { readonly kind: 'shuffle'; readonly mapOutput: MapOutput }
  | {
      readonly kind: 'result';
      /** The Parquet part this attempt wrote; null when the task produced no rows. */
      readonly uri: string | null;
      readonly rows: number;
      readonly bytes: number;
      /** The rows as base64 Arrow IPC stream, when small enough. */
      readonly inline: string | null;
    }
  | { readonly kind: 'sample'; readonly sample: string; readonly rows: number }
  | { readonly kind: 'logistic'; readonly result: LogisticResult };

export interface ExecutorResponse {
  readonly version: typeof EXECUTOR_PROTOCOL_VERSION;
  readonly job: string;
  readonly stage: number;
  readonly task: number;
  readonly attempt: number;
  readonly output: TaskOutput;
  /** Every object key this attempt wrote (for cleanup of uncommitted attempts). */
  readonly keys: readonly string[];
  readonly metrics: TaskMetrics;
}

const nat = z.number().int().nonnegative();

const faultSchema = z.object({
  attempts: z.array(nat),
  kind: z.enum(['throw', 'crash', 'hang']),
  tasks: z.array(nat).optional(),
  stage: nat.optional(),
});

// The task itself is validated by deserializeTask (core/physical/task.ts); here it is only an object.
const requestSchema = z.object({
  version: z.literal(EXECUTOR_PROTOCOL_VERSION),
  mode: z.enum(['run', 'sample', 'combine', 'logistic']),
  combine: z.object({ job: z.string().min(1), stage: nat, combiner: nat, attempt: nat, manifest: z.string().min(1), tasks: z.array(nat).min(1) }).optional(),
  logistic: z
    .object({
      job: z.string().min(1),
      partition: nat,
      attempt: nat,
      columns: z.object({ uid: z.string().min(1), featuresCol: z.string().min(1), labelCol: z.string().min(1), weightCol: z.string(), numFeatures: z.number().int().positive() }),
      segments: z
        .array(z.object({ uri: z.string().min(1), etag: z.string(), rowBase: nat, start: nat, end: nat }).refine((g) => g.end > g.start, { message: 'a segment has end > start' }))
        .min(1),
      op: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('summary'), features: z.boolean() }),
        z.object({
          kind: z.literal('gradient'),
          coefficients: z.string(),
          numClasses: z.number().int().min(2),
          multinomial: z.boolean(),
          fitIntercept: z.boolean(),
          featureScale: z.string().nullable(),
        }),
      ]),
    })
    .optional(),
  task: z.record(z.string(), z.unknown()).nullable(),
  taskUri: z.string().nullable(),
  shuffleRoot: z.string().min(1),
  resultRoot: z.string().min(1),
  inputs: z.array(z.object({ stage: nat, manifest: z.string().min(1) })),
  rangeBoundaries: z.string().nullable(),
  sampleSize: nat,
  inlineResultBytes: nat,
  faults: z.array(faultSchema).optional(),
});

const span = z.object({ offset: nat, length: nat, rows: nat });
const mapOutputSchema = z.object({ uri: z.string(), stage: nat, task: nat, attempt: nat, partitions: z.array(span), bytes: nat, rows: nat });

const responseSchema = z.object({
  version: z.literal(EXECUTOR_PROTOCOL_VERSION),
  job: z.string(),
  stage: nat,
  task: nat,
  attempt: nat,
  output: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('shuffle'), mapOutput: mapOutputSchema }),
    z.object({ kind: z.literal('result'), uri: z.string().nullable(), rows: nat, bytes: nat, inline: z.string().nullable() }),
    z.object({ kind: z.literal('sample'), sample: z.string(), rows: nat }),
    z.object({
      kind: z.literal('logistic'),
      result: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('summary'), maxLabel: z.number().int(), classWeights: z.array(z.number()), features: z.string().nullable() }),
        z.object({ kind: z.literal('gradient'), values: z.string() }),
      ]),
    }),
  ]),
  keys: z.array(z.string()),
  metrics: z.object({
    rows: nat,
    bytesRead: nat,
    bytesWritten: nat,
    durationMs: z.number().nonnegative(),
    peakMemoryBytes: nat,
    reported: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  }),
});


/** An executor request, checked (the embedded task is checked separately by deserializeTask). */
export function parseExecutorRequest(input: unknown): ExecutorRequest {
  const r = parseValidated<ExecutorRequest>(requestSchema, input, 'executor request');
  if (r.mode === 'combine') {
    if (!r.combine) throw new AnalysisError('invalid executor request: mode combine needs `combine`');
    if (r.task !== null || r.taskUri !== null) throw new AnalysisError('invalid executor request: a combine request carries no task');
    return r;
  }
  if (r.mode === 'logistic') {
    if (!r.logistic) throw new AnalysisError('invalid executor request: mode logistic needs `logistic`');
    if (r.task !== null || r.taskUri !== null) throw new AnalysisError('invalid executor request: a logistic request carries no task');
    return r;
  }
  if ((r.task === null) === (r.taskUri === null)) throw new AnalysisError('invalid executor request: exactly one of task and taskUri must be set');
  return r;
}

export function parseExecutorResponse(input: unknown): ExecutorResponse {
  return parseValidated<ExecutorResponse>(responseSchema, input, 'executor response');
}

/** Base64 of bytes (Lambda payloads are JSON). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Doubles as base64 of their bytes (exact, NaN and infinities included; a third of JSON's size). */
export function float64ToBase64(values: Float64Array): string {
  return toBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** The inverse of float64ToBase64; `what` names the field in the error. */
export function float64FromBase64(text: string, what: string): Float64Array {
  const bytes = fromBase64(text);
  if (bytes.length % 8 !== 0) throw new AnalysisError(`${what}: ${bytes.length} bytes is not a whole number of float64 values`);
  // Copied: the decoded bytes need not be 8-byte aligned.
  const out = new Float64Array(bytes.length / 8);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
