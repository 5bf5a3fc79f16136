// The RDD: a lazily transformed, partitioned collection of plain JavaScript values. Transformations add nodes
// to a lineage of plain data (lineage.ts) with user functions as checked source text (closure.ts); actions
// run the lineage (runner.ts). Pair RDDs hold [key, value] arrays; keys compare by structure (keyOf).
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { AnalysisError, ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import type { TypeLike } from '../types/parse-type.ts';
import { batchesToRows } from '../sdk/rows.ts';
import type { DataFrame } from '../sdk/dataframe.ts';
import { builtinFunction, serializeValue, shipFunction } from './closure.ts';
import { type RddNode, type ShuffleInput, type Step, lineageText, newNodeId, plannedPartitions } from './lineage.ts';
import { DEFAULT_SPLIT_BYTES, type JobMetrics, type RddHost, RddJob, type RddState, planSplits } from './runner.ts';
import { hostRuntime } from './sandbox.ts';
import { commitTextParts, saveTextPartitions } from './save-text.ts';
import { fileVersion } from '../cache/versions.ts';
import { expandPaths } from '../io/paths.ts';
import { isRemotePath, storeFor } from '../io/file-store.ts';
import type { RemoteRunner } from '../sdk/remote.ts';
import { runRemoteRdd } from './remote-job.ts';

/** What an RDD needs of its session (Session satisfies it). */
export interface RddSession {
  /** Set for `Session.connect()` sessions: actions run as jobs on the executors. */
  readonly remote?: RemoteRunner | null;
  execute(plan: LogicalPlan): Promise<{ batches: import('apache-arrow').RecordBatch[] }>;
  createDataFrame(data: readonly Record<string, unknown>[], schema?: Schema | Record<string, TypeLike>): DataFrame;
}

/** The context argument: any structured-clone serializable object. */
export type RddContext = Record<string, unknown>;

/** Partitions when none is given (parallelize, df.rdd). */
export const DEFAULT_PARALLELISM = 4;

const states = new WeakMap<RddSession, RddState>();

/** The session's RDD state (persisted nodes, task settings). */
export function rddState(session: RddSession): RddState {
  let s = states.get(session);
  if (!s) {
    s = { persisted: new Map(), sandbox: {} };
    states.set(session, s);
  }
  return s;
}

function host(session: RddSession): RddHost {
  return {
    async dataFrameRows(plan) {
      const { batches } = await session.execute(plan);
      return batchesToRows(planSchema(plan), batches) as Record<string, unknown>[];
    },
  };
}

function checkPartitions(n: number, op: string): number {
  if (!Number.isInteger(n) || n < 1) throw new AnalysisError(`${op}() needs a positive integer number of partitions, got ${n}`);
  return n;
}

/** `numPartitions` or the context, as the second/third argument of the by-key operations. */
function partsAndContext(a: number | RddContext | undefined, b: RddContext | undefined, fallback: number, op: string): [number, RddContext | undefined] {
  if (typeof a === 'object' && a !== null) return [fallback, a];
  return [a === undefined ? fallback : checkPartitions(a, op), b];
}

export class RDD<T> {
  /** The metrics of the last action run on this RDD (tasks, shuffle bytes, persisted partitions read). */
  lastMetrics: JobMetrics | null = null;

  constructor(
    readonly session: RddSession,
    /** The lineage, as plain data. */
    readonly node: RddNode,
  ) {}

  get id(): number {
    return this.node.id;
  }

  /** Partitions as planned when built (a text file that has changed since is split anew when an action runs). */
  getNumPartitions(): number {
    return plannedPartitions(this.node);
  }

  private narrow<U>(step: Step): RDD<U> {
    return new RDD<U>(this.session, Object.freeze({ kind: 'narrow', id: newNodeId(), input: this.node, steps: Object.freeze([step]) }));
  }

  private fnStep<U>(op: 'map' | 'filter' | 'flatMap' | 'mapPartitions' | 'keyBy' | 'mapValues' | 'flatMapValues', fn: unknown, context?: RddContext): RDD<U> {
    return this.narrow<U>(Object.freeze({ op, fn: shipFunction(fn, op, context) }));
  }

  private shuffled<U>(name: string, inputs: readonly ShuffleInput[], partitions: number, reduceSteps: readonly Step[]): RDD<U> {
    return new RDD<U>(this.session, Object.freeze({ kind: 'shuffle', id: newNodeId(), name, inputs: Object.freeze(inputs), partitions, reduceSteps: Object.freeze([...reduceSteps]) }));
  }

  // ---- narrow transformations ----

  /** `fn(record, ctx)` for every record; `context` is passed as `ctx` (values must be structured-clone serializable). */
  map<U>(fn: (x: T, ctx: any) => U, context?: RddContext): RDD<U> {
    return this.fnStep<U>('map', fn, context);
  }

  filter(fn: (x: T, ctx: any) => unknown, context?: RddContext): RDD<T> {
    return this.fnStep<T>('filter', fn, context);
  }

  flatMap<U>(fn: (x: T, ctx: any) => Iterable<U>, context?: RddContext): RDD<U> {
    return this.fnStep<U>('flatMap', fn, context);
  }

  /** `fn(records, ctx)` once per partition with the partition's records as an array; returns an iterable. */
  mapPartitions<U>(fn: (records: T[], ctx: any) => Iterable<U>, context?: RddContext): RDD<U> {
    return this.fnStep<U>('mapPartitions', fn, context);
  }

  /** [fn(record), record] pairs. */
  keyBy<K>(fn: (x: T, ctx: any) => K, context?: RddContext): RDD<[K, T]> {
    return this.fnStep<[K, T]>('keyBy', fn, context);
  }

  mapValues<K, V, W>(this: RDD<[K, V]>, fn: (v: V, ctx: any) => W, context?: RddContext): RDD<[K, W]> {
    return this.fnStep<[K, W]>('mapValues', fn, context);
  }

  flatMapValues<K, V, W>(this: RDD<[K, V]>, fn: (v: V, ctx: any) => Iterable<W>, context?: RddContext): RDD<[K, W]> {
    return this.fnStep<[K, W]>('flatMapValues', fn, context);
  }

  /** Each partition as one array record. */
  glom(): RDD<T[]> {
    return this.narrow<T[]>(Object.freeze({ op: 'mapPartitions', fn: builtinFunction('(records) => [records]', 'glom') }));
  }

  keys<K, V>(this: RDD<[K, V]>): RDD<K> {
    return this.narrow<K>(Object.freeze({ op: 'keys' }));
  }

  values<K, V>(this: RDD<[K, V]>): RDD<V> {
    return this.narrow<V>(Object.freeze({ op: 'values' }));
  }

  /** A seeded sample: each record kept with probability `fraction` (or drawn Poisson(fraction) times with replacement); the same seed picks the same records. */
  sample(withReplacement: boolean, fraction: number, seed = 0): RDD<T> {
    if (!(fraction >= 0) || (!withReplacement && fraction > 1)) throw new AnalysisError(`sample() fraction must be in [0, 1] without replacement (>= 0 with), got ${fraction}`);
    if (!Number.isInteger(seed)) throw new AnalysisError(`sample() seed must be an integer, got ${seed}`);
    return this.narrow<T>(Object.freeze({ op: 'sample', withReplacement, fraction, seed }));
  }

  union(other: RDD<T>): RDD<T> {
    if (other.session !== this.session) throw new AnalysisError('cannot union RDDs of different sessions');
    return new RDD<T>(this.session, Object.freeze({ kind: 'union', id: newNodeId(), inputs: Object.freeze([this.node, other.node]) }));
  }

  /** Fewer partitions without a shuffle: neighbouring partitions are joined (never more than the parent has). */
  coalesce(numPartitions: number, shuffle = false): RDD<T> {
    checkPartitions(numPartitions, 'coalesce');
    if (shuffle) return this.repartition(numPartitions);
    return new RDD<T>(this.session, Object.freeze({ kind: 'coalesce', id: newNodeId(), input: this.node, partitions: numPartitions }));
  }

  /** Exactly `numPartitions` partitions, records dealt round robin through a shuffle. */
  repartition(numPartitions: number): RDD<T> {
    checkPartitions(numPartitions, 'repartition');
    return this.shuffled<T>('repartition', [{ input: this.node, mapSteps: [], partitioner: { kind: 'round_robin' }, side: null }], numPartitions, []);
  }

  /** Distinct records (by structure), deduplicated on the map side and again after the shuffle. */
  distinct(numPartitions = this.getNumPartitions()): RDD<T> {
    checkPartitions(numPartitions, 'distinct');
    const dedupe: Step = { op: 'dedupe' };
    return this.shuffled<T>('distinct', [{ input: this.node, mapSteps: [dedupe], partitioner: { kind: 'hash', by: 'record' }, side: null }], numPartitions, [dedupe]);
  }

  // ---- pair-RDD shuffles ----

  /** Merges each key's values with `fn(a, b, ctx)`, combining on the map side before the shuffle. */
  reduceByKey<K, V>(this: RDD<[K, V]>, fn: (a: V, b: V, ctx: any) => V, numPartitionsOrContext?: number | RddContext, context?: RddContext): RDD<[K, V]> {
    const [n, ctx] = partsAndContext(numPartitionsOrContext, context, this.getNumPartitions(), 'reduceByKey');
    const combine: Step = { op: 'combine', name: 'reduceByKey', fn: shipFunction(fn, 'reduceByKey', ctx), zero: null };
    return this.shuffled<[K, V]>('reduceByKey', [{ input: this.node, mapSteps: [combine], partitioner: { kind: 'hash', by: 'key' }, side: null }], n, [combine]);
  }

  /** Each key with the array of its values (no map-side combining: every value is shuffled). */
  groupByKey<K, V>(this: RDD<[K, V]>, numPartitions = this.getNumPartitions()): RDD<[K, V[]]> {
    checkPartitions(numPartitions, 'groupByKey');
    return this.shuffled<[K, V[]]>('groupByKey', [{ input: this.node, mapSteps: [], partitioner: { kind: 'hash', by: 'key' }, side: null }], numPartitions, [{ op: 'group' }]);
  }

  /** Per key: `seqOp(acc, value, ctx)` from a copy of `zero` on the map side, `combOp(acc1, acc2, ctx)` after the shuffle. */
  aggregateByKey<K, V, U>(
    this: RDD<[K, V]>,
    zero: U,
    seqOp: (acc: U, v: V, ctx: any) => U,
    combOp: (a: U, b: U, ctx: any) => U,
    numPartitionsOrContext?: number | RddContext,
    context?: RddContext,
  ): RDD<[K, U]> {
    const [n, ctx] = partsAndContext(numPartitionsOrContext, context, this.getNumPartitions(), 'aggregateByKey');
    const z = serializeValue(zero, 'the zero value of aggregateByKey()', 'zero');
    const seq: Step = { op: 'combine', name: 'aggregateByKey', fn: shipFunction(seqOp, 'aggregateByKey', ctx), zero: z };
    const comb: Step = { op: 'combine', name: 'aggregateByKey', fn: shipFunction(combOp, 'aggregateByKey', ctx), zero: null };
    return this.shuffled<[K, U]>('aggregateByKey', [{ input: this.node, mapSteps: [seq], partitioner: { kind: 'hash', by: 'key' }, side: null }], n, [comb]);
  }

  /** Records sorted by `fn(record, ctx)` across range-partitioned output partitions. */
  sortBy<K>(fn: (x: T, ctx: any) => K, ascending = true, numPartitionsOrContext?: number | RddContext, context?: RddContext): RDD<T> {
    const [n, ctx] = partsAndContext(numPartitionsOrContext, context, this.getNumPartitions(), 'sortBy');
    const keyBy: Step = { op: 'keyBy', fn: shipFunction(fn, 'sortBy', ctx) };
    return this.shuffled<T>('sortBy', [{ input: this.node, mapSteps: [keyBy], partitioner: { kind: 'range', ascending }, side: null }], n, [
      { op: 'sortByKey', ascending },
      { op: 'values' },
    ]);
  }

  sortByKey<K, V>(this: RDD<[K, V]>, ascending = true, numPartitions = this.getNumPartitions()): RDD<[K, V]> {
    checkPartitions(numPartitions, 'sortByKey');
    const keyBy: Step = { op: 'keyBy', fn: builtinFunction('(r) => r[0]', 'sortByKey') };
    return this.shuffled<[K, V]>('sortByKey', [{ input: this.node, mapSteps: [keyBy], partitioner: { kind: 'range', ascending }, side: null }], numPartitions, [
      { op: 'sortByKey', ascending },
      { op: 'values' },
    ]);
  }

  private joined<K, V, W, R>(this: RDD<[K, V]>, other: RDD<[K, W]>, how: 'inner' | 'left' | 'right' | 'full' | 'cogroup', name: string, numPartitions?: number): RDD<R> {
    if (other.session !== this.session) throw new AnalysisError(`cannot ${name} RDDs of different sessions`);
    const n = numPartitions === undefined ? Math.max(this.getNumPartitions(), other.getNumPartitions()) : checkPartitions(numPartitions, name);
    return this.shuffled<R>(
      name,
      [
        { input: this.node, mapSteps: [], partitioner: { kind: 'hash', by: 'key' }, side: 0 },
        { input: other.node, mapSteps: [], partitioner: { kind: 'hash', by: 'key' }, side: 1 },
      ],
      n,
      [how === 'cogroup' ? { op: 'cogroup' } : { op: 'join', how }],
    );
  }

  /** Each key of either side once, with the arrays of its values on the left and on the right. */
  cogroup<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, [V[], W[]]]> {
    return this.joined(other, 'cogroup', 'cogroup', numPartitions);
  }

  /** The pairs whose key does not occur in `other`. */
  subtractByKey<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, V]> {
    return this.cogroup(other, numPartitions).narrow<[K, V]>(
      Object.freeze({ op: 'flatMap', fn: builtinFunction('([k, [vs, ws]]) => (ws.length ? [] : vs.map((v) => [k, v]))', 'subtractByKey') }),
    );
  }

  /** Distinct records present in both (by structure). */
  intersection(other: RDD<T>, numPartitions?: number): RDD<T> {
    const keyed = (r: RDD<T>) => r.narrow<[T, null]>(Object.freeze({ op: 'map', fn: builtinFunction('(x) => [x, null]', 'intersection') }));
    return keyed(this)
      .cogroup(keyed(other), numPartitions)
      .narrow<T>(Object.freeze({ op: 'flatMap', fn: builtinFunction('([k, [a, b]]) => (a.length && b.length ? [k] : [])', 'intersection') }));
  }

  /** [key, [v, w]] for every pair of values with equal keys (keys equal by structure). */
  join<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, [V, W]]> {
    return this.joined(other, 'inner', 'join', numPartitions);
  }

  /** As join, keeping left keys without a match as [key, [v, null]]. */
  leftOuterJoin<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, [V, W | null]]> {
    return this.joined(other, 'left', 'leftOuterJoin', numPartitions);
  }

  rightOuterJoin<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, [V | null, W]]> {
    return this.joined(other, 'right', 'rightOuterJoin', numPartitions);
  }

  fullOuterJoin<K, V, W>(this: RDD<[K, V]>, other: RDD<[K, W]>, numPartitions?: number): RDD<[K, [V | null, W | null]]> {
    return this.joined(other, 'full', 'fullOuterJoin', numPartitions);
  }

  // ---- persistence ----

  /** Keeps this RDD's partitions in memory once an action has computed them; later actions read them (until its inputs change). */
  persist(): this {
    const s = rddState(this.session);
    if (!s.persisted.has(this.node.id)) s.persisted.set(this.node.id, null);
    return this;
  }

  cache(): this {
    return this.persist();
  }

  unpersist(): this {
    rddState(this.session).persisted.delete(this.node.id);
    return this;
  }

  get isPersisted(): boolean {
    return rddState(this.session).persisted.has(this.node.id);
  }

  /** The lineage as indented text. */
  toDebugString(): string {
    const s = rddState(this.session);
    return lineageText(this.node, (id) => s.persisted.has(id));
  }

  // ---- actions ----

  private job(): RddJob {
    return new RddJob(host(this.session), rddState(this.session));
  }

  private async run<R>(f: (job: RddJob) => Promise<R>): Promise<R> {
    const job = this.job();
    try {
      return await f(job);
    } finally {
      this.lastMetrics = job.metrics;
    }
  }

  /** Every partition with `extra` steps run in its task: in this process, or as one job on the executors. */
  private async partitions(job: RddJob, extra: readonly Step[] = [], textDir?: string): Promise<unknown[][]> {
    const remote = this.session.remote;
    if (remote) {
      const persisted = rddState(this.session).persisted;
      return runRemoteRdd(remote, this.node, extra, job.metrics, (id) => persisted.has(id), textDir);
    }
    const n = await job.numPartitions(this.node);
    const out: unknown[][] = [];
    for (let p = 0; p < n; p++) out.push(await job.compute(this.node, p, extra));
    return out;
  }

  /** Every record, partition by partition. */
  async collect(): Promise<T[]> {
    return this.run(async (job) => (await this.partitions(job)).flat() as T[]);
  }

  async count(): Promise<number> {
    return this.run(async (job) => (await this.partitions(job)).reduce((n, p) => n + p.length, 0));
  }

  /** The first `n` records, computing partitions only until there are enough. */
  async take(n: number): Promise<T[]> {
    return this.run(async (job) => {
      if (this.session.remote) {
        // One job; each partition sends at most n records.
        const first: Step = { op: 'mapPartitions', fn: builtinFunction('(rs, c) => rs.slice(0, c.n)', 'take', { n }) };
        return ((await this.partitions(job, [first])).flat() as T[]).slice(0, n);
      }
      const out: T[] = [];
      const parts = await job.numPartitions(this.node);
      for (let p = 0; p < parts && out.length < n; p++) for (const r of await job.compute(this.node, p, [])) if (out.length < n) out.push(r as T);
      return out;
    });
  }

  async first(): Promise<T> {
    const [r] = await this.take(1);
    if (r === undefined && (await this.isEmpty())) throw new ExecutionError('first() of an empty RDD');
    return r as T;
  }

  async isEmpty(): Promise<boolean> {
    return this.run(async (job) => {
      if (this.session.remote) return (await this.partitions(job, [{ op: 'mapPartitions', fn: builtinFunction('(rs) => rs.slice(0, 1)', 'isEmpty') }])).every((p) => p.length === 0);
      const parts = await job.numPartitions(this.node);
      for (let p = 0; p < parts; p++) if ((await job.compute(this.node, p, [])).length) return false;
      return true;
    });
  }

  /** Folds all records with `fn(a, b, ctx)` (per partition, then the partial results); fails on an empty RDD. */
  async reduce(fn: (a: T, b: T, ctx: any) => T, context?: RddContext): Promise<T> {
    return this.reduceWith({ op: 'partitionReduce', fn: shipFunction(fn, 'reduce', context), zero: null });
  }

  private reduceWith(step: Step): Promise<T> {
    return this.run(async (job) => {
      const partials = (await this.partitions(job, [step])).flat();
      if (partials.length === 0) throw new ExecutionError(`${'fn' in step ? step.fn.op : 'reduce'}() of an empty RDD${'fn' in step && step.fn.op === 'reduce' ? '; use fold() with a zero value' : ''}`);
      return (await job.compute({ kind: 'parallelize', id: newNodeId(), partitions: [serializeValue(partials, 'reduce() partial results', 'partials')] }, 0, [step]))[0] as T;
    });
  }

  /** As reduce, starting every partition (and the final merge) from a copy of `zero`. */
  async fold(zero: T, fn: (a: T, b: T, ctx: any) => T, context?: RddContext): Promise<T> {
    const step: Step = { op: 'partitionReduce', fn: shipFunction(fn, 'fold', context), zero: serializeValue(zero, 'the zero value of fold()', 'zero') };
    return this.run(async (job) => {
      const partials = (await this.partitions(job, [step])).flat();
      return (await job.compute({ kind: 'parallelize', id: newNodeId(), partitions: [serializeValue(partials, 'fold() partial results', 'partials')] }, 0, [step]))[0] as T;
    });
  }

  /** How many records each key has (counted per partition, merged on the driver). */
  async countByKey<K, V>(this: RDD<[K, V]>): Promise<Map<K, number>> {
    const steps: Step[] = [
      { op: 'mapValues', fn: builtinFunction('() => 1', 'countByKey') },
      { op: 'combine', name: 'countByKey', fn: builtinFunction('(a, b) => a + b', 'countByKey'), zero: null },
    ];
    return this.run(async (job) => {
      const byKey = new Map<string, [K, number]>();
      for (const part of await this.partitions(job, steps)) {
        for (const [k, c] of part as [K, number][]) {
          const key = hostRuntime.keyOf(k);
          const e = byKey.get(key);
          if (e) e[1] += c;
          else byKey.set(key, [k, c]);
        }
      }
      return new Map([...byKey.values()]);
    });
  }

  /** The pairs as a Map (a later value of a repeated key wins, as in Spark). */
  async collectAsMap<K, V>(this: RDD<[K, V]>): Promise<Map<K, V>> {
    return new Map(await this.collect());
  }

  /** How many times each distinct record occurs. */
  async countByValue(): Promise<Map<T, number>> {
    const pairs = this.narrow<[T, number]>(Object.freeze({ op: 'map', fn: builtinFunction('(x) => [x, 1]', 'countByValue') }));
    const out = await pairs.countByKey();
    this.lastMetrics = pairs.lastMetrics;
    return out;
  }

  /** The sum of numeric records (0 when empty). */
  async sum(this: RDD<number>): Promise<number> {
    return this.fold(0, (a, b) => a + b);
  }

  /** The mean of numeric records (NaN when empty). */
  async mean(this: RDD<number>): Promise<number> {
    const step: Step = { op: 'mapPartitions', fn: builtinFunction('(rs) => { let s = 0; for (const r of rs) s += r; return [[s, rs.length]]; }', 'mean') };
    return this.run(async (job) => {
      let s = 0;
      let n = 0;
      for (const [ps, pn] of (await this.partitions(job, [step])).flat() as [number, number][]) {
        s += ps;
        n += pn;
      }
      return s / n;
    });
  }

  /** The largest record in Squall's order of plain values (numbers, strings, arrays lexicographically...). */
  async max(): Promise<T> {
    return this.reduceWith({ op: 'partitionReduce', fn: builtinFunction('(a, b) => (__squall.compare(a, b) >= 0 ? a : b)', 'max'), zero: null });
  }

  async min(): Promise<T> {
    return this.reduceWith({ op: 'partitionReduce', fn: builtinFunction('(a, b) => (__squall.compare(a, b) <= 0 ? a : b)', 'min'), zero: null });
  }

  /** The `n` smallest records, in order (each partition keeps its own `n` first). */
  async takeOrdered(n: number, ascending = true): Promise<T[]> {
    const name = ascending ? 'takeOrdered' : 'top';
    const dir = ascending ? 1 : -1;
    const step: Step = { op: 'mapPartitions', fn: builtinFunction('(rs, c) => rs.slice().sort((a, b) => c.dir * __squall.compare(a, b)).slice(0, c.n)', name, { n, dir }) };
    return this.run(async (job) => ((await this.partitions(job, [step])).flat() as T[]).sort((a, b) => dir * hostRuntime.compare(a, b)).slice(0, n));
  }

  /** The `n` largest records, largest first. */
  async top(n: number): Promise<T[]> {
    return this.takeOrdered(n, false);
  }

  /** Runs `fn(records, ctx)` once per partition (on the executors: for side effects there). */
  async foreachPartition(fn: (records: T[], ctx: any) => void, context?: RddContext): Promise<void> {
    const step: Step = { op: 'foreachPartition', fn: shipFunction(fn, 'foreachPartition', context) };
    await this.run((job) => this.partitions(job, [step]));
  }

  /**
   * Writes one text file per partition (`part-00000`…; strings as they are, other values as JSON), committed
   * atomically as the DataFrame writers do: nothing is visible at `path` until every part is written.
   */
  async saveAsTextFile(path: string): Promise<{ files: string[] }> {
    return this.run(async (job) => {
      if (this.session.remote) {
        // On S3 the executors write the parts and this process commits them; a local path is written from here.
        if (isRemotePath(path)) return commitTextParts(path, async (tmp) => (await this.partitions(job, [], tmp)).length);
        const parts = await this.partitions(job);
        return saveTextPartitions(path, parts.length, async (p) => parts[p]!);
      }
      const n = await job.numPartitions(this.node);
      return saveTextPartitions(path, n, async (p) => job.compute(this.node, p, []));
    });
  }

  /**
   * A DataFrame of the records: objects become rows as they are; arrays take the names given (or `_1`, `_2`…);
   * other values become a column `value`. With a Schema or `{ column: type }` record the types are given,
   * otherwise inferred.
   */
  async toDF(schemaOrNames?: Schema | Record<string, TypeLike> | readonly string[]): Promise<DataFrame> {
    const records = await this.collect();
    const names = Array.isArray(schemaOrNames) ? (schemaOrNames as readonly string[]) : null;
    const rows = records.map((r) => {
      if (Array.isArray(r)) {
        const o: Record<string, unknown> = {};
        r.forEach((v, i) => (o[names?.[i] ?? `_${i + 1}`] = v));
        return o;
      }
      if (r !== null && typeof r === 'object' && !(r instanceof Date)) return r as Record<string, unknown>;
      return { [names?.[0] ?? 'value']: r };
    });
    return this.session.createDataFrame(rows, names ? undefined : (schemaOrNames as Schema | Record<string, TypeLike> | undefined));
  }
}

/** session.parallelize(): `data` spread over `numPartitions` (Spark's slicing), snapshotted with structured clone now. */
export function parallelize<T>(session: RddSession, data: readonly T[], numPartitions = DEFAULT_PARALLELISM): RDD<T> {
  if (!Array.isArray(data)) throw new AnalysisError('parallelize() expects an array');
  checkPartitions(numPartitions, 'parallelize');
  const partitions: Uint8Array[] = [];
  for (let i = 0; i < numPartitions; i++) {
    const slice = data.slice(Math.floor((i * data.length) / numPartitions), Math.floor(((i + 1) * data.length) / numPartitions));
    partitions.push(serializeValue(slice, 'the data given to parallelize()', 'data'));
  }
  return new RDD<T>(session, Object.freeze({ kind: 'parallelize', id: newNodeId(), partitions: Object.freeze(partitions) }));
}

export interface TextFileOptions {
  /** Bytes per split of a large file (32 MB by default); lines are never cut. */
  readonly splitBytes?: number;
}

/** session.textFile(): the lines of the files `path` names (file, directory, glob; local or s3://), one partition per split. */
export async function textFile(session: RddSession, path: string | readonly string[], options: TextFileOptions = {}): Promise<RDD<string>> {
  const splitBytes = options.splitBytes ?? DEFAULT_SPLIT_BYTES;
  if (!Number.isInteger(splitBytes) || splitBytes < 1) throw new AnalysisError(`textFile() splitBytes must be a positive integer, got ${splitBytes}`);
  const paths = await expandPaths(path);
  const files = await Promise.all(
    paths.map(async (p) => {
      const version = await fileVersion(p);
      const size = version === 'missing' ? (await storeFor(p).stat(p))?.size ?? 0 : Number(version.split(':')[0]);
      return { path: p, version, size };
    }),
  );
  const splits = planSplits(files, splitBytes);
  return new RDD<string>(
    session,
    Object.freeze({ kind: 'text_file', id: newNodeId(), files: Object.freeze(files.map((f) => ({ path: f.path, version: f.version }))), splits: Object.freeze(splits), splitBytes }),
  );
}

/** df.rdd: the DataFrame's rows as plain objects (computed when an action runs). */
export function dataFrameRdd(session: RddSession, plan: LogicalPlan, numPartitions = DEFAULT_PARALLELISM): RDD<Record<string, unknown>> {
  return new RDD(session, Object.freeze({ kind: 'dataframe', id: newNodeId(), plan, partitions: numPartitions }));
}
