// RDD jobs on the serverless runtime. A job spec's `rdd` part (the action's lineage and the steps it runs per
// partition) is compiled here into the same stage graph DataFrame jobs run as, so the scheduler's retries,
// speculation, commits, S3 shuffle and result path apply unchanged: every stage is one `rdd` physical node
// whose task JSON holds the stage's lineage (shuffles below it replaced by shuffle_read nodes), its steps and
// where its output goes.
//
// Map stages write chunks of serialized records, one row per (target task, bucket, chunk), through the S3
// shuffle with `partition_id` partitioning: the target is the consumer's task that reads the bucket. That
// task index is not always the bucket (a union or coalesce over a shuffle reads it at other positions), so the
// targets are computed here, from the consumer's lineage, and a bucket read twice goes to both readers. A
// shuffle read by two stages gets map stages of its own for each (recomputed, not shared).
//
// Range shuffles (sortBy, sortByKey) first run a sampling stage over the map side, broadcast to the map stage,
// whose tasks cut the same bounds from it.
//
// Text files are pinned at compile time: their splits are planned over the versions seen now, and a task that
// finds a file changed fails (RddJob's pinnedInputs) rather than computing partitions the plan does not match.
import { z } from 'zod';
import { RDD_ROWS_SCHEMA, type Partitioning, type PhysicalPlan } from '../physical/physical-plan.ts';
import { STAGE_GRAPH_VERSION, type Stage, type StageGraph, type StageOutput } from '../physical/stages.ts';
import { DataError, UnsupportedError } from '../types/errors.ts';
import { parseValidated } from '../types/validate.ts';
import { fileVersion } from '../cache/versions.ts';
import { type RddNode, type Step, inputsOf, mapInputs, plannedPartitions, withInputs } from './lineage.ts';
import { lineageJson, nodeSchema, stepSchema } from './lineage-schema.ts';
import { planSplits } from './runner.ts';

export const RDD_JOB_VERSION = 1;

/** What a client sends as a job's `rdd`: the action's lineage and the steps every result partition ends with. */
export interface RddJobSpec {
  readonly version: typeof RDD_JOB_VERSION;
  readonly node: RddNode;
  readonly steps: readonly Step[];
  /** saveAsTextFile: the result tasks write their partitions as `part-NNNNN` text files into this folder. */
  readonly text?: { readonly dir: string };
}

export const rddJobSchema = z
  .object({ version: z.literal(RDD_JOB_VERSION), node: nodeSchema, steps: z.array(stepSchema), text: z.object({ dir: z.string().min(1) }).strict().optional() })
  .strict();

/** Where an RDD stage task's output goes. */
export type RddStageOutput =
  /**
   * Map stage: the steps end in a bucket step (or, with `range`, the task appends a rangeBucket step whose
   * bounds it cuts from the key samples of the input `samples` names); bucket b goes to the consumer tasks
   * `targets[b]`.
   */
  | { readonly kind: 'buckets'; readonly targets: readonly (readonly number[])[]; readonly range?: { readonly ascending: boolean; readonly partitions: number } }
  /** Result stage: the records of the partition. */
  | { readonly kind: 'records' }
  /** Result stage of saveAsTextFile: the partition written as `<dir>/part-NNNNN`; the result is its line count. */
  | { readonly kind: 'text'; readonly dir: string };

/** One RDD stage's task (the same for every task of the stage: the task index is the partition). */
export interface RddStageSpec {
  readonly version: typeof RDD_JOB_VERSION;
  readonly node: RddNode;
  readonly steps: readonly Step[];
  /** Per input of the physical node (same order): the shuffle and join side its rows belong to. */
  readonly reads: readonly { readonly shuffle: number; readonly side: 0 | 1 | null }[];
  /** Range map stages: the index of the input after `reads` that holds the sampling stage's keys. */
  readonly samples: number | null;
  readonly output: RddStageOutput;
  /** The time limit of the task's user code (the job's task timeout). */
  readonly timeoutMs: number;
}

const stageSpecSchema = z
  .object({
    version: z.literal(RDD_JOB_VERSION),
    node: nodeSchema,
    steps: z.array(stepSchema),
    reads: z.array(z.object({ shuffle: z.number().int().nonnegative(), side: z.union([z.literal(0), z.literal(1), z.null()]) })),
    samples: z.number().int().nonnegative().nullable(),
    output: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('buckets'),
        targets: z.array(z.array(z.number().int().nonnegative())),
        range: z.object({ ascending: z.boolean(), partitions: z.number().int().positive() }).optional(),
      }),
      z.object({ kind: z.literal('records') }),
      z.object({ kind: z.literal('text'), dir: z.string().min(1) }),
    ]),
    timeoutMs: z.number().int().positive(),
  })
  .strict();

/** A job's `rdd` part, checked (JSON form: byte arrays as `{ $bytes }`). */
export function parseRddJob(raw: unknown): RddJobSpec {
  return parseValidated<RddJobSpec>(rddJobSchema, raw, 'RDD job');
}

/** An RDD stage's task JSON (what the `rdd` physical node carries), checked. */
export function parseRddStageSpec(json: string): RddStageSpec {
  return parseValidated<RddStageSpec>(stageSpecSchema, json, 'RDD stage task');
}

/** The JSON a client sends as the job's `rdd`. */
export function rddJobJson(node: RddNode, steps: readonly Step[], textDir?: string): unknown {
  rejectDriverSources(node);
  return lineageJson({ version: RDD_JOB_VERSION, node, steps, ...(textDir !== undefined ? { text: { dir: textDir } } : {}) });
}

/** df.rdd sources are DataFrame plans; the client replaces them by their computed Parquet parts first. */
function rejectDriverSources(node: RddNode): void {
  // The SDK runs the DataFrame first and sends its Parquet parts (parquet_rows); a plan never travels here.
  if (node.kind === 'dataframe') {
    throw new UnsupportedError('an RDD job cannot carry a DataFrame plan (df.rdd): the client runs the DataFrame first and sends its result files');
  }
  inputsOf(node).forEach(rejectDriverSources);
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;
/**
 * User code gets this share of the task's timeout: the sandbox stops it first, so the job fails with the
 * sandbox's message (which function, how long) rather than the scheduler's bare attempt timeout.
 */
const USER_CODE_SHARE = 0.9;

/** Compiles a job's `rdd` part into its stage graph (parents first; the last stage's tasks are the result partitions). */
export async function compileRddJob(raw: unknown, options: { taskTimeoutMs?: number } = {}): Promise<StageGraph> {
  const spec = parseRddJob(raw);
  rejectDriverSources(spec.node);
  const node = await pinTextFiles(spec.node);
  const timeoutMs = Math.max(1, Math.floor((options.taskTimeoutMs ?? DEFAULT_TIMEOUT_MS) * USER_CODE_SHARE));
  const stages: Stage[] = [];

  const addStage = (body: RddNode, steps: readonly Step[], output: RddStageOutput, partitioning: StageOutput, sampleStage: number | null = null): number => {
    const shuffles = new Map<number, Extract<RddNode, { kind: 'shuffle' }>>();
    const root = replaceShuffles(body, shuffles);
    const tasks = plannedPartitions(root);
    // Which consumer tasks read each bucket of each shuffle.
    const targets = new Map<number, number[][]>();
    for (const [id, s] of shuffles) targets.set(id, Array.from({ length: s.partitions }, () => []));
    for (let t = 0; t < tasks; t++) {
      const reads = new Map<number, Set<number>>();
      partitionReads(root, t, reads);
      for (const [id, buckets] of reads) for (const b of buckets) targets.get(id)![b]!.push(t);
    }
    const reads: { shuffle: number; side: 0 | 1 | null; stage: number }[] = [];
    for (const [id, s] of shuffles) {
      for (const input of s.inputs) {
        const p = input.partitioner;
        const to: StageOutput = { kind: 'partition_id', column: 0, partitions: tasks };
        let stage: number;
        if (p.kind === 'range') {
          // As Spark's RangePartitioner: a sampling pass over the map side (up to 100 keys per output partition,
          // spread over the map tasks, broadcast to every map task), then the map side again, bucketed by the
          // ranges each map task cuts from the same samples.
          const maps = plannedPartitions(replaceShuffles(input.input, new Map()));
          const per = Math.max(1, Math.ceil((100 * s.partitions) / Math.max(1, maps)));
          const sampling = addStage(input.input, [...input.mapSteps, { op: 'sampleKeys', count: per }], { kind: 'records' }, { kind: 'broadcast' });
          const range = { ascending: p.ascending, partitions: s.partitions };
          stage = addStage(input.input, input.mapSteps, { kind: 'buckets', targets: targets.get(id)!, range }, to, sampling);
        } else {
          const bucket: Step = { op: 'bucket', name: s.name, by: p.kind === 'round_robin' ? 'round_robin' : p.by, partitions: s.partitions };
          stage = addStage(input.input, [...input.mapSteps, bucket], { kind: 'buckets', targets: targets.get(id)! }, to);
        }
        reads.push({ shuffle: id, side: input.side, stage });
      }
    }
    const spec: RddStageSpec = {
      version: RDD_JOB_VERSION,
      node: root,
      steps,
      reads: reads.map(({ shuffle, side }) => ({ shuffle, side })),
      samples: sampleStage === null ? null : reads.length,
      output,
      timeoutMs,
    };
    const inputStages = [...reads.map((r) => r.stage), ...(sampleStage === null ? [] : [sampleStage])];
    const inputs: PhysicalPlan[] = inputStages.map((stage) => {
      const produced = stages[stage]!.output as Partitioning;
      return Object.freeze({ kind: 'stage_input', stage, schema: RDD_ROWS_SCHEMA, partitioning: produced });
    });
    const plan: PhysicalPlan = Object.freeze({ kind: 'rdd', task: JSON.stringify(lineageJson(spec)), inputs: Object.freeze(inputs) });
    const id = stages.length;
    stages.push(Object.freeze({ id, plan, output: partitioning, tasks, splits: null, inputs: Object.freeze(inputStages), workerKind: 'lambda' }));
    return id;
  };

  addStage(node, spec.steps, spec.text ? { kind: 'text', dir: spec.text.dir } : { kind: 'records' }, { kind: 'result' });
  return Object.freeze({ version: STAGE_GRAPH_VERSION, stages: Object.freeze(stages) });
}

/** `node` with every shuffle below it (not below other shuffles) replaced by its reduce side read from the shuffle. */
function replaceShuffles(node: RddNode, found: Map<number, Extract<RddNode, { kind: 'shuffle' }>>): RddNode {
  if (node.kind !== 'shuffle') return withInputs(node, (i) => replaceShuffles(i, found));
  found.set(node.id, node);
  return Object.freeze({ kind: 'shuffle_read', id: node.id, name: node.name, partitions: node.partitions, reduceSteps: node.reduceSteps });
}

/** The shuffle partitions partition `p` of `node` reads, by shuffle (as RddJob.compute walks the lineage). */
function partitionReads(node: RddNode, p: number, out: Map<number, Set<number>>): void {
  switch (node.kind) {
    case 'parallelize':
    case 'text_file':
    case 'dataframe':
    case 'stored':
    case 'parquet_rows':
      return;
    case 'shuffle_read': {
      const set = out.get(node.id) ?? new Set<number>();
      set.add(p);
      out.set(node.id, set);
      return;
    }
    case 'shuffle':
      throw new Error('internal: shuffles are replaced before reads are planned');
    case 'narrow':
      return partitionReads(node.input, p, out);
    case 'union': {
      let q = p;
      for (const i of node.inputs) {
        const n = plannedPartitions(i);
        if (q < n) return partitionReads(i, q, out);
        q -= n;
      }
      return;
    }
    case 'coalesce': {
      const parents = plannedPartitions(node.input);
      const n = Math.min(node.partitions, parents);
      for (let q = Math.floor((p * parents) / n); q < Math.floor(((p + 1) * parents) / n); q++) partitionReads(node.input, q, out);
      return;
    }
  }
}

/** Text file nodes at their files' current versions (re-split when a file changed since the RDD was built). */
async function pinTextFiles(node: RddNode): Promise<RddNode> {
  if (node.kind !== 'text_file') return mapInputs(node, pinTextFiles);
  const now = await Promise.all(node.files.map(async (f) => ({ path: f.path, version: await fileVersion(f.path) })));
  const gone = now.find((f) => f.version === 'missing');
  if (gone) throw new DataError(`text file '${gone.path}' does not exist`);
  if (now.every((f, i) => f.version === node.files[i]!.version)) return node;
  const splits = planSplits(now.map((f) => ({ path: f.path, size: Number(f.version.split(':')[0]) })), node.splitBytes);
  return Object.freeze({ ...node, files: Object.freeze(now), splits: Object.freeze(splits) });
}
