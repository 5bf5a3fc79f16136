// An RDD task as data, for running partitions away from the driver: the lineage (plain data: user functions
// as source text, contexts and parallelized data as structured-clone bytes) as JSON, and the partition to
// compute. `runRddTask` computes it with nothing from the driver's memory — what an executor process does.
// (The serverless scheduler does not run RDD stages yet; this is the format it will ship.)
import { ExecutionError } from '../types/errors.ts';
import type { RddNode, Step } from './lineage.ts';
import { RddJob, type RddHost } from './runner.ts';

export interface RddTaskSpec {
  readonly version: 1;
  readonly node: RddNode;
  readonly partition: number;
  /** Steps run after the node's own, in the same task (a shuffle's map side, an action's per-partition step). */
  readonly steps: readonly Step[];
}

const BYTES = '$bytes';

/** The task as JSON (byte arrays as base64). */
export function rddTaskToJson(spec: RddTaskSpec | { readonly version: 1; readonly node: RddNode; readonly partition: number; readonly steps: readonly Step[] }): string {
  return JSON.stringify(spec, function (this: unknown, _k: string, v: unknown) {
    if (v instanceof Uint8Array) return { [BYTES]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    return v;
  });
}

/** A task from its JSON. */
export function rddTaskFromJson(text: string): RddTaskSpec {
  const spec = JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as Record<string, unknown>)[BYTES] === 'string') {
      return new Uint8Array(Buffer.from((v as Record<string, string>)[BYTES]!, 'base64'));
    }
    return v;
  }) as RddTaskSpec;
  if (!spec || spec.version !== 1 || typeof spec.partition !== 'number' || !spec.node || typeof spec.node.kind !== 'string' || !Array.isArray(spec.steps)) {
    throw new ExecutionError('not an RDD task (expected { version: 1, node, partition, steps })');
  }
  return spec;
}

const noDriver: RddHost = {
  dataFrameRows() {
    throw new ExecutionError('this RDD task reads a DataFrame (df.rdd), which only the driver can run; run the DataFrame stage first');
  },
};

/**
 * Computes one partition of a task's node (running the lineage below it, shuffles included, in this process).
 * Returns the records, as `rdd.collect()` would for that partition.
 */
export async function runRddTask(spec: RddTaskSpec, options: { timeoutMs?: number; host?: RddHost } = {}): Promise<unknown[]> {
  const job = new RddJob(options.host ?? noDriver, { persisted: new Map(), sandbox: options.timeoutMs ? { timeoutMs: options.timeoutMs } : {} });
  const n = await job.numPartitions(spec.node);
  if (!Number.isInteger(spec.partition) || spec.partition < 0 || spec.partition >= n) {
    throw new ExecutionError(`partition ${spec.partition} is out of range: the RDD has ${n} partitions`);
  }
  return job.compute(spec.node, spec.partition, spec.steps);
}
