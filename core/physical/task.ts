// What an executor receives: one task of one stage, as versioned JSON validated on load. A task carries its
// pipeline, its file splits and where its inputs come from, never data (broadcast sides and shuffle outputs are
// read by reference), so it stays far below Lambda's 6 MB payload limit.
import { z } from 'zod';
import { AGGREGATE_FUNCTIONS, WINDOW_FRAMES, WINDOW_FUNCTIONS } from '../expr/expr.ts';
import { ExecutionError } from '../types/errors.ts';
import { parseValidated } from '../types/validate.ts';
import { dataTypeSchema, exprSchema, joinTypeSchema, modelRefSchema, scanSourceSchema, schemaSchema } from '../plan/serialize.ts';
import type { FileSplit } from '../io/file-split.ts';
import { type FileSource, type Partitioning, type PhysicalKind, type PhysicalPlan, physicalInputs, withPhysicalInputs } from './physical-plan.ts';
import { STAGE_GRAPH_VERSION, type StageGraph, type StageOutput } from './stages.ts';

export const TASK_VERSION = 1;

/** Lambda's synchronous invocation payload limit. */
export const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

export interface TaskInput {
  readonly stage: number;
  readonly partitioning: Partitioning;
  /** The partition of the producer's output this task reads; null reads all of it (broadcast). */
  readonly partition: number | null;
}

export interface TaskDescription {
  readonly version: typeof TASK_VERSION;
  readonly job: string;
  readonly stage: number;
  readonly task: number;
  readonly attempt: number;
  readonly plan: PhysicalPlan;
  readonly splits: readonly FileSplit[] | null;
  readonly inputs: readonly TaskInput[];
  readonly output: StageOutput;
}

const sortKey = z.object({ index: z.number().int().nonnegative(), ascending: z.boolean(), nullsFirst: z.boolean() });
const ints = z.array(z.number().int().nonnegative());

const partitioning: z.ZodType<Partitioning> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hash'), keys: ints, partitions: z.number().int().positive() }),
  z.object({ kind: z.literal('range'), keys: z.array(sortKey), partitions: z.number().int().positive() }),
  z.object({ kind: z.literal('round_robin'), partitions: z.number().int().positive() }),
  z.object({ kind: z.literal('single') }),
  z.object({ kind: z.literal('broadcast') }),
  z.object({ kind: z.literal('partition_id'), column: z.number().int().nonnegative(), partitions: z.number().int().positive() }),
]);

const stageOutput: z.ZodType<StageOutput> = z.union([partitioning, z.object({ kind: z.literal('result') })]);

// One entry per physical node kind: a kind added without a schema here is a type error.
const physicalShapes: Record<PhysicalKind, z.ZodObject> = {
  file_scan: z.object({
    kind: z.literal('file_scan'),
    source: scanSourceSchema,
    fileSchema: schemaSchema,
    projection: z.array(z.string()).nullable(),
    filters: z.array(exprSchema),
  }),
  memory_scan: z.object({ kind: z.literal('memory_scan'), id: z.string(), schema: schemaSchema }),
  project: z.object({ kind: z.literal('project'), get input() { return physical; }, exprs: z.array(exprSchema) }),
  filter: z.object({ kind: z.literal('filter'), get input() { return physical; }, condition: exprSchema }),
  hash_aggregate: z.object({
    kind: z.literal('hash_aggregate'),
    get input() { return physical; },
    groupKeys: ints,
    aggregates: z.array(z.object({ fn: z.enum(AGGREGATE_FUNCTIONS), input: z.number().int().nonnegative().nullable(), name: z.string() })),
    mode: z.enum(['single', 'partial', 'final']),
  }),
  hash_join: z.object({
    kind: z.literal('hash_join'),
    get left() { return physical; },
    get right() { return physical; },
    joinType: joinTypeSchema,
    leftKeys: ints,
    rightKeys: ints,
    residual: exprSchema.nullable(),
    buildSide: z.enum(['left', 'right']),
  }),
  sort: z.object({ kind: z.literal('sort'), get input() { return physical; }, keys: z.array(sortKey), limit: z.number().int().nonnegative().nullable() }),
  window: z.object({
    kind: z.literal('window'),
    get input() { return physical; },
    partitionKeys: ints,
    orderKeys: z.array(sortKey),
    functions: z.array(
      z.object({ fn: z.enum(WINDOW_FUNCTIONS), input: z.number().int().nonnegative().nullable(), frame: z.enum(WINDOW_FRAMES), name: z.string() }),
    ),
  }),
  limit: z.object({
    kind: z.literal('limit'),
    get input() { return physical; },
    limit: z.number().int().nonnegative().nullable(),
    offset: z.number().int().nonnegative(),
  }),
  union: z.object({ kind: z.literal('union'), get inputs() { return z.array(physical).min(1); } }),
  exchange: z.object({ kind: z.literal('exchange'), get input() { return physical; }, partitioning }),
  stage_input: z.object({ kind: z.literal('stage_input'), stage: z.number().int().nonnegative(), schema: schemaSchema, partitioning }),
  // The RDD task's own JSON is validated where it is decoded (core/rdd/remote-stages.ts).
  apply_model: z.object({
    kind: z.literal('apply_model'),
    get input() { return physical; },
    model: modelRefSchema,
    workerKind: z.enum(['lambda', 'container', 'container-gpu']),
    inputs: z.array(exprSchema),
    outputs: z.array(z.object({ name: z.string(), as: z.string(), type: dataTypeSchema, nullable: z.boolean() })),
  }),
  rdd: z.object({ kind: z.literal('rdd'), task: z.string().min(1), get inputs() { return z.array(physical); } }),
};

const physical: z.ZodType<PhysicalPlan> = z.lazy(() => {
  const [first, ...rest] = Object.values(physicalShapes) as [z.ZodObject, ...z.ZodObject[]];
  return z.discriminatedUnion('kind', [first, ...rest]) as unknown as z.ZodType<PhysicalPlan>;
});

const fileSplit = z.object({ path: z.string(), start: z.number().int().nonnegative(), length: z.number().int().nonnegative() });

const task = z.object({
  version: z.literal(TASK_VERSION),
  job: z.string().min(1),
  stage: z.number().int().nonnegative(),
  task: z.number().int().nonnegative(),
  attempt: z.number().int().nonnegative(),
  plan: physical,
  splits: z.array(fileSplit).nullable(),
  inputs: z.array(z.object({ stage: z.number().int().nonnegative(), partitioning, partition: z.number().int().nonnegative().nullable() })),
  output: stageOutput,
});

const stageGraph = z.object({
  version: z.literal(STAGE_GRAPH_VERSION),
  stages: z.array(
    z.object({
      id: z.number().int().nonnegative(),
      plan: physical,
      output: stageOutput,
      tasks: z.number().int().positive(),
      splits: z.array(z.array(fileSplit)).nullable(),
      inputs: ints,
      workerKind: z.enum(['lambda', 'container', 'container-gpu']),
    }),
  ),
});


/** The description of task `taskIndex` of stage `stageId`. */
export function describeTask(graph: StageGraph, job: string, stageId: number, taskIndex: number, attempt = 0): TaskDescription {
  const stage = graph.stages[stageId];
  if (!stage) throw new ExecutionError(`job ${job} has no stage ${stageId}`);
  if (taskIndex < 0 || taskIndex >= stage.tasks) throw new ExecutionError(`stage ${stageId} has ${stage.tasks} tasks, not ${taskIndex + 1}`);
  const inputs = stage.inputs.map((id): TaskInput => {
    const produced = graph.stages[id]!.output;
    if (produced.kind === 'result') throw new ExecutionError(`internal: stage ${stageId} reads the result stage ${id}`);
    return { stage: id, partitioning: produced, partition: produced.kind === 'broadcast' ? null : taskIndex };
  });
  const splits = stage.splits ? stage.splits[taskIndex]! : null;
  return {
    version: TASK_VERSION,
    job,
    stage: stageId,
    task: taskIndex,
    attempt,
    plan: splits ? withOwnFiles(stage.plan, new Set(splits.map((s) => s.path))) : stage.plan,
    splits,
    inputs,
    output: stage.output,
  };
}

/**
 * The stage's pipeline with its file scans listing only the files of this task's splits (what the scan reads
 * anyway, see FileScanExec), so that a task's size does not grow with the whole input: a job over 100,000
 * images would otherwise send every path (and an image source's sizes and versions) to each of its tasks.
 */
function withOwnFiles(p: PhysicalPlan, own: ReadonlySet<string>): PhysicalPlan {
  if (p.kind === 'file_scan') return Object.freeze({ ...p, source: Object.freeze(ownFiles(p.source, own)) });
  const kids = physicalInputs(p);
  const next = kids.map((k) => withOwnFiles(k, own));
  return next.some((k, i) => k !== kids[i]) ? withPhysicalInputs(p, next) : p;
}

function ownFiles(source: FileSource, own: ReadonlySet<string>): FileSource {
  switch (source.format) {
    case 'parquet':
    case 'csv':
    case 'json':
      return { ...source, paths: source.paths.filter((f) => own.has(f)) };
    case 'images': {
      const kept = source.paths.flatMap((f, i) => (own.has(f) ? [i] : []));
      return { ...source, paths: kept.map((i) => source.paths[i]!), sizes: kept.map((i) => source.sizes[i]!), versions: kept.map((i) => source.versions[i]!) };
    }
  }
}

/** JSON of a task, checked against Lambda's payload limit (a task never inlines data, so this is a guard). */
export function serializeTask(t: TaskDescription): string {
  const json = JSON.stringify(t);
  if (json.length > LAMBDA_PAYLOAD_LIMIT / 2) {
    throw new ExecutionError(`task ${t.stage}.${t.task} of job ${t.job} is ${json.length} bytes; tasks must stay well under Lambda's 6 MB payload`);
  }
  return json;
}

export function deserializeTask(input: string | unknown): TaskDescription {
  return parseValidated<TaskDescription>(task, input, 'task') as TaskDescription;
}

export function serializeStageGraph(g: StageGraph): string {
  return JSON.stringify(g);
}

export function deserializeStageGraph(input: string | unknown): StageGraph {
  return parseValidated<StageGraph>(stageGraph, input, 'stage graph') as StageGraph;
}
