// The two halves of range partitioning over executors (see ./protocol.ts): in the `sample` pass every task of a
// range-partitioned stage draws a uniform reservoir sample of its rows' sort keys; the coordinator joins the
// samples, weighting each row by how many rows its sample stands for (a task that produced 10× more rows gets
// 10× the say, as Spark's RangePartitioner weights its candidates), and cuts R-1 boundaries at evenly spaced
// weighted quantiles; the `run` pass partitions with them (core/shuffle/range-partition.ts). Samples and
// boundaries travel as base64 Arrow IPC streams of the key columns only (columns `k0`, `k1`, … in sort-key
// order), so the payload stays small whatever the width of the rows.
import * as arrow from 'apache-arrow';
import { concatBatches, takeBatch } from '../arrow/column.ts';
import { normalizeKey, type SortKey, sortPermutation } from '../exec/sort-keys.ts';
import type { Partitioning } from '../physical/physical-plan.ts';
import { decodeStream } from '../shuffle/shuffle-reader.ts';
import { toArrowSchema } from '../types/arrow-types.ts';
import { ExecutionError } from '../types/errors.ts';
import { type Schema, field, schema as makeSchema } from '../types/schema.ts';
import { fromBase64, toBase64 } from './protocol.ts';
import { seededRandom } from '../util/seeded-random.ts';

type RangePartitioning = Extract<Partitioning, { kind: 'range' }>;

/** The schema of a sample or of boundaries: the sort-key columns of `data`, named k0, k1, … */
export function keySchema(data: Schema, keys: readonly SortKey[]): Schema {
  return makeSchema(
    keys.map((k, j) => {
      const f = data.fields[k.index];
      if (!f) throw new ExecutionError(`internal: sort key #${k.index} is past the ${data.fields.length} columns of the stage output`);
      return field(`k${j}`, f.type, true);
    }),
  );
}

/** The keys re-indexed onto a key-column batch (key j is column j). */
function keysOnKeyColumns(keys: readonly SortKey[]): SortKey[] {
  return keys.map((k, j) => ({ index: j, ascending: k.ascending, nullsFirst: k.nullsFirst }));
}

/** Batches of one schema as ONE Arrow IPC stream (a schema-only stream when there are no rows). */
export function encodeIpc(schema: Schema, batches: readonly arrow.RecordBatch[]): Uint8Array {
  const base = toArrowSchema(schema);
  const whole = concatBatches(base, batches);
  // Each column's actual type: a utf8 column may be dictionary-encoded in this batch.
  const fields = base.fields.map((f, i) => {
    const t = whole.data.children[i]!.type;
    return t === f.type ? f : new arrow.Field(f.name, t, f.nullable, f.metadata);
  });
  const batch = new arrow.RecordBatch(new arrow.Schema(fields, base.metadata), whole.data);
  const writer = new arrow.RecordBatchStreamWriter();
  writer.write(batch);
  writer.finish();
  return writer.toUint8Array(true);
}

/** An IPC stream back to one batch of `schema` (empty when the stream holds no rows). */
export function decodeIpc(schema: Schema, bytes: Uint8Array): arrow.RecordBatch {
  const batches = bytes.length === 0 ? [] : decodeStream(bytes);
  const out = concatBatches(toArrowSchema(schema), batches);
  if (out.numCols !== schema.fields.length) {
    throw new ExecutionError(`an encoded batch has ${out.numCols} columns; ${schema.fields.length} were expected`);
  }
  return out;
}


/**
 * A uniform sample of at most `size` rows of a stream's sort keys (Vitter's algorithm R): every row seen is in
 * the final sample with probability size/seen. Memory stays O(size): picked rows are copied out of each batch
 * and the picks are compacted into one batch whenever they hold more than twice `size` rows.
 */
export class ReservoirSampler {
  readonly schema: Schema;
  /** Rows offered so far (the population the sample stands for). */
  seen = 0;
  private readonly keys: readonly SortKey[];
  private readonly arrowSchema: arrow.Schema;
  private chunks: arrow.RecordBatch[] = [];
  /** Slot s holds row `slotRow[s]` of chunk `slotChunk[s]`. */
  private slotChunk: Int32Array;
  private slotRow: Int32Array;
  private filled = 0;
  private retained = 0;
  private readonly random: () => number;

  constructor(
    data: Schema,
    keys: readonly SortKey[],
    readonly size: number,
    seed = 1,
  ) {
    this.keys = keys;
    this.schema = keySchema(data, keys);
    this.arrowSchema = toArrowSchema(this.schema);
    this.slotChunk = new Int32Array(size);
    this.slotRow = new Int32Array(size);
    this.random = seededRandom(seed);
  }

  add(batch: arrow.RecordBatch): void {
    const n = batch.numRows;
    if (n === 0 || this.size === 0) {
      this.seen += n;
      return;
    }
    // Slot → row of this batch (a later row may take a slot an earlier row of the same batch took).
    const picks = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      this.seen++;
      if (this.filled < this.size) picks.set(this.filled++, i);
      else {
        const j = Math.floor(this.random() * this.seen);
        if (j < this.size) picks.set(j, i);
      }
    }
    if (picks.size === 0) return;
    const rows = [...new Set(picks.values())].sort((a, b) => a - b);
    const at = new Map(rows.map((r, k) => [r, k]));
    const keyBatch = new arrow.RecordBatch(
      new arrow.Schema(this.keys.map((k, j) => new arrow.Field(`k${j}`, batch.schema.fields[k.index]!.type, true))),
      arrow.makeData({
        type: new arrow.Struct(this.keys.map((k, j) => new arrow.Field(`k${j}`, batch.schema.fields[k.index]!.type, true))),
        length: n,
        nullCount: 0,
        children: this.keys.map((k) => batch.data.children[k.index]!),
      }),
    );
    const chunk = takeBatch(keyBatch, Int32Array.from(rows), false);
    const c = this.chunks.length;
    this.chunks.push(chunk);
    for (const [slot, row] of picks) {
      this.slotChunk[slot] = c;
      this.slotRow[slot] = at.get(row)!;
    }
    this.retained += chunk.numRows;
    if (this.retained > 2 * this.size) this.compact();
  }

  /** Rewrites the picks as one batch in slot order. */
  private compact(): void {
    const starts: number[] = [];
    let total = 0;
    for (const b of this.chunks) {
      starts.push(total);
      total += b.numRows;
    }
    const whole = concatBatches(this.arrowSchema, this.chunks);
    const idx = new Int32Array(this.filled);
    for (let s = 0; s < this.filled; s++) idx[s] = starts[this.slotChunk[s]!]! + this.slotRow[s]!;
    const one = takeBatch(whole, idx, false);
    this.chunks = [one];
    for (let s = 0; s < this.filled; s++) {
      this.slotChunk[s] = 0;
      this.slotRow[s] = s;
    }
    this.retained = one.numRows;
  }

  /** The sample as one batch of the key columns. */
  sample(): arrow.RecordBatch {
    if (this.filled === 0) return concatBatches(this.arrowSchema, []);
    this.compact();
    return this.chunks[0]!;
  }

  /** The sample as base64 Arrow IPC (what a sample-pass executor returns). */
  encode(): string {
    return toBase64(encodeIpc(this.schema, [this.sample()]));
  }
}

/** One task's answer to the sample pass. */
export interface TaskSample {
  /** Base64 IPC of the sampled key rows (ExecutorResponse output `sample`). */
  readonly sample: string;
  /** Rows the task produced: the population its sample stands for (ExecutorResponse output `rows`). */
  readonly rows: number;
}

/**
 * R-1 boundary rows for `partitioning` from every task's sample, as base64 IPC for `rangeBoundaries` of the run
 * pass. Each sampled row weighs rows/sampleRows of its task; boundary p is the first row (in sort order) at
 * which the cumulative weight reaches p/R of the total. No rows at all gives no boundaries (one partition gets
 * everything, which is then empty). `data` is the schema of the stage's output.
 */
export function boundariesFromSamples(data: Schema, partitioning: RangePartitioning, samples: readonly TaskSample[]): string {
  const ks = keySchema(data, partitioning.keys);
  const batches: arrow.RecordBatch[] = [];
  const weights: number[] = [];
  for (const s of samples) {
    const b = decodeIpc(ks, fromBase64(s.sample));
    if (b.numRows === 0) continue;
    batches.push(b);
    weights.push(s.rows / b.numRows);
  }
  const all = concatBatches(toArrowSchema(ks), batches);
  const n = all.numRows;
  const keys = keysOnKeyColumns(partitioning.keys);
  if (n === 0 || partitioning.partitions <= 1) return toBase64(encodeIpc(ks, [takeBatch(all, new Int32Array(0), false)]));
  const weightOf = new Float64Array(n);
  let at = 0;
  batches.forEach((b, i) => {
    weightOf.fill(weights[i]!, at, at + b.numRows);
    at += b.numRows;
  });
  const types = ks.fields.map((f) => f.type);
  const norm = keys.map((k, j) => normalizeKey(all.data.children[j]!, types[j]!, n, k));
  const perm = sortPermutation(norm, n);
  let total = 0;
  for (let i = 0; i < n; i++) total += weightOf[i]!;
  const R = partitioning.partitions;
  const picks: number[] = [];
  let cumulative = 0;
  let p = 1;
  for (let i = 0; i < n && p < R; i++) {
    cumulative += weightOf[perm[i]!]!;
    while (p < R && cumulative >= (p * total) / R) {
      picks.push(perm[i]!);
      p++;
    }
  }
  // Rounding can leave the last boundaries unset: they repeat the largest key.
  while (picks.length < R - 1) picks.push(perm[n - 1]!);
  return toBase64(encodeIpc(ks, [takeBatch(all, Int32Array.from(picks), false)]));
}

/** The boundaries a run-pass request carries, as the batch ShuffleWriter takes. */
export function decodeBoundaries(data: Schema, partitioning: RangePartitioning, base64: string): arrow.RecordBatch {
  const b = decodeIpc(keySchema(data, partitioning.keys), fromBase64(base64));
  if (b.numRows > partitioning.partitions - 1) {
    throw new ExecutionError(`range partitioning into ${partitioning.partitions} partitions takes at most ${partitioning.partitions - 1} boundaries, got ${b.numRows}`);
  }
  return b;
}
