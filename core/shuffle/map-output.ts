// Where shuffle objects live and what a map task's output object looks like.
//
// Keys: `<shuffleRoot>/stage-<S>/part-<hh>/map-<T>-attempt-<A>.arrow`, where <hh> is two hex digits of a hash of
// the task index. S3 scales request rates per key prefix (about 3,500 PUT and 5,500 GET per second each);
// spreading a stage's map objects over 256 `part-` prefixes lets S3 split the stage's key range instead of
// serving every reducer's GETs from one prefix. Every attempt has its own key, so a retried or speculative
// attempt never overwrites another's output; the stage manifest (./manifest.ts) says which attempt counts.
//
// Object layout (one object per map task attempt):
//
//   [partition 0 as an Arrow IPC stream][partition 1 …]…[partition R-1 …][index JSON][u32 LE index length]["SQSHUF01"]
//
// An empty partition takes zero bytes. Each non-empty partition is a complete IPC stream (schema message,
// dictionaries, record batches, end-of-stream marker), so a reducer decodes its byte range on its own. The
// footer repeats the index the writer also returns in its `MapOutput`; readers use the `MapOutput` from the
// manifest (no extra GET), the footer is there to inspect or recover an object without its manifest.
import { ExecutionError } from '../types/errors.ts';
import { type ObjectStore, readTail } from '../io/object-store.ts';

export interface PartitionSpan {
  /** Byte offset of the partition's IPC stream in the map object. */
  readonly offset: number;
  /** Bytes; 0 for an empty partition. */
  readonly length: number;
  readonly rows: number;
}

/** What a map task attempt wrote: the object and the byte range and row count of every reduce partition. */
export interface MapOutput {
  readonly uri: string;
  readonly stage: number;
  readonly task: number;
  readonly attempt: number;
  readonly partitions: readonly PartitionSpan[];
  /** Size of the whole object, footer included. */
  readonly bytes: number;
  readonly rows: number;
}

export const MAP_OUTPUT_MAGIC = 'SQSHUF01';
const MAGIC_BYTES = new TextEncoder().encode(MAP_OUTPUT_MAGIC);
const TRAILER = 4 + MAGIC_BYTES.length;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash-spread prefix component of a task: `part-00` … `part-ff`. */
export function spreadComponent(stage: number, task: number): string {
  const h = fmix((Math.imul(stage, 0x9e3779b1) ^ fmix(task + 1)) | 0);
  return `part-${(h & 0xff).toString(16).padStart(2, '0')}`;
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

/** The folder of a stage's shuffle output under a job's shuffle root (an `s3://` URI or a local path). */
export function stageUri(shuffleRoot: string, stage: number): string {
  return `${trimSlash(shuffleRoot)}/stage-${stage}`;
}

/** The one key a map task attempt writes. */
export function mapOutputUri(shuffleRoot: string, stage: number, task: number, attempt: number): string {
  return `${stageUri(shuffleRoot, stage)}/${spreadComponent(stage, task)}/map-${task}-attempt-${attempt}.arrow`;
}

/** The one key a combiner task attempt writes (./combiner.ts); spread like map outputs, apart from them. */
export function combinedOutputUri(shuffleRoot: string, stage: number, combiner: number, attempt: number): string {
  return `${stageUri(shuffleRoot, stage)}/${spreadComponent(stage, 0x40000000 + combiner)}/combine-${combiner}-attempt-${attempt}.arrow`;
}

/** The footer that ends a map object: index JSON, its length, the magic. */
export function encodeFooter(output: Omit<MapOutput, 'uri' | 'bytes'>): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({ stage: output.stage, task: output.task, attempt: output.attempt, rows: output.rows, partitions: output.partitions }),
  );
  const out = new Uint8Array(json.length + TRAILER);
  out.set(json, 0);
  new DataView(out.buffer).setUint32(json.length, json.length, true);
  out.set(MAGIC_BYTES, json.length + 4);
  return out;
}

/** Reads a map object's index from its footer (two ranged GETs at most, plus a HEAD). */
export async function readMapOutputFooter(store: Pick<ObjectStore, 'getRange' | 'head'>, uri: string): Promise<MapOutput> {
  const guess = 4096;
  const { size, tail } = await readTail(store, uri, guess);
  const bad = (why: string) => new ExecutionError(`${uri}: not a Squall shuffle map output (${why})`);
  if (tail.length < TRAILER) throw bad('too short');
  const magic = new TextDecoder().decode(tail.subarray(tail.length - MAGIC_BYTES.length));
  if (magic !== MAP_OUTPUT_MAGIC) throw bad('no footer magic');
  const len = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(tail.length - TRAILER, true);
  if (len + TRAILER > size) throw bad('index length past the start of the object');
  const json = len + TRAILER <= tail.length ? tail.subarray(tail.length - TRAILER - len, tail.length - TRAILER) : await store.getRange(uri, size - TRAILER - len, size - TRAILER);
  const parsed = JSON.parse(new TextDecoder().decode(json)) as Omit<MapOutput, 'uri' | 'bytes'>;
  return { uri, bytes: size, stage: parsed.stage, task: parsed.task, attempt: parsed.attempt, rows: parsed.rows, partitions: parsed.partitions };
}
