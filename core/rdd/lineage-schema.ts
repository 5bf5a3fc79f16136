// RDD lineage as JSON at the runtime's boundaries (a job's `rdd` spec, an RDD stage's task): checked with zod so
// that a lineage from another build, or a hand-written one, fails with the field it got wrong instead of
// misbehaving in a sandbox. Byte arrays (parallelized data, contexts, zero values, range bounds) travel as
// `{ "$bytes": "<base64>" }` (rddTaskToJson's encoding) and come out of `parseLineage` as Uint8Arrays.
import { z } from 'zod';
import { validate } from '../types/validate.ts';
import type { RddNode, Step } from './lineage.ts';

const bytes = z
  .object({ $bytes: z.string() })
  .strict()
  .transform((b) => new Uint8Array(Buffer.from(b.$bytes, 'base64')));

const nat = z.number().int().nonnegative();
const positive = z.number().int().positive();

const shipped = z.object({ source: z.string().min(1), op: z.string().min(1), context: bytes.nullable() });

const fnOps = ['map', 'filter', 'flatMap', 'mapPartitions', 'keyBy', 'mapValues', 'flatMapValues', 'foreachPartition'] as const;

export const stepSchema = z.union([
  z.object({ op: z.enum(fnOps), fn: shipped }),
  z.object({ op: z.literal('sample'), withReplacement: z.boolean(), fraction: z.number().nonnegative(), seed: z.number().int() }),
  z.object({ op: z.literal('combine'), name: z.string(), fn: shipped, zero: bytes.nullable() }),
  z.object({ op: z.enum(['group', 'dedupe', 'cogroup', 'values', 'keys']) }),
  z.object({ op: z.literal('join'), how: z.enum(['inner', 'left', 'right', 'full']) }),
  z.object({ op: z.literal('sortByKey'), ascending: z.boolean() }),
  z.object({ op: z.literal('partitionReduce'), fn: shipped, zero: bytes.nullable() }),
  z.object({ op: z.literal('bucket'), name: z.string(), by: z.enum(['key', 'record', 'round_robin']), partitions: positive }),
  z.object({ op: z.literal('rangeBucket'), bounds: bytes, ascending: z.boolean(), partitions: positive }),
  z.object({ op: z.literal('sampleKeys'), count: nat }),
]);

const side = z.union([z.literal(0), z.literal(1), z.null()]);

const partitioner = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hash'), by: z.enum(['key', 'record']) }),
  z.object({ kind: z.literal('round_robin') }),
  z.object({ kind: z.literal('range'), ascending: z.boolean() }),
]);

// `dataframe` sources (df.rdd) are left out on purpose: their rows come from the driver's DataFrame execution.
export const nodeSchema: z.ZodType = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('parallelize'), id: nat, partitions: z.array(bytes).min(1) }),
    z.object({
      kind: z.literal('text_file'),
      id: nat,
      files: z.array(z.object({ path: z.string().min(1), version: z.string() })).min(1),
      splits: z.array(z.object({ path: z.string().min(1), start: nat, end: nat })),
      splitBytes: positive,
    }),
    z.object({ kind: z.literal('narrow'), id: nat, input: nodeSchema, steps: z.array(stepSchema) }),
    z.object({
      kind: z.literal('shuffle'),
      id: nat,
      name: z.string(),
      inputs: z.array(z.object({ input: nodeSchema, mapSteps: z.array(stepSchema), partitioner, side })).min(1),
      partitions: positive,
      reduceSteps: z.array(stepSchema),
    }),
    z.object({ kind: z.literal('union'), id: nat, inputs: z.array(nodeSchema).min(1) }),
    z.object({ kind: z.literal('shuffle_read'), id: nat, name: z.string(), partitions: positive, reduceSteps: z.array(stepSchema) }),
    z.object({ kind: z.literal('coalesce'), id: nat, input: nodeSchema, partitions: positive }),
    z.object({ kind: z.literal('parquet_rows'), id: nat, partitions: z.array(z.array(z.string().min(1))).min(1) }),
    z.object({ kind: z.literal('stored'), id: nat, entry: z.string().min(1), partitions: z.array(z.string().min(1).nullable()).min(1) }),
  ]),
);

/** A lineage from its JSON form (already parsed), checked; `what` names it in errors. */
export function parseLineage(raw: unknown, what: string): RddNode {
  return validate<RddNode>(nodeSchema, raw, what);
}

export function parseSteps(raw: unknown, what: string): Step[] {
  return validate<Step[]>(z.array(stepSchema), raw, what);
}

/** The JSON form of lineage or steps (byte arrays as `{ $bytes }`), as a plain value. */
export function lineageJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') } : v)),
  );
}
