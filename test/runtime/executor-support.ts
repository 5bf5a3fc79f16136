// Shared by the executor tests: test tables written as Parquet, stage graphs planned for a cluster, and a
// minimal driver that runs every task of every stage through an executor (in-process runTask or the Lambda
// endpoint) in dependency order, committing map outputs between stages as the coordinator does.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as arrow from 'apache-arrow';
import { Session, type DataFrame } from '../../core/sdk/index.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { DISTRIBUTED_PLANNING, createPhysicalPlan } from '../../core/physical/planner.ts';
import { physicalSchema } from '../../core/physical/physical-plan.ts';
import { planStages, scannedFileSizes, type StageGraph } from '../../core/physical/stages.ts';
import { describeTask, serializeTask } from '../../core/physical/task.ts';
import type { ObjectStore } from '../../core/io/object-store.ts';
import { combineMapOutputs, planCombinerGroups } from '../../core/shuffle/combiner.ts';
import { commitMapOutputs, emptyManifest, manifestUri } from '../../core/shuffle/manifest.ts';
import type { MapOutput } from '../../core/shuffle/map-output.ts';
import { partitionCount } from '../../core/shuffle/shuffle-writer.ts';
import { EXECUTOR_PROTOCOL_VERSION, type ExecutorRequest, type ExecutorResponse, fromBase64 } from '../../core/runtime/protocol.ts';
import { boundariesFromSamples, decodeIpc } from '../../core/runtime/range-sample.ts';
import { batchesToRows } from '../../core/sdk/rows.ts';
import { type Plain, plainRows } from '../support/compare.ts';

export const FACT_ROWS = 6000;
const GROUPS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', null];

/** Writes `facts` (id, k, g, v, s) and `dims` (k, name) as Parquet directories under `dir`. */
export async function writeTestTables(dir: string): Promise<{ facts: string; dims: string }> {
  const session = Session.local();
  const facts = Array.from({ length: FACT_ROWS }, (_, id) => ({
    id,
    k: (id * 7) % 53,
    g: GROUPS[id % GROUPS.length],
    v: ((id * 37) % 1000) / 8 + 0.25,
    s: `name-${(id * 13) % 97}`,
  }));
  const dims = Array.from({ length: 60 }, (_, k) => ({ k, name: `dim-${k % 17}`, weight: k * 1.5 + 0.5 }));
  const factsDir = path.join(dir, 'facts');
  const dimsDir = path.join(dir, 'dims');
  await session.createDataFrame(facts, { id: 'int64', k: 'int64', g: 'string', v: 'double', s: 'string' }).write.option('rowGroupSize', 500).parquet(factsDir);
  await session.createDataFrame(dims, { k: 'int64', name: 'string', weight: 'double' }).write.parquet(dimsDir);
  return { facts: factsDir, dims: dimsDir };
}

export interface GraphOptions {
  readonly targetBytesPerTask?: number;
  readonly broadcastThreshold?: number;
  readonly maxPartitions?: number;
}

/** The stage graph a cluster run of `df` has. */
export async function graphFor(df: DataFrame, options: GraphOptions = {}): Promise<StageGraph> {
  const optimized = optimize(df.plan, options.broadcastThreshold === undefined ? {} : { broadcastThreshold: options.broadcastThreshold });
  const planning = { ...DISTRIBUTED_PLANNING, targetBytesPerTask: options.targetBytesPerTask ?? 16 * 1024, maxPartitions: options.maxPartitions ?? 4 };
  const physical = createPhysicalPlan(optimized, planning);
  return planStages(physical, { targetBytesPerTask: planning.targetBytesPerTask, fileSizes: await scannedFileSizes(physical) });
}

export interface DriverOptions {
  readonly store: ObjectStore;
  /** Job folder: shuffle/, result/ and tasks/ go below it. */
  readonly root: string;
  readonly job: string;
  readonly execute: (request: ExecutorRequest) => Promise<ExecutorResponse>;
  readonly sampleSize?: number;
  readonly inlineResultBytes?: number;
  /** Send tasks by reference (`taskUri`) instead of inline. */
  readonly taskByUri?: boolean;
  /** Insert a combining step for every shuffle with more than one map task; consumers read 'combined'. */
  readonly combine?: boolean;
}

export interface DriverRun {
  readonly responses: ExecutorResponse[];
  /** Result rows from the Parquet parts, in task order. */
  readonly parquetRows: Plain[][];
  /** Result rows from the inline IPC, in task order (null when some task did not inline). */
  readonly inlineRows: Plain[][] | null;
  readonly resultRoot: string;
  readonly manifests: ReadonlyMap<number, string>;
}

export async function runOnExecutors(graph: StageGraph, o: DriverOptions): Promise<DriverRun> {
  const shuffleRoot = `${o.root}/shuffle`;
  const resultRoot = `${o.root}/result`;
  const manifests = new Map<number, string>();
  const responses: ExecutorResponse[] = [];
  const partUris: string[] = [];
  const inline: arrow.RecordBatch[] = [];
  let allInline = true;
  const resultStage = graph.stages.at(-1)!;
  const resultSchema = physicalSchema(resultStage.plan);
  for (const stage of graph.stages) {
    const inputs = stage.inputs.map((id) => ({ stage: id, manifest: manifests.get(id)! }));
    const request = async (t: number, mode: 'run' | 'sample', rangeBoundaries: string | null): Promise<ExecutorRequest> => {
      const task = describeTask(graph, o.job, stage.id, t);
      let taskUri: string | null = null;
      if (o.taskByUri) {
        taskUri = `${o.root}/tasks/stage-${stage.id}-task-${t}.json`;
        await o.store.put(taskUri, serializeTask(task));
      }
      return {
        version: EXECUTOR_PROTOCOL_VERSION,
        mode,
        task: o.taskByUri ? null : task,
        taskUri,
        shuffleRoot,
        resultRoot,
        inputs,
        rangeBoundaries,
        sampleSize: o.sampleSize ?? 64,
        inlineResultBytes: o.inlineResultBytes ?? 1 << 20,
      };
    };
    let boundaries: string | null = null;
    if (stage.output.kind === 'range') {
      const samples: { sample: string; rows: number }[] = [];
      for (let t = 0; t < stage.tasks; t++) {
        const r = await o.execute(await request(t, 'sample', null));
        if (r.output.kind !== 'sample') throw new Error(`stage ${stage.id} task ${t}: a sample pass answered ${r.output.kind}`);
        expectNoKeys(r);
        samples.push(r.output);
      }
      boundaries = boundariesFromSamples(physicalSchema(stage.plan), stage.output, samples);
    }
    const outputs: MapOutput[] = [];
    for (let t = 0; t < stage.tasks; t++) {
      const r = await o.execute(await request(t, 'run', boundaries));
      responses.push(r);
      if (r.output.kind === 'shuffle') outputs.push(r.output.mapOutput);
      else if (r.output.kind === 'result') {
        if (r.output.uri) partUris.push(r.output.uri);
        if (r.output.inline === null) allInline = false;
        else inline.push(decodeIpc(resultSchema, fromBase64(r.output.inline)));
      } else throw new Error('a run pass answered with a sample');
    }
    if (stage.output.kind === 'result') continue;
    const partitions = partitionCount(stage.output);
    const { manifest } = await commitMapOutputs(o.store, shuffleRoot, emptyManifest(stage.id, stage.tasks, partitions), outputs);
    if (o.combine && outputs.length > 1) {
      const groups = planCombinerGroups(manifest.outputs);
      const combined: MapOutput[] = [];
      for (let c = 0; c < groups.length; c++) {
        combined.push(await combineMapOutputs(o.store, groups[c]!, { shuffleRoot, stage: stage.id, combiner: c, attempt: 0 }));
      }
      const m = await commitMapOutputs(o.store, shuffleRoot, emptyManifest(stage.id, groups.length, partitions), combined, 'combined');
      manifests.set(stage.id, manifestUri(shuffleRoot, stage.id, m.manifest.sequence, 'combined'));
    } else {
      manifests.set(stage.id, manifestUri(shuffleRoot, stage.id, manifest.sequence));
    }
  }
  const parquetRows: Plain[][] = [];
  for (const uri of partUris) {
    const df = await Session.local().read.parquet(uri);
    parquetRows.push(...plainRows(await df.collect()));
  }
  return {
    responses,
    parquetRows,
    inlineRows: allInline ? plainRows(batchesToRows(resultSchema, inline)) : null,
    resultRoot,
    manifests,
  };
}

function expectNoKeys(r: ExecutorResponse): void {
  if (r.keys.length !== 0) throw new Error(`a sample pass wrote ${r.keys.join(', ')}`);
}

export function removeDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
