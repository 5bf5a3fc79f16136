// Physical plans as plain, JSON-serializable data: what the coordinator ships to executors, and what the
// in-process runner instantiates into operators (./instantiate.ts). Expressions inside are bound to input
// positions (`boundColumn`). An `exchange` node marks where data moves between tasks; the stage planner
// (./stages.ts) cuts the plan there.
import type { Expr } from '../expr/expr.ts';
import type { AggregateFunctionName } from '../expr/expr.ts';
import { DataTypes, typeToString } from '../types/data-type.ts';
import { aggregateResultType, toField } from '../expr/type-of.ts';
import { partialStateFields } from '../exec/aggregate/accumulators.ts';
import type { WindowFunctionSpec } from '../exec/window.ts';
import { RANKING_FUNCTIONS } from '../expr/expr.ts';
import { windowResultType } from '../expr/type-of.ts';
import { type Field, type Schema, field, resolveField, schema as makeSchema } from '../types/schema.ts';
import type { JoinType, ModelOutput, ScanSource } from '../plan/logical-plan.ts';
import type { ModelRef } from '../expr/model-ref.ts';
import { exprToString } from '../expr/expr.ts';
import { fileScanName } from '../exec/scan.ts';

export type AggregateMode = 'single' | 'partial' | 'final';

export interface PhysicalAggregate {
  readonly fn: AggregateFunctionName;
  /** Input column (in final mode: the first state column); null for count(*). */
  readonly input: number | null;
  readonly name: string;
}

export interface PhysicalSortKey {
  readonly index: number;
  readonly ascending: boolean;
  readonly nullsFirst: boolean;
}

/** How an exchange spreads rows over the consumer's partitions. */
export type Partitioning =
  | { readonly kind: 'hash'; readonly keys: readonly number[]; readonly partitions: number }
  /** Sorted ranges; boundaries are sampled from the data when the exchange runs. */
  | { readonly kind: 'range'; readonly keys: readonly PhysicalSortKey[]; readonly partitions: number }
  | { readonly kind: 'round_robin'; readonly partitions: number }
  /** Everything to one partition. */
  | { readonly kind: 'single' }
  /** The whole output to every consumer task. */
  | { readonly kind: 'broadcast' }
  /** Each row to the partition an int32 column names (Spark's PartitionIdPassthrough): RDD map tasks pick it. */
  | { readonly kind: 'partition_id'; readonly column: number; readonly partitions: number };

export type WorkerKind = 'lambda' | 'container' | 'container-gpu';

export type FileSource = Exclude<ScanSource, { format: 'memory' }>;

export type PhysicalPlan =
  | {
      readonly kind: 'file_scan';
      readonly source: FileSource;
      readonly fileSchema: Schema;
      readonly projection: readonly string[] | null;
      readonly filters: readonly Expr[];
    }
  | { readonly kind: 'memory_scan'; readonly id: string; readonly schema: Schema }
  | { readonly kind: 'project'; readonly input: PhysicalPlan; readonly exprs: readonly Expr[] }
  | { readonly kind: 'filter'; readonly input: PhysicalPlan; readonly condition: Expr }
  | {
      readonly kind: 'hash_aggregate';
      readonly input: PhysicalPlan;
      readonly groupKeys: readonly number[];
      readonly aggregates: readonly PhysicalAggregate[];
      readonly mode: AggregateMode;
    }
  | {
      readonly kind: 'hash_join';
      readonly left: PhysicalPlan;
      readonly right: PhysicalPlan;
      readonly joinType: JoinType;
      readonly leftKeys: readonly number[];
      readonly rightKeys: readonly number[];
      /** Condition over the combined left+right columns, bound to that schema. */
      readonly residual: Expr | null;
      readonly buildSide: 'left' | 'right';
    }
  | { readonly kind: 'sort'; readonly input: PhysicalPlan; readonly keys: readonly PhysicalSortKey[]; readonly limit: number | null }
  /** Window functions over one specification (WindowExec): partition and order keys and function arguments are
   * input columns. Output: the input's columns, then one column per function. */
  | {
      readonly kind: 'window';
      readonly input: PhysicalPlan;
      readonly partitionKeys: readonly number[];
      readonly orderKeys: readonly PhysicalSortKey[];
      readonly functions: readonly WindowFunctionSpec[];
    }
  | { readonly kind: 'limit'; readonly input: PhysicalPlan; readonly limit: number | null; readonly offset: number }
  | { readonly kind: 'union'; readonly inputs: readonly PhysicalPlan[] }
  | { readonly kind: 'exchange'; readonly input: PhysicalPlan; readonly partitioning: Partitioning }
  /** A model over batches (the logical ApplyModel): `inputs` (bound to the input) form the model's batch; the
   * output is the input's columns then `outputs`. `workerKind` is where its stage runs, decided by the planner. */
  | {
      readonly kind: 'apply_model';
      readonly input: PhysicalPlan;
      readonly model: ModelRef;
      readonly workerKind: WorkerKind;
      readonly inputs: readonly Expr[];
      readonly outputs: readonly ModelOutput[];
    }
  /** The output of another stage, as the stage planner leaves it in a consuming stage. */
  | { readonly kind: 'stage_input'; readonly stage: number; readonly schema: Schema; readonly partitioning: Partitioning }
  /**
   * One RDD stage (core/rdd/remote-stages.ts): `task` is its JSON (lineage with user functions as source text,
   * steps, where its output goes), opaque here; `inputs` are the stage inputs it reads. Rows: RDD_ROWS_SCHEMA.
   */
  | { readonly kind: 'rdd'; readonly task: string; readonly inputs: readonly PhysicalPlan[] };

/** What an RDD stage outputs: chunks of v8-serialized records (base64), each with its target partition and bucket. */
export const RDD_ROWS_SCHEMA: Schema = makeSchema([field('part', DataTypes.int32, false), field('bucket', DataTypes.int32, false), field('records', DataTypes.utf8, false)]);

export type PhysicalKind = PhysicalPlan['kind'];

export function physicalInputs(p: PhysicalPlan): readonly PhysicalPlan[] {
  switch (p.kind) {
    case 'file_scan':
    case 'memory_scan':
    case 'stage_input':
      return [];
    case 'project':
    case 'filter':
    case 'hash_aggregate':
    case 'sort':
    case 'limit':
    case 'exchange':
    case 'window':
    case 'apply_model':
      return [p.input];
    case 'hash_join':
      return [p.left, p.right];
    case 'union':
    case 'rdd':
      return p.inputs;
  }
}

export function withPhysicalInputs(p: PhysicalPlan, inputs: readonly PhysicalPlan[]): PhysicalPlan {
  switch (p.kind) {
    case 'file_scan':
    case 'memory_scan':
    case 'stage_input':
      return p;
    case 'project':
    case 'filter':
    case 'hash_aggregate':
    case 'sort':
    case 'limit':
    case 'exchange':
    case 'window':
    case 'apply_model':
      return Object.freeze({ ...p, input: inputs[0]! });
    case 'hash_join':
      return Object.freeze({ ...p, left: inputs[0]!, right: inputs[1]! });
    case 'union':
    case 'rdd':
      return Object.freeze({ ...p, inputs: Object.freeze([...inputs]) });
  }
}

const schemaCache = new WeakMap<PhysicalPlan, Schema>();

/** Output schema of a physical node; the operators built from it produce exactly these fields. */
export function physicalSchema(p: PhysicalPlan): Schema {
  const cached = schemaCache.get(p);
  if (cached) return cached;
  const s = computeSchema(p);
  schemaCache.set(p, s);
  return s;
}

function nullable(f: Field): Field {
  return f.nullable ? f : field(f.name, f.type, true, f.qualifier);
}

function computeSchema(p: PhysicalPlan): Schema {
  switch (p.kind) {
    case 'file_scan':
      return p.projection === null
        ? p.fileSchema
        : makeSchema(p.projection.map((n) => p.fileSchema.fields[resolveField(p.fileSchema, n)]!));
    case 'memory_scan':
    case 'stage_input':
      return p.schema;
    case 'rdd':
      return RDD_ROWS_SCHEMA;
    case 'project': {
      const input = physicalSchema(p.input);
      return makeSchema(p.exprs.map((e) => toField(e, input)));
    }
    case 'filter':
    case 'sort':
    case 'limit':
    case 'exchange':
      return physicalSchema(p.input);
    case 'hash_aggregate': {
      const input = physicalSchema(p.input).fields;
      const keys = p.groupKeys.map((k) => input[k]!);
      const aggs = p.aggregates.flatMap((a): Field[] => {
        const t = a.input === null ? null : input[a.input]!.type;
        if (p.mode === 'partial') return partialStateFields(a, t);
        // Final mode reads the first state column, whose type is the partial sum type etc.
        const resultType = p.mode === 'final' ? finalResultType(a, input) : aggregateResultType(a.fn, t);
        return [field(a.name, resultType, a.fn !== 'count' && a.fn !== 'count_distinct')];
      });
      return makeSchema([...keys, ...aggs]);
    }
    case 'hash_join': {
      const l = physicalSchema(p.left).fields;
      const r = physicalSchema(p.right).fields;
      if (p.joinType === 'semi' || p.joinType === 'anti') return makeSchema(l);
      const ln = p.joinType === 'right' || p.joinType === 'full';
      const rn = p.joinType === 'left' || p.joinType === 'full';
      return makeSchema([...l.map((f) => (ln ? nullable(f) : f)), ...r.map((f) => (rn ? nullable(f) : f))]);
    }
    case 'window': {
      const input = physicalSchema(p.input).fields;
      const fns = p.functions.map((f) => {
        const arg = f.input === null ? null : input[f.input]!.type;
        return field(f.name, windowResultType(f.fn, arg), !RANKING_FUNCTIONS.has(f.fn) && f.fn !== 'count');
      });
      return makeSchema([...input, ...fns]);
    }
    case 'apply_model':
      return makeSchema([...physicalSchema(p.input).fields, ...p.outputs.map((o) => field(o.as, o.type, o.nullable))]);
    case 'union': {
      const schemas = p.inputs.map(physicalSchema);
      return makeSchema(schemas[0]!.fields.map((f, i) => (schemas.some((s) => s.fields[i]!.nullable) ? nullable(f) : f)));
    }
  }
}

/** The result type of a final aggregate, from its first state column. */
function finalResultType(a: PhysicalAggregate, input: readonly Field[]): Field['type'] {
  const state = input[a.input!]!.type;
  switch (a.fn) {
    case 'avg':
    case 'stddev':
    case 'variance':
      return aggregateResultType(a.fn, null);
    case 'count':
    case 'count_distinct':
      return aggregateResultType('count', null);
    default:
      return state;
  }
}

function partitioningToString(p: Partitioning): string {
  switch (p.kind) {
    case 'hash':
      return `hash([${p.keys.map((k) => `#${k}`).join(', ')}], ${p.partitions})`;
    case 'range':
      return `range([${p.keys.map((k) => `#${k.index} ${k.ascending ? 'asc' : 'desc'}`).join(', ')}], ${p.partitions})`;
    case 'round_robin':
      return `round_robin(${p.partitions})`;
    case 'single':
    case 'broadcast':
      return p.kind;
    case 'partition_id':
      return `partition_id(#${p.column}, ${p.partitions})`;
  }
}

function describe(p: PhysicalPlan): string {
  switch (p.kind) {
    case 'file_scan': {
      const files = p.source.paths.length === 1 ? p.source.paths[0]! : `${p.source.paths.length} files`;
      const cols = physicalSchema(p).fields.map((f) => f.name).join(', ');
      const pushed = p.filters.length ? ` pushed=[${p.filters.map(exprToString).join(', ')}]` : '';
      return `${fileScanName(p.source.format)} ${files} [${cols}]${pushed}`;
    }
    case 'memory_scan':
      return `MemoryScan ${p.id}`;
    case 'project':
      return `Project [${p.exprs.map(exprToString).join(', ')}]`;
    case 'filter':
      return `Filter ${exprToString(p.condition)}`;
    case 'hash_aggregate':
      return `HashAggregate(${p.mode}) keys=[${p.groupKeys.map((k) => `#${k}`).join(', ')}] aggs=[${p.aggregates
        .map((a) => `${a.fn}(${a.input === null ? '*' : `#${a.input}`}) AS ${a.name}`)
        .join(', ')}]`;
    case 'hash_join':
      return `HashJoin ${p.joinType} keys=[${p.leftKeys.map((k, i) => `#${k} = #${p.rightKeys[i]}`).join(', ')}]${
        p.residual ? ` residual=${exprToString(p.residual)}` : ''
      } build=${p.buildSide}`;
    case 'sort':
      return `${p.limit === null ? 'Sort' : `TopK(${p.limit})`} [${p.keys
        .map((k) => `#${k.index} ${k.ascending ? 'asc' : 'desc'} nulls ${k.nullsFirst ? 'first' : 'last'}`)
        .join(', ')}]`;
    case 'limit':
      return `Limit ${p.limit === null ? 'ALL' : p.limit}${p.offset ? ` offset=${p.offset}` : ''}`;
    case 'window': {
      const order = p.orderKeys.map((k) => `#${k.index} ${k.ascending ? 'asc' : 'desc'} nulls ${k.nullsFirst ? 'first' : 'last'}`);
      const fns = p.functions.map((f) => `${f.fn}(${f.input === null ? '' : `#${f.input}`}) ${f.frame} AS ${f.name}`);
      return `Window partition=[${p.partitionKeys.map((k) => `#${k}`).join(', ')}] order=[${order.join(', ')}] [${fns.join(', ')}]`;
    }
    case 'apply_model':
      return `ApplyModel ${p.model.className} (${p.workerKind}, device=${p.model.device}${p.model.maxBatchRows ? `, maxBatchRows=${p.model.maxBatchRows}` : ''}${
        p.model.deadLetter ? `, deadLetter=${p.model.deadLetter}` : ''
      }) ${p.model.uri} inputs=[${p.inputs.map(exprToString).join(', ')}] outputs=[${p.outputs.map((o) => (o.name === o.as ? o.name : `${o.name} AS ${o.as}`)).join(', ')}]`;
    case 'union':
      return 'Union';
    case 'rdd':
      return `RddStage (${p.task.length} bytes of lineage)`;
    case 'exchange':
      return `Exchange ${partitioningToString(p.partitioning)}`;
    case 'stage_input':
      return `StageInput stage=${p.stage} ${partitioningToString(p.partitioning)} [${p.schema.fields
        .map((f) => `${f.name}: ${typeToString(f.type)}`)
        .join(', ')}]`;
  }
}

export function physicalPlanText(p: PhysicalPlan, indent = 0): string {
  return [`${'  '.repeat(indent)}${describe(p)}`, ...physicalInputs(p).map((c) => physicalPlanText(c, indent + 1))].join('\n');
}

export { partitioningToString };
