// RDD lineage cut into stages at shuffles, and tasks that run one stage's partition with nothing but their
// JSON and a shuffle store: the shape the serverless runtime will run (map tasks write buckets, reduce and
// result tasks read them). `runStagesLocally` drives the stages in this process through task JSON and an
// in-memory store, which is how the cut is tested; on a cluster the coordinator would launch the same tasks.
import * as v8 from 'node:v8';
import { ExecutionError } from '../types/errors.ts';
import { type RddNode, type ShuffleInput, type Step, withInputs } from './lineage.ts';
import { RddJob, type RddHost, type RddShuffleStore } from './runner.ts';
import { hostRuntime } from './sandbox.ts';
import { rddTaskFromJson, rddTaskToJson } from './task.ts';

/** One side of one shuffle, computed by map tasks over `node`'s partitions. */
export interface RddMapStage {
  readonly kind: 'map';
  readonly id: number;
  /** The map side's lineage, upstream shuffles replaced by shuffle_read nodes. */
  readonly node: RddNode;
  readonly steps: readonly Step[];
  readonly shuffle: number;
  readonly name: string;
  readonly partitions: number;
  readonly partitioner: ShuffleInput['partitioner'];
  readonly side: 0 | 1 | null;
  /** Stages whose shuffles this one reads. */
  readonly parents: readonly number[];
}

export interface RddResultStage {
  readonly kind: 'result';
  readonly id: number;
  readonly node: RddNode;
  readonly parents: readonly number[];
}

export type RddStage = RddMapStage | RddResultStage;

/** The stages that compute `node`, parents first; the last is the result stage. */
export function planRddStages(node: RddNode): RddStage[] {
  const stages: RddStage[] = [];
  const reads = new Map<number, { node: RddNode; stages: number[] }>();
  const rewrite = (n: RddNode, deps: Set<number>): RddNode => {
    if (n.kind !== 'shuffle') return withInputs(n, (i) => rewrite(i, deps));
    let read = reads.get(n.id);
    if (!read) {
      const ids: number[] = [];
      for (const input of n.inputs) {
        const own = new Set<number>();
        const mapNode = rewrite(input.input, own);
        const stage: RddMapStage = {
          kind: 'map',
          id: stages.length,
          node: mapNode,
          steps: input.mapSteps,
          shuffle: n.id,
          name: n.name,
          partitions: n.partitions,
          partitioner: input.partitioner,
          side: input.side,
          parents: [...own],
        };
        stages.push(stage);
        ids.push(stage.id);
      }
      read = { node: Object.freeze({ kind: 'shuffle_read', id: n.id, name: n.name, partitions: n.partitions, reduceSteps: n.reduceSteps }), stages: ids };
      reads.set(n.id, read);
    }
    for (const s of read.stages) deps.add(s);
    return read.node;
  };
  const deps = new Set<number>();
  const root = rewrite(node, deps);
  stages.push({ kind: 'result', id: stages.length, node: root, parents: [...deps] });
  return stages;
}

/** A stage task as data: which stage's partition, and for map tasks the steps through the bucketing. */
export interface RddStageTask {
  readonly version: 1;
  readonly stage: number;
  readonly node: RddNode;
  readonly partition: number;
  readonly steps: readonly Step[];
  /** For map tasks: the shuffle and side the buckets are written for. */
  readonly output: { readonly shuffle: number; readonly side: 0 | 1 | null } | null;
}

const noDriver: RddHost = {
  dataFrameRows() {
    throw new ExecutionError('this RDD task reads a DataFrame (df.rdd), which only the driver can run');
  },
};

/**
 * Runs one stage task (what an executor does with the task's JSON): a map task writes its serialized buckets
 * to the store and returns their sizes; a result task returns its records.
 */
export async function runStageTask(json: string, store: RddShuffleStore, options: { timeoutMs?: number } = {}): Promise<{ records?: unknown[]; bucketBytes?: number[] }> {
  const parsed = rddTaskFromJson(json) as unknown as RddStageTask;
  const job = new RddJob(noDriver, { persisted: new Map(), sandbox: options.timeoutMs ? { timeoutMs: options.timeoutMs } : {} }, store);
  const out = await job.compute(parsed.node, parsed.partition, parsed.steps);
  if (!parsed.output) return { records: out };
  const buckets = (out as unknown[][]).map((b) => (b.length ? new Uint8Array(v8.serialize(b)) : new Uint8Array(0)));
  await store.write(parsed.output.shuffle, parsed.output.side, parsed.partition, buckets);
  return { bucketBytes: buckets.map((b) => b.length) };
}

/** Shuffle buckets in memory (what S3 holds on a cluster), with the bytes written counted. */
export class MemoryShuffleStore implements RddShuffleStore {
  bytesWritten = 0;
  private readonly outputs = new Map<number, { side: 0 | 1 | null; mapTask: number; buckets: readonly Uint8Array[] }[]>();

  async write(shuffle: number, side: 0 | 1 | null, mapTask: number, buckets: readonly Uint8Array[]): Promise<void> {
    const list = this.outputs.get(shuffle) ?? [];
    // A retried map task replaces its earlier output (one committed attempt per task).
    const kept = list.filter((o) => !(o.side === side && o.mapTask === mapTask));
    kept.push({ side, mapTask, buckets });
    this.outputs.set(shuffle, kept);
    for (const b of buckets) this.bytesWritten += b.length;
  }

  async read(shuffle: number, reducePartition: number): Promise<{ side: 0 | 1 | null; bytes: Uint8Array }[]> {
    const list = this.outputs.get(shuffle);
    if (!list) throw new ExecutionError(`shuffle ${shuffle} has no map outputs`);
    const sorted = [...list].sort((a, b) => (a.side ?? 0) - (b.side ?? 0) || a.mapTask - b.mapTask);
    return sorted.filter((o) => (o.buckets[reducePartition]?.length ?? 0) > 0).map((o) => ({ side: o.side, bytes: o.buckets[reducePartition]! }));
  }
}

function serialize(v: unknown): Uint8Array {
  return new Uint8Array(v8.serialize(v));
}

/**
 * Runs `node`'s stages one after another, every task through its JSON (as an executor would receive it) and
 * `store`; returns the result partitions. Range-partitioned map stages (sortBy) first run a sampling pass.
 */
export async function runStagesLocally(node: RddNode, store: RddShuffleStore = new MemoryShuffleStore(), options: { timeoutMs?: number; onTask?: (json: string) => void } = {}): Promise<unknown[][]> {
  const stages = planRddStages(node);
  const sizing = new RddJob(noDriver, { persisted: new Map(), sandbox: {} }, store);
  let result: unknown[][] = [];
  const run = async (task: RddStageTask) => {
    const json = rddTaskToJson(task);
    options.onTask?.(json);
    return runStageTask(json, store, options);
  };
  for (const stage of stages) {
    const tasks = await sizing.numPartitions(stage.node);
    if (stage.kind === 'result') {
      result = [];
      for (let p = 0; p < tasks; p++) result.push((await run({ version: 1, stage: stage.id, node: stage.node, partition: p, steps: [], output: null })).records!);
      continue;
    }
    let bucket: Step;
    if (stage.partitioner.kind === 'range') {
      // Sampling pass: up to 100 keys per output partition, spread over the map tasks.
      const per = Math.max(1, Math.ceil((100 * stage.partitions) / Math.max(1, tasks)));
      const sample: unknown[] = [];
      for (let p = 0; p < tasks; p++) {
        const keys = (await run({ version: 1, stage: stage.id, node: stage.node, partition: p, steps: [...stage.steps, { op: 'sampleKeys', count: per }], output: null })).records!;
        sample.push(...keys);
      }
      sample.sort(hostRuntime.compare);
      const bounds: unknown[] = [];
      for (let i = 1; i < stage.partitions && sample.length; i++) bounds.push(sample[Math.min(sample.length - 1, Math.floor((i * sample.length) / stage.partitions))]);
      bucket = { op: 'rangeBucket', bounds: serialize(bounds), ascending: stage.partitioner.ascending, partitions: stage.partitions };
    } else {
      bucket = { op: 'bucket', name: stage.name, by: stage.partitioner.kind === 'round_robin' ? 'round_robin' : stage.partitioner.by, partitions: stage.partitions };
    }
    for (let p = 0; p < tasks; p++) {
      await run({ version: 1, stage: stage.id, node: stage.node, partition: p, steps: [...stage.steps, bucket], output: { shuffle: stage.shuffle, side: stage.side } });
    }
  }
  return result;
}
