// An RDD's lineage as plain data: sources, narrow steps and shuffles, each node holding what a task needs to
// compute one of its partitions (user functions as source text with serialized contexts). The in-process
// runner (runner.ts) walks it; an executor can be handed a node and a partition index the same way.
import type { LogicalPlan } from '../plan/logical-plan.ts';
import type { ShippedFunction } from './closure.ts';

/** One step of a task over a partition's records (see runtime-source.ts for what each does). */
export type Step =
  | { readonly op: 'map' | 'filter' | 'flatMap' | 'mapPartitions' | 'keyBy' | 'mapValues' | 'flatMapValues' | 'foreachPartition'; readonly fn: ShippedFunction }
  | { readonly op: 'sample'; readonly withReplacement: boolean; readonly fraction: number; readonly seed: number }
  /** Per key: the first value (or fn(copy of zero, value)) then fn(acc, value); `name` is the user's operation. */
  | { readonly op: 'combine'; readonly name: string; readonly fn: ShippedFunction; readonly zero: Uint8Array | null }
  | { readonly op: 'group' }
  | { readonly op: 'dedupe' }
  /** Records are [side, [key, value]] with side 0 (left) or 1 (right). */
  | { readonly op: 'join'; readonly how: 'inner' | 'left' | 'right' | 'full' }
  /** Records as for join; each key once with [left values, right values]. */
  | { readonly op: 'cogroup' }
  | { readonly op: 'sortByKey'; readonly ascending: boolean }
  | { readonly op: 'values' }
  | { readonly op: 'keys' }
  | { readonly op: 'partitionReduce'; readonly fn: ShippedFunction; readonly zero: Uint8Array | null }
  /** Splits records into `partitions` buckets by the hash of the key ([k, v] records), the whole record, or round robin. */
  | { readonly op: 'bucket'; readonly name: string; readonly by: 'key' | 'record' | 'round_robin'; readonly partitions: number }
  /** Buckets [key, record] records by the ranges `bounds` cut (sortBy's map side on a cluster). */
  | { readonly op: 'rangeBucket'; readonly bounds: Uint8Array; readonly ascending: boolean; readonly partitions: number }
  /** Up to `count` keys of [key, record] records, at even strides (sortBy's sampling pass). */
  | { readonly op: 'sampleKeys'; readonly count: number };

/** A byte range of a text file; lines belong to the split holding their first byte. */
export interface TextSplit {
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

/** What identifies a file's content: size plus mtime (local) or ETag (S3). */
export interface FileVersion {
  readonly path: string;
  readonly version: string;
}

/** One side of a shuffle: the parent, the steps its map tasks run, and how records go to reduce partitions. */
export interface ShuffleInput {
  readonly input: RddNode;
  readonly mapSteps: readonly Step[];
  /** 'range': map outputs are [key, record]; the driver samples keys into ranges (sortBy). */
  readonly partitioner: { readonly kind: 'hash'; readonly by: 'key' | 'record' } | { readonly kind: 'round_robin' } | { readonly kind: 'range'; readonly ascending: boolean };
  /** For joins: reduce tasks see [side, record]. */
  readonly side: 0 | 1 | null;
}

export type RddNode =
  | { readonly kind: 'parallelize'; readonly id: number; readonly partitions: readonly Uint8Array[] }
  | { readonly kind: 'text_file'; readonly id: number; readonly files: readonly FileVersion[]; readonly splits: readonly TextSplit[]; readonly splitBytes: number }
  /** A DataFrame's rows as plain objects, spread over `partitions`. */
  | { readonly kind: 'dataframe'; readonly id: number; readonly plan: LogicalPlan; readonly partitions: number }
  | { readonly kind: 'narrow'; readonly id: number; readonly input: RddNode; readonly steps: readonly Step[] }
  | { readonly kind: 'shuffle'; readonly id: number; readonly name: string; readonly inputs: readonly ShuffleInput[]; readonly partitions: number; readonly reduceSteps: readonly Step[] }
  | { readonly kind: 'union'; readonly id: number; readonly inputs: readonly RddNode[] }
  /**
   * A shuffle's reduce side when stages run apart (stages.ts): partition p is every map task's bucket p, read
   * from the shuffle store, then `reduceSteps`. `id` is the shuffle node's.
   */
  | { readonly kind: 'shuffle_read'; readonly id: number; readonly name: string; readonly partitions: number; readonly reduceSteps: readonly Step[] }
  /**
   * A persisted RDD materialized in an S3 cache entry (remote sessions): partition p is the Parquet file
   * `partitions[p]` (rows of serialized record chunks; null for an empty partition). `entry` names the entry.
   */
  | { readonly kind: 'stored'; readonly id: number; readonly entry: string; readonly partitions: readonly (string | null)[] }
  /**
   * A DataFrame's rows as plain objects, read from the Parquet parts of a job that computed it (df.rdd in remote
   * sessions): partition p reads the files `partitions[p]`.
   */
  | { readonly kind: 'parquet_rows'; readonly id: number; readonly partitions: readonly (readonly string[])[] }
  /** Joins neighbouring parent partitions into `partitions` groups without a shuffle. */
  | { readonly kind: 'coalesce'; readonly id: number; readonly input: RddNode; readonly partitions: number };

let nextId = 0;

/** A fresh node id (lineage identity: persist() is keyed by it). */
export function newNodeId(): number {
  return ++nextId;
}

/** Partitions of a node as planned when it was built (text files re-split at run time if they changed). */
export function plannedPartitions(node: RddNode): number {
  switch (node.kind) {
    case 'parallelize':
      return node.partitions.length;
    case 'text_file':
      return node.splits.length;
    case 'stored':
    case 'parquet_rows':
      return node.partitions.length;
    case 'dataframe':
    case 'shuffle':
    case 'shuffle_read':
      return node.partitions;
    case 'coalesce':
      return Math.min(node.partitions, plannedPartitions(node.input));
    case 'narrow':
      return plannedPartitions(node.input);
    case 'union':
      return node.inputs.reduce((n, i) => n + plannedPartitions(i), 0);
  }
}

/** Lineage as indented text (rdd.toDebugString()). */
export function lineageText(node: RddNode, persisted: (id: number) => boolean, indent = ''): string {
  const mark = persisted(node.id) ? ' [persisted]' : '';
  const head = (s: string) => `${indent}(${plannedPartitions(node)}) ${s} #${node.id}${mark}`;
  switch (node.kind) {
    case 'parallelize':
      return head('ParallelCollectionRDD');
    case 'text_file':
      return head(`TextFileRDD ${node.files.map((f) => f.path).join(', ')}`);
    case 'dataframe':
      return head('DataFrameRDD');
    case 'narrow':
      return `${head(`MapPartitionsRDD [${node.steps.map((s) => s.op).join(', ')}]`)}\n${lineageText(node.input, persisted, indent + '  ')}`;
    case 'shuffle':
      return [head(`ShuffledRDD ${node.name}`), ...node.inputs.map((i) => `${indent}  +- map [${i.mapSteps.map((s) => s.op).join(', ')}] ${i.partitioner.kind}\n${lineageText(i.input, persisted, indent + '     ')}`)].join('\n');
    case 'shuffle_read':
      return head(`ShuffleReadRDD ${node.name}`);
    case 'stored':
      return head(`StoredRDD ${node.entry}`);
    case 'parquet_rows':
      return head(`DataFrameRDD (${node.partitions.flat().length} Parquet parts)`);
    case 'union':
      return [head('UnionRDD'), ...node.inputs.map((i) => lineageText(i, persisted, indent + '  '))].join('\n');
    case 'coalesce':
      return `${head('CoalescedRDD')}\n${lineageText(node.input, persisted, indent + '  ')}`;
  }
}

/**
 * The nodes `node` reads directly (a shuffle's map-side inputs), in the order withInputs replaces them: read off
 * withInputs itself, so the two cannot disagree.
 */
export function inputsOf(node: RddNode): readonly RddNode[] {
  const inputs: RddNode[] = [];
  withInputs(node, (n) => {
    inputs.push(n);
    return n;
  });
  return inputs;
}

/**
 * `node` with its inputs replaced by `map` of each (the node itself when none changed), for walks that rebuild a
 * lineage; `map` is called once per input, in inputsOf's order.
 */
export function withInputs(node: RddNode, map: (n: RddNode) => RddNode): RddNode {
  switch (node.kind) {
    case 'parallelize':
    case 'text_file':
    case 'dataframe':
    case 'shuffle_read':
    case 'stored':
    case 'parquet_rows':
      return node;
    case 'narrow':
    case 'coalesce': {
      const input = map(node.input);
      return input === node.input ? node : Object.freeze({ ...node, input });
    }
    case 'union': {
      const inputs = node.inputs.map(map);
      return inputs.every((x, i) => x === node.inputs[i]) ? node : Object.freeze({ ...node, inputs: Object.freeze(inputs) });
    }
    case 'shuffle': {
      const inputs = node.inputs.map((i) => ({ input: i, mapped: map(i.input) }));
      return inputs.every((x) => x.mapped === x.input.input)
        ? node
        : Object.freeze({ ...node, inputs: Object.freeze(inputs.map((x) => Object.freeze({ ...x.input, input: x.mapped }))) });
    }
  }
}

/** withInputs with an asynchronous `map`, the inputs mapped concurrently. */
export async function mapInputs(node: RddNode, map: (n: RddNode) => Promise<RddNode>): Promise<RddNode> {
  const inputs = inputsOf(node);
  const mapped = await Promise.all(inputs.map(map));
  let next = 0;
  // withInputs calls its map once per input, in inputsOf's order (an RDD may read the same node twice).
  return withInputs(node, () => mapped[next++]!);
}
