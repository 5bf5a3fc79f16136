// The reduce side of a shuffle through S3: for one reduce partition (or all of them, for a broadcast or single
// input) it fetches that partition's byte range from every committed map output with ranged GETs through
// `readRanges`, a bounded number of map objects at a time, decodes the Arrow IPC and yields record batches
// that follow the batch contract of core/arrow/column.ts (one offset-0 Data per column; utf8 possibly a
// dictionary). Empty partitions cost no request. Batches come in map-task order.
//
// Request count: a stage with M map tasks and R reduce tasks makes M PUTs (one per map task) and up to M × R
// ranged GETs (each reducer asks every map object once; empty ranges are skipped, a reducer that reads several
// partitions of one object gets them coalesced into one GET). The product grows fast: 400 × 400 is 160,000
// GETs, ~$0.064 per shuffle on S3 and, at tens of ms each, seconds of latency per reducer. The combining step
// in ./combiner.ts cuts that: C ≈ √M combiner tasks each read a contiguous group of map objects whole (M GETs
// in all) and write one object per group in the same layout, partitions concatenated; reducers then read C
// objects instead of M, for M + C PUTs and M + C × R GETs. This reader reads either kind of output.
import * as arrow from 'apache-arrow';
import { columnData, takeData } from '../arrow/column.ts';
import { type ObjectStore, type RangeReadOptions, readRanges } from '../io/object-store.ts';
import { ExecutionError } from '../types/errors.ts';
import type { MapOutput } from './map-output.ts';
import './ipc-codec.ts';

export interface ShuffleReadOptions extends RangeReadOptions {
  /** Map objects fetched at once (each may itself issue up to `concurrency` ranged GETs). */
  readonly mapConcurrency?: number;
}

const DEFAULT_MAP_CONCURRENCY = 16;

export class ShuffleReader {
  constructor(
    private readonly store: Pick<ObjectStore, 'getRange'>,
    /** The committed outputs of the producer stage (StageManifest.outputs). */
    private readonly outputs: readonly MapOutput[],
    private readonly options: ShuffleReadOptions = {},
  ) {}

  /** The batches of reduce partition `partition`, or of every partition when null. */
  async *read(partition: number | null): AsyncGenerator<arrow.RecordBatch> {
    const work = this.outputs
      .map((o) => ({ output: o, spans: spansOf(o, partition) }))
      .filter((w) => w.spans.some((s) => s.length > 0));
    const limit = Math.max(1, this.options.mapConcurrency ?? DEFAULT_MAP_CONCURRENCY);
    const fetch = (w: (typeof work)[number]) =>
      readRanges(this.store, w.output.uri, w.spans.map((s) => ({ start: s.offset, end: s.offset + s.length })), {
        // Partitions of one object next to each other are one request.
        gapBytes: 0,
        ...this.options,
      }).then((bufs) => {
        bufs.forEach((b, i) => {
          if (b.length !== w.spans[i]!.length) throw new ExecutionError(`${w.output.uri}: shuffle object is shorter than its index says`);
        });
        return bufs;
      });
    // Keep up to `limit` map objects in flight and yield in map-task order.
    const inFlight: Promise<Uint8Array[]>[] = [];
    let next = 0;
    const fill = () => {
      while (next < work.length && inFlight.length < limit) {
        const p = fetch(work[next++]!);
        p.catch(() => {}); // observed when awaited; avoid an unhandled rejection while queued
        inFlight.push(p);
      }
    };
    fill();
    let index = 0;
    while (inFlight.length > 0) {
      const bufs = await inFlight.shift()!;
      fill();
      const w = work[index++]!;
      for (let i = 0; i < bufs.length; i++) {
        if (bufs[i]!.length === 0) continue;
        let rows = 0;
        for (const batch of decodeStream(bufs[i]!)) {
          rows += batch.numRows;
          yield batch;
        }
        if (rows !== w.spans[i]!.rows) throw new ExecutionError(`${w.output.uri}: partition holds ${rows} rows, its index says ${w.spans[i]!.rows}`);
      }
    }
  }

  /** Rows partition `partition` (null: all) will yield, from the index alone. */
  rows(partition: number | null): number {
    return this.outputs.reduce((s, o) => s + spansOf(o, partition).reduce((t, p) => t + p.rows, 0), 0);
  }
}

function spansOf(o: MapOutput, partition: number | null) {
  if (partition === null) return o.partitions;
  const s = o.partitions[partition];
  if (!s) throw new ExecutionError(`${o.uri} has ${o.partitions.length} partitions; partition ${partition} was asked for`);
  return [s];
}

/**
 * Record batches of one IPC stream, or of several streams back to back (a combined output's partition is the
 * concatenation of its inputs' streams), normalised to the batch contract.
 */
export function decodeStream(bytes: Uint8Array): arrow.RecordBatch[] {
  const out: arrow.RecordBatch[] = [];
  for (const reader of arrow.RecordBatchReader.readAll(bytes)) {
    for (const batch of reader) {
      if (batch.numRows === 0) continue;
      out.push(normalize(batch));
    }
  }
  return out;
}

function normalize(batch: arrow.RecordBatch): arrow.RecordBatch {
  let changed = false;
  const cols: arrow.Data[] = [];
  const fields: arrow.Field[] = [];
  for (let c = 0; c < batch.numCols; c++) {
    let d = columnData(batch, c);
    let field = batch.schema.fields[c]!;
    if (d.offset !== 0) {
      const idx = new Int32Array(d.length);
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      d = takeData(d, idx, false);
    }
    if (arrow.DataType.isDictionary(d.type)) {
      // Every IPC stream numbers its dictionaries from 0: two decoded streams joined side by side would put two
      // different dictionaries under one id in one schema, which Arrow rejects. A fresh type gets a fresh id.
      const type = new arrow.Dictionary(d.type.dictionary, d.type.indices, undefined, d.type.isOrdered);
      d = arrow.makeData({ type, length: d.length, nullCount: d.nullCount, nullBitmap: d.nullBitmap, data: d.values, dictionary: d.dictionary! }) as arrow.Data;
      field = new arrow.Field(field.name, type, field.nullable, field.metadata);
    }
    if (d !== batch.data.children[c]) changed = true;
    cols.push(d);
    fields.push(field);
  }
  if (!changed) return batch;
  const schema = new arrow.Schema(fields, batch.schema.metadata);
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: batch.numRows, nullCount: 0, children: cols });
  return new arrow.RecordBatch(schema, struct);
}

/** All batches of a partition (null: all partitions) as an array. */
export async function readShufflePartition(
  store: Pick<ObjectStore, 'getRange'>,
  outputs: readonly MapOutput[],
  partition: number | null,
  options?: ShuffleReadOptions,
): Promise<arrow.RecordBatch[]> {
  const out: arrow.RecordBatch[] = [];
  for await (const b of new ShuffleReader(store, outputs, options).read(partition)) out.push(b);
  return out;
}
