// The commit record of a Squall output directory on an object store. S3 has no atomic rename, so an output is
// published by one PUT: `_SUCCESS` holding a JSON manifest of the directory's part files, written last.
// Readers of an S3 directory (paths.ts `listDataFiles`) read exactly the files a manifest lists; a directory
// with an in-flight `_temporary/` prefix and no `_SUCCESS` is an uncommitted write and is not read. The
// protocol itself is in writers.ts (`writeToObjectStore`).
import { DataError } from '../types/errors.ts';
import type { FileStore } from './file-store.ts';

export const OUTPUT_MARKERS = { success: '_SUCCESS', temporary: '_temporary' } as const;

export interface OutputManifest {
  readonly committer: 'squall';
  readonly version: 1;
  /** The write that published this state of the directory. */
  readonly jobId: string;
  /** Part files relative to the directory, sorted. */
  readonly files: readonly string[];
}

export function manifestText(jobId: string, files: readonly string[]): string {
  const m: OutputManifest = { committer: 'squall', version: 1, jobId, files: [...files].sort() };
  return JSON.stringify(m) + '\n';
}

/**
 * The manifest in `dir`'s `_SUCCESS`, or null when there is none or it is not one of ours (an empty Spark
 * `_SUCCESS`, say: the directory is then read by listing, as before).
 */
export async function readManifest(store: FileStore, dir: string): Promise<OutputManifest | null> {
  const path = store.join(dir, OUTPUT_MARKERS.success);
  const info = await store.stat(path);
  if (!info || info.kind !== 'file' || info.size === 0) return null;
  return manifestFromText(new TextDecoder().decode(await store.readRange(path, 0, info.size)), path);
}

/** The manifest in the text of `path` (a `_SUCCESS`), or null when it is not one of ours. */
export function manifestFromText(text: string, path: string): OutputManifest | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const m = parsed as Partial<OutputManifest> | null;
  if (!m || m.committer !== 'squall') return null;
  if (m.version !== 1 || !Array.isArray(m.files) || !m.files.every((f) => typeof f === 'string' && f !== '' && !f.startsWith('/') && !f.split('/').includes('..'))) {
    throw new DataError(`'${path}' is a Squall output manifest this version cannot read`);
  }
  return { committer: 'squall', version: 1, jobId: String(m.jobId ?? ''), files: m.files };
}
