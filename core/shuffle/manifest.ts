// The commit protocol of a shuffle stage. Map task attempts write only under their own attempt keys
// (./map-output.ts); the coordinator commits exactly one attempt per task into the stage manifest; readers read
// only the outputs the manifest lists. A retried or speculative duplicate attempt that finishes after its task
// was committed is then harmless: its object exists but nobody reads it (and a cleanup may delete it).
//
// Manifest versions are immutable objects `<stage>/manifest-v<NNNNNNNNNN>.json` (`combined-v…` for combiners) (zero-padded, so S3's listing
// order is version order). A commit PUTs the next version, atomically as every S3 PUT is; `loadManifest` reads
// the highest version. One coordinator owns a stage's manifest at a time (a restarted coordinator first loads
// the latest version and continues from it), so versions are never written concurrently; committing several
// finished tasks in one call costs one PUT.
import { z } from 'zod';
import type { ObjectStore } from '../io/object-store.ts';
import { ExecutionError } from '../types/errors.ts';
import { type MapOutput, stageUri } from './map-output.ts';

export const MANIFEST_VERSION = 1;

export interface StageManifest {
  readonly version: typeof MANIFEST_VERSION;
  readonly stage: number;
  /** Map tasks of the stage. */
  readonly tasks: number;
  /** Reduce partitions every map output has. */
  readonly partitions: number;
  /** The manifest object's own version number (0 before the first commit). */
  readonly sequence: number;
  /** Committed outputs, at most one per task, sorted by task. */
  readonly outputs: readonly MapOutput[];
}

const span = z.object({ offset: z.number().int().nonnegative(), length: z.number().int().nonnegative(), rows: z.number().int().nonnegative() });
const mapOutputSchema = z.object({
  uri: z.string(),
  stage: z.number().int().nonnegative(),
  task: z.number().int().nonnegative(),
  attempt: z.number().int().nonnegative(),
  partitions: z.array(span),
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
});
const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  stage: z.number().int().nonnegative(),
  tasks: z.number().int().nonnegative(),
  partitions: z.number().int().positive(),
  sequence: z.number().int().nonnegative(),
  outputs: z.array(mapOutputSchema),
});

/** The manifest of a stage's map outputs; a combining step (./combiner.ts) commits into 'combined'. */
export type ManifestName = 'manifest' | 'combined';

export function manifestUri(shuffleRoot: string, stage: number, sequence: number, name: ManifestName = 'manifest'): string {
  return `${stageUri(shuffleRoot, stage)}/${name}-v${String(sequence).padStart(10, '0')}.json`;
}

/** An empty manifest for a stage that has not committed anything yet (not written). */
export function emptyManifest(stage: number, tasks: number, partitions: number): StageManifest {
  return { version: MANIFEST_VERSION, stage, tasks, partitions, sequence: 0, outputs: [] };
}

export function isComplete(m: StageManifest): boolean {
  return m.outputs.length === m.tasks;
}

export interface CommitResult {
  readonly manifest: StageManifest;
  /** Outputs that were committed by this call (others were for tasks already committed, and are ignored). */
  readonly committed: readonly MapOutput[];
}

/**
 * Commits finished map task attempts: for each task not yet in `current`, its (first given) attempt; attempts
 * of already-committed tasks are ignored. Writes the next manifest version when anything changed.
 */
export async function commitMapOutputs(
  store: ObjectStore,
  shuffleRoot: string,
  current: StageManifest,
  outputs: readonly MapOutput[],
  name: ManifestName = 'manifest',
): Promise<CommitResult> {
  const byTask = new Map(current.outputs.map((o) => [o.task, o]));
  const committed: MapOutput[] = [];
  for (const o of outputs) {
    if (o.stage !== current.stage) throw new ExecutionError(`cannot commit stage ${o.stage}'s output ${o.uri} into stage ${current.stage}'s manifest`);
    if (o.task >= current.tasks) throw new ExecutionError(`stage ${current.stage} has ${current.tasks} tasks; cannot commit task ${o.task}`);
    if (o.partitions.length !== current.partitions) {
      throw new ExecutionError(`${o.uri} has ${o.partitions.length} partitions; stage ${current.stage} has ${current.partitions}`);
    }
    if (byTask.has(o.task)) continue;
    byTask.set(o.task, o);
    committed.push(o);
  }
  if (committed.length === 0) return { manifest: current, committed };
  const next: StageManifest = {
    ...current,
    sequence: current.sequence + 1,
    outputs: [...byTask.values()].sort((a, b) => a.task - b.task),
  };
  await store.put(manifestUri(shuffleRoot, current.stage, next.sequence, name), JSON.stringify(next), { contentType: 'application/json' });
  return { manifest: next, committed };
}

/** One task's attempt: see commitMapOutputs. */
export function commitMapOutput(store: ObjectStore, shuffleRoot: string, current: StageManifest, output: MapOutput, name: ManifestName = 'manifest'): Promise<CommitResult> {
  return commitMapOutputs(store, shuffleRoot, current, [output], name);
}

/** The latest committed manifest of a stage, or null when the stage has committed nothing. */
export async function loadManifest(store: ObjectStore, shuffleRoot: string, stage: number, name: ManifestName = 'manifest'): Promise<StageManifest | null> {
  const prefix = `${stageUri(shuffleRoot, stage)}/${name}-v`;
  let latest: string | null = null;
  for await (const e of store.listAll(prefix)) {
    if (!e.uri.endsWith('.json')) continue;
    if (latest === null || e.uri > latest) latest = e.uri;
  }
  if (latest === null) return null;
  return loadManifestAt(store, latest);
}

/**
 * The manifest version at `uri` (what a coordinator hands an executor: a committed version, never "the
 * latest", so a task reads exactly the outputs committed when it was scheduled). Throws the store's
 * ObjectStoreError (`notFound`) when the object does not exist, an ExecutionError when it is not a manifest.
 */
export async function loadManifestAt(store: Pick<ObjectStore, 'get'>, uri: string): Promise<StageManifest> {
  const text = new TextDecoder().decode(await store.get(uri));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ExecutionError(`${uri}: invalid shuffle manifest: not JSON (${(e as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new ExecutionError(`${uri}: invalid shuffle manifest: ${parsed.error.message}`);
  return parsed.data as StageManifest;
}
