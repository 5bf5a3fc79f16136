// Runs RDD lineage in this process, one action (job) at a time: narrow steps are pipelined into one task per
// partition (one sandbox each), shuffles run their map tasks once per job, serialize every bucket (the bytes a
// cluster would write to S3, counted in the job's metrics) and feed reduce tasks; persisted nodes are
// materialized on first use and served from memory afterwards while their inputs are unchanged.
import * as v8 from 'node:v8';
import { gunzipSync } from 'node:zlib';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { isRemotePath, localPath, storeFor } from '../io/file-store.ts';
import { ExecutionError } from '../types/errors.ts';
import { fileVersion, planInputVersions } from '../cache/versions.ts';
import { readParquetSchema, scanParquet } from '../io/parquet-reader.ts';
import { batchesToRows } from '../sdk/rows.ts';
import type { RddNode, ShuffleInput, Step, TextSplit } from './lineage.ts';
import { type SandboxOptions, hostRuntime, runTask } from './sandbox.ts';

/** What a session gives the runner: DataFrame execution for `df.rdd`. */
export interface RddHost {
  dataFrameRows(plan: LogicalPlan): Promise<Record<string, unknown>[]>;
}

/** Where map tasks' buckets go when stages run apart (memory in-process; S3 on a cluster). */
export interface RddShuffleStore {
  /** One map task's serialized buckets (index = reduce partition; empty buckets may be empty arrays). */
  write(shuffle: number, side: 0 | 1 | null, mapTask: number, buckets: readonly Uint8Array[]): Promise<void>;
  /** Bucket `reducePartition` of every map task of the shuffle, with its side. */
  read(shuffle: number, reducePartition: number): Promise<readonly { readonly side: 0 | 1 | null; readonly bytes: Uint8Array }[]>;
}

/** A persisted node's materialized partitions (serialized, as Spark's MEMORY_ONLY_SER) and the input versions they came from. */
export interface PersistedPartitions {
  readonly partitions: readonly Uint8Array[];
  readonly inputs: string;
  readonly bytes: number;
}

/** Per-session RDD state: what is persisted (null until the first action materializes it) and task settings. */
export interface RddState {
  readonly persisted: Map<number, PersistedPartitions | null>;
  readonly sandbox: SandboxOptions;
}

export interface JobMetrics {
  /** Tasks run (map, reduce and result tasks). */
  tasks: number;
  /**
   * Shuffles run. In a remote session: shuffle map stages (a join's two sides are two, and a shuffle read by two
   * stages runs once for each).
   */
  shuffles: number;
  /** Bytes of serialized shuffle buckets the map tasks wrote. */
  shuffleBytesWritten: number;
  /** In a remote session: serialized chunks of up to 4,096 records (one per bucket and reading task). */
  shuffleRecordsWritten: number;
  /** Partitions served from a persisted node. */
  persistedPartitionsRead: number;
  /** Persisted nodes materialized by this job. */
  persistedNodesWritten: number;
}

/** The default bytes per text-file split. */
export const DEFAULT_SPLIT_BYTES = 32 << 20;

const decoder = new TextDecoder();

/** Splits for files of the given sizes: one per file, or per `splitBytes` of a larger file (lines kept whole at read). */
export function planSplits(files: readonly { path: string; size: number }[], splitBytes: number): TextSplit[] {
  const out: TextSplit[] = [];
  for (const f of files) {
    if (f.size <= splitBytes || isGzip(f.path)) {
      out.push({ path: f.path, start: 0, end: f.size });
      continue;
    }
    for (let s = 0; s < f.size; s += splitBytes) out.push({ path: f.path, start: s, end: Math.min(f.size, s + splitBytes) });
  }
  return out;
}

/** Gzip files are read whole (a gzip stream cannot be split), as Spark does. */
function isGzip(path: string): boolean {
  return /\.gz$/i.test(path);
}

function toLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i]!.endsWith('\r')) lines[i] = lines[i]!.slice(0, -1);
  return lines;
}

/** The lines whose first byte lies in [start, end) (Hadoop's rule), without their line terminators. */
export async function readSplitLines(split: TextSplit, size: number): Promise<string[]> {
  const store = storeFor(split.path);
  const path = isRemotePath(split.path) ? split.path : localPath(split.path);
  if (split.end <= split.start) return [];
  if (isGzip(split.path)) return toLines(decoder.decode(gunzipSync(await store.readRange(path, 0, size))));
  const from = split.start === 0 ? 0 : split.start - 1;
  const base = await store.readRange(path, from, split.end);
  let begin = 0;
  if (split.start > 0) {
    const nl = base.indexOf(10);
    if (nl < 0 || nl === base.length - 1) return [];
    begin = nl + 1;
  }
  const chunks: Uint8Array[] = [base.subarray(begin)];
  if (split.end < size && base[base.length - 1] !== 10) {
    // The last line starts here and ends in the next split: read on to its end.
    for (let pos = split.end; pos < size; ) {
      const next = await store.readRange(path, pos, Math.min(size, pos + (64 << 10)));
      if (next.length === 0) break;
      const nl = next.indexOf(10);
      if (nl >= 0) {
        chunks.push(next.subarray(0, nl + 1));
        break;
      }
      chunks.push(next);
      pos += next.length;
    }
  }
  return toLines(chunks.length === 1 ? decoder.decode(chunks[0]) : decoder.decode(Buffer.concat(chunks)));
}

/** A Parquet file's rows as plain objects, as df.rdd gives them (dates as Date, int64 as number or bigint…). */
async function readParquetRows(file: string): Promise<Record<string, unknown>[]> {
  const schema = await readParquetSchema(file);
  const batches = [];
  for await (const b of scanParquet([file], { columns: null, schema })) batches.push(b);
  return batchesToRows(schema, batches) as Record<string, unknown>[];
}

/** A stored partition's records: its Parquet file's (bucket = chunk index, records) rows, in chunk order. */
async function readStoredPartition(file: string): Promise<unknown[]> {
  const chunks: { chunk: number; bytes: string }[] = [];
  for await (const b of scanParquet([file], { columns: ['bucket', 'records'] })) {
    const bucket = b.getChildAt(0)!;
    const records = b.getChildAt(1)!;
    for (let r = 0; r < b.numRows; r++) chunks.push({ chunk: bucket.get(r) as number, bytes: records.get(r) as string });
  }
  chunks.sort((a, b) => a.chunk - b.chunk);
  const out: unknown[] = [];
  for (const c of chunks) for (const x of v8.deserialize(Buffer.from(c.bytes, 'base64')) as unknown[]) out.push(x);
  return out;
}

/** What one shuffle's map side produced: per reduce partition, the serialized buckets of every map task. */
interface ShuffleOutput {
  readonly buckets: Uint8Array[][];
}

function serialize(records: readonly unknown[], what: string): Uint8Array {
  try {
    return new Uint8Array(v8.serialize(records));
  } catch (e) {
    throw new ExecutionError(`${what}: a record cannot be serialized (records must be structured-clone serializable: no functions, symbols or class instances with private state): ${(e as Error).message}`);
  }
}

function deserialize(bytes: Uint8Array): unknown[] {
  return v8.deserialize(bytes) as unknown[];
}

/** One action's run over the lineage. */
export class RddJob {
  readonly metrics: JobMetrics = { tasks: 0, shuffles: 0, shuffleBytesWritten: 0, shuffleRecordsWritten: 0, persistedPartitionsRead: 0, persistedNodesWritten: 0 };
  private readonly shuffles = new Map<number, Promise<ShuffleOutput>>();
  private readonly texts = new Map<number, Promise<{ splits: readonly TextSplit[]; sizes: Map<string, number> }>>();
  private readonly frames = new Map<number, Promise<unknown[][]>>();
  private readonly inputs = new Map<number, Promise<string>>();
  private readonly materializing = new Map<number, Promise<PersistedPartitions>>();

  constructor(
    private readonly host: RddHost,
    private readonly state: RddState,
    private readonly shuffleStore?: RddShuffleStore,
    /**
     * On executors the coordinator planned the stages over the text files' splits at its versions: a file that
     * changed since fails the task instead of being split anew (its partitions would no longer match the plan).
     */
    private readonly pinnedInputs = false,
  ) {}

  /** The node's partition count in this job (a text file that changed since the RDD was built is split anew). */
  async numPartitions(node: RddNode): Promise<number> {
    switch (node.kind) {
      case 'parallelize':
        return node.partitions.length;
      case 'text_file':
        return (await this.textSplits(node)).splits.length;
      case 'stored':
      case 'parquet_rows':
        return node.partitions.length;
      case 'dataframe':
      case 'shuffle':
      case 'shuffle_read':
        return node.partitions;
      case 'coalesce':
        return Math.min(node.partitions, await this.numPartitions(node.input));
      case 'narrow':
        return this.numPartitions(node.input);
      case 'union': {
        let n = 0;
        for (const i of node.inputs) n += await this.numPartitions(i);
        return n;
      }
    }
  }

  /** Partition `p` of `node`'s records. */
  async partition(node: RddNode, p: number): Promise<unknown[]> {
    return this.compute(node, p, []);
  }

  /** Partition `p` of `node` with `extra` steps run in the same task (pipelined). */
  async compute(node: RddNode, p: number, extra: readonly Step[], ignorePersisted = false): Promise<unknown[]> {
    const cached = ignorePersisted ? null : await this.persistedPartition(node, p);
    if (cached) return extra.length ? this.task(cached, extra, p) : cached;
    switch (node.kind) {
      case 'narrow': {
        // Pipeline consecutive narrow steps into one task, stopping at a persisted node (it has its own data).
        let base: RddNode = node;
        const chain: Step[][] = [];
        while (base.kind === 'narrow' && (base === node || !this.state.persisted.has(base.id))) {
          chain.unshift([...base.steps]);
          base = base.input;
        }
        const steps = [...chain.flat(), ...extra];
        const input = await this.compute(base, p, []);
        return this.task(input, steps, p);
      }
      case 'parallelize':
        return this.withSteps(deserialize(node.partitions[p]!), extra, p);
      case 'text_file': {
        const { splits, sizes } = await this.textSplits(node);
        const split = splits[p]!;
        return this.withSteps(await readSplitLines(split, sizes.get(split.path)!), extra, p);
      }
      case 'dataframe':
        return this.withSteps((await this.dataFrame(node))[p] ?? [], extra, p);
      case 'parquet_rows': {
        const rows: unknown[] = [];
        for (const file of node.partitions[p]!) for (const r of await readParquetRows(file)) rows.push(r);
        return this.withSteps(rows, extra, p);
      }
      case 'stored': {
        const file = node.partitions[p];
        this.metrics.persistedPartitionsRead++;
        return this.withSteps(file ? await readStoredPartition(file) : [], extra, p);
      }
      case 'union': {
        let q = p;
        for (const i of node.inputs) {
          const n = await this.numPartitions(i);
          if (q < n) return this.compute(i, q, extra);
          q -= n;
        }
        throw new ExecutionError(`union has no partition ${p}`);
      }
      case 'coalesce': {
        const parents = await this.numPartitions(node.input);
        const n = Math.min(node.partitions, parents);
        const rows: unknown[] = [];
        for (let q = Math.floor((p * parents) / n); q < Math.floor(((p + 1) * parents) / n); q++) {
          for (const r of await this.compute(node.input, q, [])) rows.push(r);
        }
        return this.withSteps(rows, extra, p);
      }
      case 'shuffle_read': {
        if (!this.shuffleStore) throw new ExecutionError(`shuffle ${node.id} (${node.name}) is read from a shuffle store, and this job has none`);
        const rows: unknown[] = [];
        for (const { side, bytes } of await this.shuffleStore.read(node.id, p)) {
          for (const r of deserialize(bytes)) rows.push(side === null ? r : [side, r]);
        }
        return this.task(rows, [...node.reduceSteps, ...extra], p);
      }
      case 'shuffle': {
        const out = await this.shuffle(node);
        const rows: unknown[] = [];
        for (const b of out.buckets[p]!) for (const r of deserialize(b)) rows.push(r);
        return this.task(rows, [...node.reduceSteps, ...extra], p);
      }
    }
  }

  private withSteps(rows: unknown[], steps: readonly Step[], p: number): unknown[] {
    return steps.length ? this.task(rows, steps, p) : rows;
  }

  private task(rows: readonly unknown[], steps: readonly Step[], p: number): unknown[] {
    this.metrics.tasks++;
    if (steps.length === 0) return [...rows];
    return runTask(rows, steps, p, this.state.sandbox);
  }

  private textSplits(node: Extract<RddNode, { kind: 'text_file' }>): Promise<{ splits: readonly TextSplit[]; sizes: Map<string, number> }> {
    let s = this.texts.get(node.id);
    if (!s) {
      s = (async () => {
        const sizes = new Map<string, number>();
        let changed = false;
        for (const f of node.files) {
          const now = await fileVersion(f.path);
          if (now === 'missing') throw new ExecutionError(`text file '${f.path}' no longer exists`);
          if (now !== f.version) {
            if (this.pinnedInputs) throw new ExecutionError(`text file '${f.path}' changed while the job ran (version ${f.version} when planned, ${now} now)`);
            changed = true;
          }
          sizes.set(f.path, Number(now.split(':')[0]));
        }
        const splits = changed ? planSplits(node.files.map((f) => ({ path: f.path, size: sizes.get(f.path)! })), node.splitBytes) : node.splits;
        return { splits, sizes };
      })();
      this.texts.set(node.id, s);
    }
    return s;
  }

  private dataFrame(node: Extract<RddNode, { kind: 'dataframe' }>): Promise<unknown[][]> {
    let f = this.frames.get(node.id);
    if (!f) {
      f = (async () => {
        const rows = await this.host.dataFrameRows(node.plan);
        const parts: unknown[][] = [];
        for (let i = 0; i < node.partitions; i++) parts.push(rows.slice(Math.floor((i * rows.length) / node.partitions), Math.floor(((i + 1) * rows.length) / node.partitions)));
        return parts;
      })();
      this.frames.set(node.id, f);
    }
    return f;
  }

  private shuffle(node: Extract<RddNode, { kind: 'shuffle' }>): Promise<ShuffleOutput> {
    let s = this.shuffles.get(node.id);
    if (!s) {
      s = this.runShuffle(node);
      this.shuffles.set(node.id, s);
    }
    return s;
  }

  private async runShuffle(node: Extract<RddNode, { kind: 'shuffle' }>): Promise<ShuffleOutput> {
    this.metrics.shuffles++;
    const buckets: Uint8Array[][] = Array.from({ length: node.partitions }, () => []);
    const write = (bucket: readonly unknown[], target: number, side: 0 | 1 | null) => {
      if (bucket.length === 0) return;
      const records = side === null ? bucket : bucket.map((r) => [side, r]);
      const bytes = serialize(records, `${node.name}() shuffle`);
      this.metrics.shuffleBytesWritten += bytes.length;
      this.metrics.shuffleRecordsWritten += bucket.length;
      buckets[target]!.push(bytes);
    };
    for (const input of node.inputs) {
      const maps = await this.numPartitions(input.input);
      if (input.partitioner.kind === 'range') {
        await this.rangeShuffle(node, input, maps, write);
        continue;
      }
      const by = input.partitioner.kind === 'round_robin' ? 'round_robin' : input.partitioner.by;
      const bucketStep: Step = { op: 'bucket', name: node.name, by, partitions: node.partitions };
      for (let m = 0; m < maps; m++) {
        const out = (await this.compute(input.input, m, [...input.mapSteps, bucketStep])) as unknown[][];
        out.forEach((b, target) => write(b, target, input.side));
      }
    }
    return { buckets };
  }

  /** sortBy: map outputs are [key, record]; keys are sampled into partitions-1 bounds, then bucketed by range. */
  private async rangeShuffle(
    node: Extract<RddNode, { kind: 'shuffle' }>,
    input: ShuffleInput,
    maps: number,
    write: (bucket: readonly unknown[], target: number, side: 0 | 1 | null) => void,
  ): Promise<void> {
    const outputs: [unknown, unknown][][] = [];
    for (let m = 0; m < maps; m++) outputs.push((await this.compute(input.input, m, input.mapSteps)) as [unknown, unknown][]);
    const ascending = input.partitioner.kind === 'range' && input.partitioner.ascending;
    // Up to 100 keys per output partition, taken at even strides from every map output (Spark samples too).
    const total = outputs.reduce((n, o) => n + o.length, 0);
    const want = Math.min(total, 100 * node.partitions);
    const sample: unknown[] = [];
    for (const o of outputs) {
      const take = total === 0 ? 0 : Math.max(o.length ? 1 : 0, Math.round((o.length * want) / total));
      for (let i = 0; i < take; i++) sample.push(o[Math.floor((i * o.length) / take)]![0]);
    }
    sample.sort(hostRuntime.compare);
    const bounds: unknown[] = [];
    for (let i = 1; i < node.partitions && sample.length; i++) bounds.push(sample[Math.min(sample.length - 1, Math.floor((i * sample.length) / node.partitions))]);
    for (const o of outputs) {
      const parts: unknown[][] = Array.from({ length: node.partitions }, () => []);
      for (const r of o) {
        // The first range whose upper bound is >= the key (binary search).
        let lo = 0;
        let hi = bounds.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (hostRuntime.compare(bounds[mid], r[0]) < 0) lo = mid + 1;
          else hi = mid;
        }
        parts[ascending ? lo : node.partitions - 1 - lo]!.push(r);
      }
      parts.forEach((b, target) => write(b, target, input.side));
    }
  }

  /** A text of the versions of every file under `node`, to key persisted data by its inputs. */
  inputVersions(node: RddNode): Promise<string> {
    let v = this.inputs.get(node.id);
    if (!v) {
      v = (async () => {
        const parts: string[] = [];
        const walk = async (n: RddNode): Promise<void> => {
          switch (n.kind) {
            case 'text_file':
              for (const f of n.files) parts.push(`${f.path}@${await fileVersion(f.path)}`);
              return;
            case 'dataframe':
              for (const f of await planInputVersions(n.plan)) parts.push(`${f.path}@${f.version}`);
              return;
            case 'parallelize':
            case 'shuffle_read':
            case 'stored':
            case 'parquet_rows':
              return;
            case 'narrow':
            case 'coalesce':
              return walk(n.input);
            case 'shuffle':
              for (const i of n.inputs) await walk(i.input);
              return;
            case 'union':
              for (const i of n.inputs) await walk(i);
              return;
          }
        };
        await walk(node);
        return parts.join('\n');
      })();
      this.inputs.set(node.id, v);
    }
    return v;
  }

  /** A persisted node's partition: from memory when materialized over the current inputs, else materialized now. */
  private async persistedPartition(node: RddNode, p: number): Promise<unknown[] | null> {
    if (!this.state.persisted.has(node.id)) return null;
    const inputs = await this.inputVersions(node);
    const entry = this.state.persisted.get(node.id);
    if (entry && entry.inputs === inputs) {
      this.metrics.persistedPartitionsRead++;
      return deserialize(entry.partitions[p]!);
    }
    let m = this.materializing.get(node.id);
    if (!m) {
      m = (async () => {
        const n = await this.numPartitions(node);
        const partitions: Uint8Array[] = [];
        let bytes = 0;
        for (let q = 0; q < n; q++) {
          const rows = await this.compute(node, q, [], true);
          const b = serialize(rows, 'persist()');
          bytes += b.length;
          partitions.push(b);
        }
        const materialized: PersistedPartitions = { partitions, inputs, bytes };
        // unpersist() while this ran wins: only a still-persisted node keeps its data.
        if (this.state.persisted.has(node.id)) this.state.persisted.set(node.id, materialized);
        this.metrics.persistedNodesWritten++;
        return materialized;
      })();
      this.materializing.set(node.id, m);
    }
    return deserialize((await m).partitions[p]!);
  }
}
