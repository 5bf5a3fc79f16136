// Logical plans as plain, immutable, JSON-serializable data: one node kind per operator. A plan carries no
// functions or class instances, so it can be printed, hashed, sent to a coordinator and validated there.
import type { Expr, SortOrder } from '../expr/expr.ts';
import type { ModelRef } from '../expr/model-ref.ts';
import type { DataType } from '../types/data-type.ts';
import type { Schema } from '../types/schema.ts';

export const PLAN_VERSION = 1;

export type JoinType = 'inner' | 'left' | 'right' | 'full' | 'semi' | 'anti' | 'cross';

export interface CsvOptions {
  readonly header: boolean;
  readonly delimiter: string;
  readonly quote: string;
  /** Text that reads as NULL (besides an empty unquoted field). */
  readonly nullValue: string;
}

/** How an image scan reads its files (session.read.images options, resolved to their defaults). */
export interface ImageOptions {
  /** Leave out files that are not images or cannot be decoded, instead of failing the read. */
  readonly dropInvalid: boolean;
  /** Images per record batch a scan task yields. */
  readonly imagesPerBatch: number;
}

export type ScanSource =
  | { readonly format: 'parquet'; readonly paths: readonly string[] }
  | { readonly format: 'csv'; readonly paths: readonly string[]; readonly options: CsvOptions }
  | { readonly format: 'json'; readonly paths: readonly string[] }
  /**
   * PNG and JPEG files as rows of IMAGE_SCHEMA (core/io/images/read-images.ts), decoded where the scan runs.
   * `sizes[i]` and `versions[i]` (ETag, or mtime and inode locally) are `paths[i]`'s when the DataFrame was read:
   * an image set is often thousands of small objects, and planning takes their sizes from here instead of a
   * HEAD per file, while a task refuses a file whose version changed since (the DataFrame is that listing).
   */
  | {
      readonly format: 'images';
      readonly paths: readonly string[];
      readonly sizes: readonly number[];
      readonly versions: readonly string[];
      readonly options: ImageOptions;
    }
  /** An in-memory table registered with the session under `id`. */
  | { readonly format: 'memory'; readonly id: string };

/** Statistics of a column over a whole source, in the column's own units (as Squall literal values). */
export interface ColumnStatistics {
  readonly min?: number | string | boolean;
  readonly max?: number | string | boolean;
  readonly nullCount?: number;
}

/** What a reader knows about a source's size: from Parquet footers, or counted for in-memory tables. */
export interface TableStatistics {
  readonly rowCount: number;
  /** Bytes of the source as stored (Parquet: file sizes on disk, compressed); absent when unknown. */
  readonly sizeInBytes?: number;
  /** Per-column min/max/null counts by column name, where the source has them. */
  readonly columns?: Readonly<Record<string, ColumnStatistics>>;
}

export type JoinStrategy = 'broadcast' | 'shuffle';

export type LogicalPlan =
  | {
      readonly kind: 'scan';
      readonly source: ScanSource;
      /** Schema of the source (all columns). */
      readonly schema: Schema;
      /** Columns to read, in output order; null reads all. Set by projection pruning. */
      readonly projection: readonly string[] | null;
      /** Predicates the scan may use to skip data (row groups); they are also still applied above it. */
      readonly filters: readonly Expr[];
      /** DataFrame alias of the scanned table, which qualifies its columns. */
      readonly alias?: string;
      /** Size facts about the whole source (before filters), for cost estimates; absent when unknown. */
      readonly statistics?: TableStatistics;
    }
  | { readonly kind: 'project'; readonly input: LogicalPlan; readonly exprs: readonly Expr[] }
  | { readonly kind: 'filter'; readonly input: LogicalPlan; readonly condition: Expr }
  | {
      readonly kind: 'aggregate';
      readonly input: LogicalPlan;
      readonly groupBy: readonly Expr[];
      /** Output expressions over group keys and aggregate calls, e.g. `alias(sum(x) / count(), 'mean')`. */
      readonly aggregates: readonly Expr[];
    }
  | {
      readonly kind: 'join';
      readonly left: LogicalPlan;
      readonly right: LogicalPlan;
      readonly joinType: JoinType;
      /** Join condition over both sides' columns; null for cross joins and pure USING joins. */
      readonly on: Expr | null;
      /** Column names equal on both sides (SQL USING / DataFrame join on names): they appear once in the output. */
      readonly using: readonly string[];
      /** How a distributed run should exchange the inputs (set by the optimizer from size estimates): broadcast
       * the right (build) side to every task, or hash-partition both sides. Absent: not decided. */
      readonly strategy?: JoinStrategy;
    }
  | { readonly kind: 'sort'; readonly input: LogicalPlan; readonly orders: readonly SortOrder[] }
  | { readonly kind: 'limit'; readonly input: LogicalPlan; readonly limit: number | null; readonly offset: number }
  | { readonly kind: 'distinct'; readonly input: LogicalPlan }
  /** UNION ALL; DISTINCT on top gives UNION. byName matches columns by name (unionByName). */
  | { readonly kind: 'union'; readonly inputs: readonly LogicalPlan[]; readonly byName: boolean }
  /** Subquery alias: requalifies the input's columns. */
  | { readonly kind: 'alias'; readonly input: LogicalPlan; readonly alias: string }
  | { readonly kind: 'repartition'; readonly input: LogicalPlan; readonly numPartitions: number; readonly keys: readonly Expr[] }
  /**
   * Window functions over one window specification: `functions` are `alias(window expression, name)` sharing
   * the same PARTITION BY and ORDER BY (frames may differ). Output: the input's columns, then one column per
   * function. Built by ./extract-windows.ts from a select list; several specifications stack several nodes.
   */
  | { readonly kind: 'window'; readonly input: LogicalPlan; readonly functions: readonly Expr[] }
  /**
   * A model applied batch by batch (a BatchModel persisted at `model.uri`), as Spark's ArrowEvalPython /
   * MapInPandas: the model receives a batch of `inputs` (named expressions over the input's rows), and the
   * node outputs the input's columns followed by the model's columns listed in `outputs`. Made by
   * `df.applyModel(model)` and by extract_model_calls from SQL calls of registered models. Runs in its own
   * stage on the model's worker kind when planned for a cluster.
   */
  | {
      readonly kind: 'apply_model';
      readonly input: LogicalPlan;
      readonly model: ModelRef;
      readonly inputs: readonly Expr[];
      readonly outputs: readonly ModelOutput[];
    };

/** A column a model appends that an ApplyModel node keeps: the model's own column `name`, output as `as`. */
export interface ModelOutput {
  readonly name: string;
  readonly as: string;
  readonly type: DataType;
  readonly nullable: boolean;
}

export type PlanKind = LogicalPlan['kind'];

/** A serialized plan as it crosses a process boundary. */
export interface SerializedPlan {
  readonly version: typeof PLAN_VERSION;
  readonly plan: LogicalPlan;
}

export function planInputs(p: LogicalPlan): readonly LogicalPlan[] {
  switch (p.kind) {
    case 'scan':
      return [];
    case 'project':
    case 'filter':
    case 'aggregate':
    case 'sort':
    case 'limit':
    case 'distinct':
    case 'alias':
    case 'repartition':
    case 'window':
    case 'apply_model':
      return [p.input];
    case 'join':
      return [p.left, p.right];
    case 'union':
      return p.inputs;
  }
}

export function withInputs(p: LogicalPlan, inputs: readonly LogicalPlan[]): LogicalPlan {
  switch (p.kind) {
    case 'scan':
      return p;
    case 'project':
    case 'filter':
    case 'aggregate':
    case 'sort':
    case 'limit':
    case 'distinct':
    case 'alias':
    case 'repartition':
    case 'window':
    case 'apply_model':
      return Object.freeze({ ...p, input: inputs[0]! });
    case 'join':
      return Object.freeze({ ...p, left: inputs[0]!, right: inputs[1]! });
    case 'union':
      return Object.freeze({ ...p, inputs: Object.freeze([...inputs]) });
  }
}

export function transformPlanUp(p: LogicalPlan, f: (p: LogicalPlan) => LogicalPlan): LogicalPlan {
  const inputs = planInputs(p);
  let node = p;
  if (inputs.length) {
    const next = inputs.map((i) => transformPlanUp(i, f));
    if (next.some((n, i) => n !== inputs[i])) node = withInputs(p, next);
  }
  return f(node);
}
