// The combining step for shuffles with many map and reduce tasks. Reading M map objects from each of R
// reducers costs M × R ranged GETs; after the map stage commits, C combiner tasks each take a contiguous group
// of committed map outputs, read each object whole (one GET each, M in all), and write ONE object in the same
// layout (./map-output.ts) whose partition p is the concatenation of the group's partition-p IPC streams, byte
// for byte (no decoding). Reducers then read the C combined outputs instead of the M map outputs: M + C PUTs
// and M + C × R GETs in all; with C ≈ √M that is about M + √M × R instead of M × R.
//
// Combiner attempts follow the same protocol as map attempts: each writes only its own attempt key, and the
// coordinator commits one attempt per combiner into the stage's 'combined' manifest (./manifest.ts).
import { type ObjectStore, type RangeReadOptions, mapBounded, readRanges } from '../io/object-store.ts';
import { ExecutionError } from '../types/errors.ts';
import { type MapOutput, type PartitionSpan, combinedOutputUri, encodeFooter } from './map-output.ts';

/** Splits committed outputs (sorted by task) into `groups` contiguous groups of near-equal size. */
export function planCombinerGroups(outputs: readonly MapOutput[], groups = Math.max(1, Math.round(Math.sqrt(outputs.length)))): MapOutput[][] {
  const sorted = [...outputs].sort((a, b) => a.task - b.task);
  const g = Math.max(1, Math.min(groups, sorted.length));
  const out: MapOutput[][] = [];
  for (let i = 0; i < g; i++) out.push(sorted.slice(Math.floor((i * sorted.length) / g), Math.floor(((i + 1) * sorted.length) / g)));
  return out;
}

export interface CombineOptions extends RangeReadOptions {
  readonly shuffleRoot: string;
  readonly stage: number;
  /** This combiner's index (its "task" in the combined manifest). */
  readonly combiner: number;
  readonly attempt: number;
  /** Map objects fetched at once. */
  readonly mapConcurrency?: number;
}

/** Reads the group's map objects and writes their concatenation by partition as one object. */
export async function combineMapOutputs(store: ObjectStore, inputs: readonly MapOutput[], options: CombineOptions): Promise<MapOutput> {
  const partitions = inputs[0]?.partitions.length ?? 0;
  for (const o of inputs) {
    if (o.partitions.length !== partitions) throw new ExecutionError(`cannot combine ${o.uri} (${o.partitions.length} partitions) with outputs of ${partitions}`);
    if (o.stage !== options.stage) throw new ExecutionError(`cannot combine stage ${o.stage}'s output ${o.uri} into stage ${options.stage}`);
  }
  // One GET per input covering its partitions (the footer is not needed).
  const bodies = await mapBounded(inputs, options.mapConcurrency ?? 16, async (o) => {
    const spans = o.partitions.filter((s) => s.length > 0);
    if (spans.length === 0) return { start: 0, bytes: new Uint8Array(0) };
    const start = Math.min(...spans.map((s) => s.offset));
    const end = Math.max(...spans.map((s) => s.offset + s.length));
    const [bytes] = await readRanges(store, o.uri, [{ start, end }], { requestBytes: Number.MAX_SAFE_INTEGER, ...options });
    if (bytes!.length !== end - start) throw new ExecutionError(`${o.uri}: shuffle object is shorter than its index says`);
    return { start, bytes: bytes! };
  });
  let total = 0;
  for (const o of inputs) for (const s of o.partitions) total += s.length;
  const body = new Uint8Array(total);
  const spans: PartitionSpan[] = [];
  let at = 0;
  let rows = 0;
  for (let p = 0; p < partitions; p++) {
    const offset = at;
    let n = 0;
    inputs.forEach((o, i) => {
      const s = o.partitions[p]!;
      if (s.length === 0) return;
      const b = bodies[i]!;
      body.set(b.bytes.subarray(s.offset - b.start, s.offset - b.start + s.length), at);
      at += s.length;
      n += s.rows;
    });
    spans.push({ offset, length: at - offset, rows: n });
    rows += n;
  }
  const footer = encodeFooter({ stage: options.stage, task: options.combiner, attempt: options.attempt, rows, partitions: spans });
  const object = new Uint8Array(total + footer.length);
  object.set(body, 0);
  object.set(footer, total);
  const uri = combinedOutputUri(options.shuffleRoot, options.stage, options.combiner, options.attempt);
  await store.put(uri, object, { contentType: 'application/vnd.apache.arrow.stream' });
  return { uri, stage: options.stage, task: options.combiner, attempt: options.attempt, partitions: spans, bytes: object.length, rows };
}
