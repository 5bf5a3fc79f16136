// rdd.saveAsTextFile(): one `part-NNNNN` text file per partition, committed atomically with the same protocol
// as the DataFrame writers (core/io/writers.ts). Local: parts go to a hidden temporary directory beside the
// target, which is renamed into place with `_SUCCESS` once every part is written. S3: parts under
// `<target>/_temporary/<job>/`, copied next to it, then one PUT of the `_SUCCESS` manifest publishes them.
// As in Spark, the target must not exist yet.
import { randomUUID } from 'node:crypto';
import { type FileStore, isRemotePath, localPath, storeFor } from '../io/file-store.ts';
import { OUTPUT_MARKERS, manifestText } from '../io/output-manifest.ts';
import { DataError } from '../types/errors.ts';

/** A record as a line: strings as they are, other values as JSON (bigint as its digits). */
export function recordText(r: unknown): string {
  if (typeof r === 'string') return r;
  if (r === undefined) return 'undefined';
  if (typeof r === 'bigint') return r.toString();
  return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(r);
}

export function partName(p: number): string {
  return `part-${String(p).padStart(5, '0')}`;
}

export async function writePart(store: FileStore, file: string, records: readonly unknown[]): Promise<void> {
  const w = await store.openWriter(file);
  try {
    let buf: string[] = [];
    let size = 0;
    for (const r of records) {
      const line = recordText(r) + '\n';
      buf.push(line);
      size += line.length;
      if (size > 1 << 20) {
        await w.write(buf.join(''));
        buf = [];
        size = 0;
      }
    }
    if (buf.length) await w.write(buf.join(''));
    await w.close();
  } catch (e) {
    await w.abort?.().catch(() => {});
    throw e;
  }
}

/** The target directory of a write to `path`, checked not to exist yet (an S3 prefix may hold only `_temporary`). */
async function newTarget(path: string): Promise<{ store: FileStore; target: string; remote: boolean }> {
  const store = storeFor(path);
  const remote = isRemotePath(path);
  const target = remote ? store.join(path) : localPath(path);
  if (remote && store.basename(target) === '') throw new DataError(`cannot write to '${path}': name a prefix inside the bucket`);
  const exists = await store.stat(target);
  if (exists && (!remote || (await store.list(target)).some((e) => e.name !== OUTPUT_MARKERS.temporary))) {
    throw new DataError(`saveAsTextFile(): path '${path}' already exists; remove it or choose another path`);
  }
  return { store, target, remote };
}

/**
 * An S3 text output whose parts `write` puts (as `part-NNNNN`, one per partition) into the temporary folder it
 * is given — the executors of a remote job, say — committed as saveTextPartitions commits its own.
 */
export async function commitTextParts(path: string, write: (tmp: string) => Promise<number>): Promise<{ files: string[] }> {
  const { store, target, remote } = await newTarget(path);
  if (!remote) throw new DataError(`commitTextParts() writes to S3, not to '${path}'`);
  return commitS3(store, target, randomUUID(), write);
}

async function commitS3(store: FileStore, target: string, jobId: string, write: (tmp: string) => Promise<number>): Promise<{ files: string[] }> {
  const tmp = store.join(target, OUTPUT_MARKERS.temporary, jobId);
  const copied: string[] = [];
  let published = false;
  let names: string[] = [];
  try {
    const partitions = await write(tmp);
    names = Array.from({ length: partitions }, (_, p) => partName(p));
    for (const n of names) {
      const to = store.join(target, n);
      copied.push(to);
      await store.copy(store.join(tmp, n), to);
    }
    await store.writeFile(store.join(target, OUTPUT_MARKERS.success), manifestText(jobId, names));
    published = true;
  } catch (e) {
    if (!published) for (const f of copied) await store.remove(f).catch(() => {});
    throw e;
  } finally {
    await store.remove(tmp);
  }
  return { files: names.map((n) => store.join(target, n)) };
}

/** Writes `partitions` parts (records from `compute`) to the directory `path` and commits them. */
export async function saveTextPartitions(path: string, partitions: number, compute: (p: number) => Promise<readonly unknown[]>): Promise<{ files: string[] }> {
  const { store, target, remote } = await newTarget(path);
  const jobId = randomUUID();
  const names = Array.from({ length: partitions }, (_, p) => partName(p));
  if (!remote) {
    const parent = store.dirname(target);
    await store.mkdir(parent);
    const tmp = store.join(parent, `.squall-tmp-${store.basename(target)}-${jobId}`);
    await store.mkdir(tmp);
    try {
      for (let p = 0; p < partitions; p++) await writePart(store, store.join(tmp, names[p]!), await compute(p));
      await store.writeFile(store.join(tmp, OUTPUT_MARKERS.success), '');
      if (await store.stat(target)) throw new DataError(`saveAsTextFile(): path '${path}' was created by someone else while this write ran`);
      await store.rename(tmp, target);
    } finally {
      await store.remove(tmp);
    }
    return { files: names.map((n) => store.join(target, n)) };
  }
  return commitS3(store, target, jobId, async (tmp) => {
    for (let p = 0; p < partitions; p++) await writePart(store, store.join(tmp, names[p]!), await compute(p));
    return partitions;
  });
}
