// Dead-letter tables of model stages, committed with the job. An inference task writes the rows its model
// rejected (core/exec/apply-model.ts) to a staging part under the job's root — one part per task, named by the
// task so a retried or speculative attempt replaces it — and the scheduler publishes the staged parts into each
// dead-letter folder when it commits the job's result, before the job reads as succeeded. A job that fails or is
// cancelled publishes nothing (its staging expires with the job's other scratch data).
import { createHash } from 'node:crypto';
import { ObjectStores } from '../io/object-store.ts';
import type { ObjectStore } from '../io/object-store/object-store.ts';
import { physicalInputs, type PhysicalPlan } from '../physical/physical-plan.ts';
import type { StageGraph } from '../physical/stages.ts';

const STAGING = 'dead-letter';

/** The job root of an executor request (`<jobRoot>/shuffle` is its shuffle root: job-store.ts jobPaths). */
export function jobRootOfShuffleRoot(shuffleRoot: string): string | null {
  const root = shuffleRoot.replace(/\/+$/, '');
  return root.endsWith('/shuffle') ? root.slice(0, -'/shuffle'.length) : null;
}

function folderKey(folder: string): string {
  return createHash('sha256').update(folder.replace(/\/+$/, '')).digest('hex').slice(0, 16);
}

/** Where task `task` of stage `stage` stages its dead letters for `folder`. */
export function stagedDeadLetterUri(jobRoot: string, folder: string, stage: number, task: number): string {
  return `${jobRoot}/${STAGING}/${folderKey(folder)}/part-s${stage}-t${task}.parquet`;
}

/** The dead-letter folders a stage graph's model stages write to. */
export function deadLetterFolders(graph: StageGraph): string[] {
  const folders = new Set<string>();
  const walk = (p: PhysicalPlan): void => {
    if (p.kind === 'apply_model' && p.model.deadLetter) folders.add(p.model.deadLetter.replace(/\/+$/, ''));
    physicalInputs(p).forEach(walk);
  };
  for (const s of graph.stages) walk(s.plan);
  return [...folders].sort();
}

let stores: ObjectStores | undefined;

/**
 * Copies the staged parts of every dead-letter folder into it as `part-<job>-s<stage>-t<task>.parquet`. Idempotent
 * (a resumed coordinator may publish again); returns the parts published.
 */
export async function publishDeadLetters(store: ObjectStore, graph: StageGraph, jobRoot: string, jobId: string): Promise<string[]> {
  const published: string[] = [];
  for (const folder of deadLetterFolders(graph)) {
    for await (const e of store.listAll(`${jobRoot}/${STAGING}/${folderKey(folder)}/`)) {
      const name = e.uri.slice(e.uri.lastIndexOf('/') + 1).replace(/^part-/, '');
      const to = `${folder}/part-${jobId}-${name}`;
      // Through the target's own store: the folder may be in another bucket, or local, than the job root.
      await (stores ??= new ObjectStores()).for(to).put(to, await store.get(e.uri), { contentType: 'application/vnd.apache.parquet' });
      published.push(to);
    }
  }
  return published;
}
