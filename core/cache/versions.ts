// The identity of a plan's inputs, for cache keys: each file's size plus its mtime and inode (local) or its
// ETag (S3). A file replaced with different content gets a different version, so cached results built from
// the old one are never served for the new one.
import { localPath, storeFor } from '../io/file-store.ts';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planInputs } from '../plan/logical-plan.ts';

export interface InputVersion {
  readonly path: string;
  /** `size:mtime:inode` locally, `size:etag` on S3, `missing` when the file is gone (see fileVersion). */
  readonly version: string;
}

/** The current version of one file: its size and its store's ETag (for local files, mtime and inode). */
export async function fileVersion(path: string): Promise<string> {
  const info = await storeFor(path).stat(localPath(path));
  return info ? `${info.size}:${info.etag ?? ''}` : 'missing';
}

/** The files a plan scans (in plan order, without duplicates). In-memory tables are immutable: their id is their identity. */
export function planFiles(plan: LogicalPlan): string[] {
  const out = new Set<string>();
  const walk = (p: LogicalPlan): void => {
    if (p.kind === 'scan' && p.source.format !== 'memory') for (const f of p.source.paths) out.add(f);
    for (const i of planInputs(p)) walk(i);
  };
  walk(plan);
  return [...out];
}

/** Current versions of the files a plan scans. */
export async function planInputVersions(plan: LogicalPlan): Promise<InputVersion[]> {
  return Promise.all(planFiles(plan).map(async (path) => ({ path, version: await fileVersion(path) })));
}
