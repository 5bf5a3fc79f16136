// rdd.persist() in remote sessions: before an action's job, every persisted RDD in its lineage (innermost
// first) is replaced by a `stored` node over its S3 cache entry (core/cache/s3-cache.ts), computing the entries
// that do not exist yet by a job of their own that writes the RDD's partitions (Parquet parts of record chunks)
// into the entry. Entries are keyed by the lineage (without node ids) and its text files' current versions.
import { createHash } from 'node:crypto';
import { fileVersion } from '../cache/versions.ts';
import { DEFAULT_CACHE_TTL_HOURS, commitEntry, defaultCacheRoot, dropEntry, entryName, entryUri, isExpired, readEntry, writtenEntry } from '../cache/s3-cache.ts';
import { storeFor } from '../io/file-store.ts';
import type { RemoteRunner } from '../sdk/remote.ts';
import { DataError, ExecutionError } from '../types/errors.ts';
import { type RddNode, mapInputs } from './lineage.ts';
import { lineageJson } from './lineage-schema.ts';
import { rddJobJson } from './remote-stages.ts';
import type { JobMetrics } from './runner.ts';

/** Current versions of the text files under `node` (what a persisted RDD's entry is keyed by, with its lineage). */
async function textInputs(node: RddNode, out: { path: string; version: string }[] = []): Promise<{ path: string; version: string }[]> {
  if (node.kind === 'text_file') {
    for (const f of node.files) {
      const version = await fileVersion(f.path);
      if (version === 'missing') throw new DataError(`text file '${f.path}' does not exist`);
      out.push({ path: f.path, version });
    }
  }
  await mapInputs(node, async (n) => (await textInputs(n, out), n));
  return out;
}

/** The lineage's fingerprint: its JSON without node ids (which differ between processes), hashed. */
function lineageFingerprint(node: RddNode): string {
  const text = JSON.stringify(lineageJson(node), (k, v: unknown) => (k === 'id' ? undefined : v));
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * `node` with every persisted RDD in it (innermost first) replaced by a `stored` node over its S3 cache entry,
 * computing the entries that do not exist yet: one job each, writing the RDD's partitions (Parquet parts of
 * record chunks) into the entry. Keyed by the lineage and its text files' versions, so a new session persisting
 * the same lineage over unchanged files reuses the entry.
 */
export async function substitutePersisted(runner: RemoteRunner, node: RddNode, isPersisted: (id: number) => boolean, metrics: JobMetrics): Promise<RddNode> {
  const root = runner.options.cache?.root ?? defaultCacheRoot();
  const ttlHours = runner.options.cache?.ttlHours ?? DEFAULT_CACHE_TTL_HOURS;
  const walk = async (n: RddNode): Promise<RddNode> => {
    const inner = await mapInputs(n, walk);
    if (!isPersisted(n.id)) return inner;
    const fingerprint = lineageFingerprint(inner);
    const inputs = await textInputs(inner);
    const entry = entryName(fingerprint, inputs);
    let m = await readEntry(root, entry);
    if (m && (isExpired(m) || !m.partitions)) {
      await dropEntry(root, entry);
      m = null;
    }
    if (!m) {
      const dir = entryUri(root, entry);
      // A folder without a manifest is a job that did not finish; the next job must not take its parts.
      await storeFor(dir).remove(dir);
      const info = await runner.run({ rdd: rddJobJson(inner, []), options: { ...runner.options.jobOptions, resultUri: dir } });
      const written = await writtenEntry(dir, info, ttlHours);
      const partitions: (string | null)[] = Array.from({ length: info.stages[info.stages.length - 1]?.tasks ?? 0 }, () => null);
      for (const f of written.files) {
        const p = /^part-(\d+)-/.exec(f);
        if (!p || Number(p[1]) >= partitions.length) throw new ExecutionError(`cache entry ${dir} holds an unexpected file '${f}'`);
        partitions[Number(p[1])] = `${dir}/${f}`;
      }
      m = { version: 1, kind: 'rdd', entry, fingerprint, inputs, partitions, ...written };
      await commitEntry(root, m);
      metrics.persistedNodesWritten++;
    }
    metrics.persistedPartitionsRead += m.partitions!.length;
    return Object.freeze({ kind: 'stored', id: n.id, entry, partitions: Object.freeze([...m.partitions!]) });
  };
  return walk(node);
}
