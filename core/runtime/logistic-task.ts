// The executor's side of distributed logistic regression (mode `logistic`, ./protocol.ts): build one training
// partition from the Parquet parts it names, keep it decoded in a process-wide cache (a warm Lambda serves the
// next iterations from memory, as Spark's cached RDD partitions), and answer the summary pass or one
// loss-and-gradient evaluation with a few numbers. Row checks and error messages are the in-process ones
// (core/ml/classification/logistic-training.ts `partitionFromView`), with rows numbered over the whole input.
import type { ObjectStore } from '../io/object-store/object-store.ts';
import { readParquetSchema, scanParquet } from '../io/parquet-reader.ts';
import { schema as makeSchema } from '../types/schema.ts';
import { batchView } from '../ml/batches.ts';
import { featureSummary, labelSummary, type LogisticPartition, logisticLossAndGradient } from '../ml/classification/logistic-loss.ts';
import { concatRows, partitionFromView } from '../ml/classification/logistic-training.ts';
import { AnalysisError, DataError, ExecutionError, UnsupportedError } from '../types/errors.ts';
import {
  EXECUTOR_PROTOCOL_VERSION,
  type ExecutorRequest,
  type ExecutorResponse,
  type LogisticColumns,
  type LogisticRequest,
  type LogisticResult,
  type LogisticSegment,
  float64FromBase64,
  float64ToBase64,
} from './protocol.ts';
import type { StoreResolver } from './task-runner.ts';

/**
 * Decoded partitions by their rows (parts, ETags, ranges and columns), least recently used first. Bounded in
 * bytes: SQUALL_ML_CACHE_MB, or a quarter of the Lambda's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), or 512 MB.
 * Exported for its test; executors use the one process-wide instance.
 */
export class PartitionCache {
  private readonly entries = new Map<string, { partition: LogisticPartition; bytes: number }>();
  private used = 0;

  constructor(readonly limitBytes: number) {}

  get(key: string): LogisticPartition | null {
    const e = this.entries.get(key);
    if (!e) return null;
    // Most recently used goes last.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.partition;
  }

  set(key: string, partition: LogisticPartition): void {
    const bytes = partition.features.byteLength + partition.labels.byteLength + (partition.weights?.byteLength ?? 0);
    // A partition larger than the whole budget is used once and not kept.
    if (bytes > this.limitBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.used -= old.bytes;
    }
    while (this.used + bytes > this.limitBytes && this.entries.size > 0) {
      const [k, e] = this.entries.entries().next().value as [string, { bytes: number }];
      this.entries.delete(k);
      this.used -= e.bytes;
    }
    this.entries.set(key, { partition, bytes });
    this.used += bytes;
  }

  get bytes(): number {
    return this.used;
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}

function cacheLimitBytes(): number {
  const mb = Number(process.env.SQUALL_ML_CACHE_MB);
  if (Number.isFinite(mb) && mb >= 0) return mb * 1024 * 1024;
  const lambdaMb = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (Number.isFinite(lambdaMb) && lambdaMb > 0) return (lambdaMb / 4) * 1024 * 1024;
  return 512 * 1024 * 1024;
}

let cache: PartitionCache | null = null;

function partitionCache(): PartitionCache {
  cache ??= new PartitionCache(cacheLimitBytes());
  return cache;
}

/** Empties this process's partition cache (tests). */
export function clearLogisticPartitionCache(): void {
  cache?.clear();
}

function cacheKey(l: LogisticRequest): string {
  return JSON.stringify([l.columns, l.segments.map((g) => [g.uri, g.etag, g.start, g.end])]);
}

/** Every row of one part, checked, as a partition (rows numbered from `segment.rowBase`). */
async function readPart(segment: LogisticSegment, columns: LogisticColumns, storeFor: (uri: string) => ObjectStore): Promise<LogisticPartition> {
  const info = await storeFor(segment.uri).head(segment.uri);
  if (!info) throw new ExecutionError(`training part ${segment.uri} does not exist (the fit job's input was removed while training)`);
  if (info.etag !== segment.etag) throw new ExecutionError(`training part ${segment.uri} changed while training (ETag ${info.etag}, expected ${segment.etag})`);
  const cols = [columns.featuresCol, columns.labelCol, ...(columns.weightCol ? [columns.weightCol] : [])];
  const fileSchema = await readParquetSchema(segment.uri);
  const schema = makeSchema(
    cols.map((name) => {
      const f = fileSchema.fields.find((x) => x.name === name);
      if (!f) throw new AnalysisError(`training part ${segment.uri} has no column '${name}' (it has ${fileSchema.fields.map((x) => x.name).join(', ')})`);
      return f;
    }),
  );
  const pieces: LogisticPartition[] = [];
  let rowBase = segment.rowBase;
  // Decoded on this thread: a part is decoded once per process, so starting decoder threads would not pay.
  for await (const b of scanParquet([segment.uri], { columns: cols, schema, threads: 0 })) {
    pieces.push(partitionFromView(batchView(b, schema), columns, rowBase));
    rowBase += b.numRows;
  }
  const rows = rowBase - segment.rowBase;
  if (segment.end > rows) throw new ExecutionError(`training part ${segment.uri} has ${rows} rows; the task asks for rows up to ${segment.end}`);
  return concatRows(pieces, columns.numFeatures, 0, rows);
}

/** The partition a request names: from the cache, or read from its parts (`partsRead` of them). */
async function loadPartition(l: LogisticRequest, storeFor: (uri: string) => ObjectStore): Promise<{ partition: LogisticPartition; partsRead: number; cacheHit: boolean }> {
  const key = cacheKey(l);
  const c = partitionCache();
  const hit = c.get(key);
  if (hit) return { partition: hit, partsRead: 0, cacheHit: true };
  const parts = await Promise.all(l.segments.map((g) => readPart(g, l.columns, storeFor)));
  // The segments' ranges, concatenated in order.
  const slices = parts.map((p, i) => concatRows([p], l.columns.numFeatures, l.segments[i]!.start, l.segments[i]!.end));
  const total = slices.reduce((n, p) => n + p.numRows, 0);
  const partition = concatRows(slices, l.columns.numFeatures, 0, total);
  c.set(key, partition);
  return { partition, partsRead: parts.length, cacheHit: false };
}

function compute(l: LogisticRequest, partition: LogisticPartition): LogisticResult {
  const op = l.op;
  switch (op.kind) {
    case 'summary': {
      const labels = labelSummary(partition);
      let features: string | null = null;
      if (op.features) {
        const f = featureSummary(partition);
        const d = partition.numFeatures;
        const packed = new Float64Array(2 + 2 * d);
        packed[0] = f.weightSum;
        packed[1] = f.weightSquareSum;
        packed.set(f.sum, 2);
        packed.set(f.sumSquares, 2 + d);
        features = float64ToBase64(packed);
      }
      return { kind: 'summary', maxLabel: labels.maxLabel, classWeights: Array.from(labels.classWeights, (w) => w ?? 0), features };
    }
    case 'gradient': {
      const coefficients = float64FromBase64(op.coefficients, 'logistic.op.coefficients');
      const featureScale = op.featureScale === null ? null : float64FromBase64(op.featureScale, 'logistic.op.featureScale');
      if (featureScale && featureScale.length !== partition.numFeatures) {
        throw new AnalysisError(`logistic.op.featureScale has ${featureScale.length} values for ${partition.numFeatures} features`);
      }
      const g = logisticLossAndGradient(partition, coefficients, { numClasses: op.numClasses, multinomial: op.multinomial, fitIntercept: op.fitIntercept, featureScale });
      const values = new Float64Array(2 + g.gradient.length);
      values[0] = g.loss;
      values[1] = g.count;
      values.set(g.gradient, 2);
      return { kind: 'gradient', values: float64ToBase64(values) };
    }
  }
}

/** Runs one logistic request; failures name the job, partition and attempt and keep user-error classes. */
export async function runLogisticTask(request: ExecutorRequest, stores: StoreResolver): Promise<ExecutorResponse> {
  const l = request.logistic;
  if (request.mode !== 'logistic' || !l) throw new ExecutionError('internal: runLogisticTask needs a logistic request');
  const t0 = performance.now();
  const storeFor = typeof stores === 'function' ? stores : (uri: string) => stores.for(uri);
  const where = `job ${l.job} logistic ${l.op.kind} partition ${l.partition} attempt ${l.attempt}`;
  try {
    const { partition, partsRead, cacheHit } = await loadPartition(l, storeFor);
    const result = compute(l, partition);
    return {
      version: EXECUTOR_PROTOCOL_VERSION,
      job: l.job,
      stage: 0,
      task: l.partition,
      attempt: l.attempt,
      output: { kind: 'logistic', result },
      keys: [],
      metrics: {
        rows: partition.numRows,
        bytesRead: 0,
        bytesWritten: 0,
        durationMs: performance.now() - t0,
        peakMemoryBytes: process.memoryUsage.rss(),
        // What the tests (and operators) read to see that the data stays on the executors: rows processed here,
        // parts read from S3 (0 on a cache hit), the cache's size, and which process (warm environment) it was.
        reported: { rowsProcessed: partition.numRows, partsRead, cacheHits: cacheHit ? 1 : 0, cachedBytes: partitionCache().bytes, pid: process.pid },
      },
    };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const message = `${where}: ${err.message}`;
    // User errors keep their class (the coordinator does not retry them).
    if (err instanceof DataError) throw new DataError(message, { cause: e });
    if (err instanceof AnalysisError) throw new AnalysisError(message, { cause: e });
    if (err instanceof UnsupportedError) throw new UnsupportedError(message, { cause: e });
    throw new ExecutionError(message, { cause: e });
  }
}
