// The stage graph: a distributed physical plan cut at its exchanges. Each stage is a pipeline one task runs
// over one share of the input (file splits, or one partition of each upstream stage's output), ending in how
// its output is partitioned for the consumer. Stages name the worker kind they need. The graph is plain data
// with a version, so the coordinator can persist it and executors can receive their stage.
import { DataError, ExecutionError, UnsupportedError } from '../types/errors.ts';
import { localPath, storeFor } from '../io/file-store.ts';
import type { FileSplit } from '../io/file-split.ts';
import {
  type FileSource,
  type Partitioning,
  type PhysicalPlan,
  type WorkerKind,
  partitioningToString,
  physicalInputs,
  physicalPlanText,
  physicalSchema,
  withPhysicalInputs,
} from './physical-plan.ts';

export const STAGE_GRAPH_VERSION = 1;

export type { FileSplit };

export type StageOutput = Partitioning | { readonly kind: 'result' };

export interface Stage {
  readonly id: number;
  /** What one task runs. Leaves: file scans (each task reads its splits) and stage inputs. */
  readonly plan: PhysicalPlan;
  readonly output: StageOutput;
  readonly tasks: number;
  /** For stages that scan files: the splits of task t are `splits[t]`. */
  readonly splits: readonly (readonly FileSplit[])[] | null;
  /** Stages whose output this one reads; they must finish first. */
  readonly inputs: readonly number[];
  readonly workerKind: WorkerKind;
}

export interface StageGraph {
  readonly version: typeof STAGE_GRAPH_VERSION;
  /** In dependency order: every stage comes after the stages it reads. The last one produces the result. */
  readonly stages: readonly Stage[];
}

export interface StagePlanningOptions {
  /** Bytes of file input per scan task. */
  readonly targetBytesPerTask: number;
  /** Size in bytes of every file the plan scans. */
  readonly fileSizes: ReadonlyMap<string, number>;
  /** In-memory tables are readable only when the stages run in the process that holds them. */
  readonly inProcess?: boolean;
}

/**
 * Sizes of the files a plan scans: an image source's from its listing, other files' from their store (a stat
 * for local files, a HEAD for s3:// objects).
 */
export async function scannedFileSizes(plan: PhysicalPlan): Promise<Map<string, number>> {
  const paths = new Set<string>();
  const out = new Map<string, number>();
  const walk = (p: PhysicalPlan) => {
    if (p.kind === 'file_scan') {
      const source = p.source;
      if (source.format === 'images') source.paths.forEach((f, i) => out.set(f, source.sizes[i]!));
      else for (const f of source.paths) paths.add(f);
    }
    physicalInputs(p).forEach(walk);
  };
  walk(plan);
  // Through the path's store: a stat for local files, a HEAD for s3:// objects.
  for (const path of paths) {
    if (out.has(path)) continue;
    const info = await storeFor(path).stat(localPath(path));
    if (!info || info.kind !== 'file') throw new DataError(`input file '${path}' does not exist`);
    out.set(path, info.size);
  }
  return out;
}

/**
 * Splits files into task inputs of about `target` bytes: large files into byte ranges (only when `splittable`:
 * Parquet is, by row group; text formats are not), small files packed together (largest first, each into the
 * least-filled task).
 */
export function planSplits(paths: readonly string[], sizes: ReadonlyMap<string, number>, target: number, splittable = true): FileSplit[][] {
  const pieces: FileSplit[] = [];
  for (const path of paths) {
    const size = sizes.get(path);
    if (size === undefined) throw new ExecutionError(`no size known for input file '${path}'`);
    const n = splittable ? Math.max(1, Math.ceil(size / target)) : 1;
    const step = Math.max(1, Math.ceil(size / n));
    pieces.push({ path, start: 0, length: Math.min(step, size) });
    for (let start = step; start < size; start += step) pieces.push({ path, start, length: Math.min(step, size - start) });
  }
  const total = pieces.reduce((s, p) => s + p.length, 0);
  const tasks = Math.max(1, Math.min(pieces.length, Math.ceil(total / target)));
  const bins: { bytes: number; splits: FileSplit[] }[] = Array.from({ length: tasks }, () => ({ bytes: 0, splits: [] }));
  for (const piece of [...pieces].sort((a, b) => b.length - a.length)) {
    let best = bins[0]!;
    for (const b of bins) if (b.bytes < best.bytes) best = b;
    best.splits.push(piece);
    best.bytes += piece.length;
  }
  return bins.map((b) => b.splits);
}

function partitionsOf(p: Partitioning): number | null {
  switch (p.kind) {
    case 'hash':
    case 'range':
    case 'round_robin':
    case 'partition_id':
      return p.partitions;
    case 'single':
      return 1;
    case 'broadcast':
      return null;
  }
}

/** The worker kind a stage's pipeline needs: its model's (the planner puts each non-Lambda model in a stage of its own), else a Lambda. */
export function stageWorkerKind(p: PhysicalPlan): WorkerKind {
  if (p.kind === 'apply_model' && p.workerKind !== 'lambda') return p.workerKind;
  for (const c of physicalInputs(p)) {
    const k = stageWorkerKind(c);
    if (k !== 'lambda') return k;
  }
  return 'lambda';
}

/** Cuts a distributed physical plan into stages at its exchanges. */
export function planStages(plan: PhysicalPlan, options: StagePlanningOptions): StageGraph {
  const stages: Stage[] = [];
  const cut = (p: PhysicalPlan, output: StageOutput): number => {
    const inputs: number[] = [];
    const scans: FileSource[] = [];
    // Replace each exchange below this stage's root by an input from a new stage.
    const rewrite = (n: PhysicalPlan): PhysicalPlan => {
      if (n.kind === 'exchange') {
        const id = cut(n.input, n.partitioning);
        inputs.push(id);
        return Object.freeze({ kind: 'stage_input', stage: id, schema: physicalSchema(n.input), partitioning: n.partitioning });
      }
      if (n.kind === 'file_scan') scans.push(n.source);
      if (n.kind === 'memory_scan' && !options.inProcess) {
        throw new UnsupportedError('the job reads an in-memory table (createDataFrame, range, or SQL without FROM), which remote tasks cannot read; write it to Parquet first');
      }
      const kids = physicalInputs(n);
      const next = kids.map(rewrite);
      return next.some((k, i) => k !== kids[i]) ? withPhysicalInputs(n, next) : n;
    };
    const body = rewrite(p);
    // Tasks: one per partition of the partitioned inputs (they agree by construction), else one per file split.
    const partitioned = inputs
      .map((id) => stages[id]!.output)
      .map((o) => (o.kind === 'result' ? null : partitionsOf(o)))
      .filter((n): n is number => n !== null);
    if (new Set(partitioned).size > 1) {
      throw new ExecutionError(`internal: stage inputs disagree on partition counts (${partitioned.join(', ')})`);
    }
    let tasks: number;
    let splits: FileSplit[][] | null = null;
    if (scans.length > 0) {
      if (partitioned.length > 0) {
        throw new ExecutionError('internal: a stage cannot both scan files and read partitioned stage inputs');
      }
      if (scans.length > 1) {
        throw new ExecutionError('internal: a stage scans more than one source; the planner must exchange the others');
      }
      splits = planSplits(scans[0]!.paths, options.fileSizes, options.targetBytesPerTask, scans[0]!.format === 'parquet');
      tasks = splits.length;
    } else {
      tasks = partitioned[0] ?? 1;
    }
    const id = stages.length;
    stages.push(Object.freeze({ id, plan: body, output, tasks, splits, inputs: Object.freeze(inputs), workerKind: stageWorkerKind(body) }));
    return id;
  };
  cut(plan, { kind: 'result' });
  return Object.freeze({ version: STAGE_GRAPH_VERSION, stages: Object.freeze(stages) });
}

/** The stage graph as text, as the coordinator logs it and explain('stages') prints it. */
export function stageGraphText(g: StageGraph): string {
  return g.stages
    .map((s) => {
      const out = s.output.kind === 'result' ? 'result' : partitioningToString(s.output);
      const head = `Stage ${s.id} (${s.workerKind}, ${s.tasks} task${s.tasks === 1 ? '' : 's'}) → ${out}${
        s.inputs.length ? ` reads [${s.inputs.join(', ')}]` : ''
      }`;
      return [head, physicalPlanText(s.plan, 1)].join('\n');
    })
    .join('\n');
}
