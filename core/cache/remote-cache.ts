// df.cache() / df.persist() for remote sessions (Session.connect): a persisted subtree's output is computed once
// by a job that writes it, as Parquet, into its S3 cache entry (./s3-cache.ts), and every later action — in this
// session, another one, or another process over unchanged inputs — scans the entry instead of recomputing. The
// entry's name holds the inputs' versions (ETags), so changing an input makes a new entry: the old one is
// never served for the new data. explain() shows the entry's Parquet scan where it is used.
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planInputs, withInputs } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { storeFor } from '../io/file-store.ts';
import type { RemoteRunner, SqlSource } from '../sdk/remote.ts';
import { typeEquals } from '../types/data-type.ts';
import { DataError, ExecutionError } from '../types/errors.ts';
import type { Schema } from '../types/schema.ts';
import { planFingerprint, remoteMaterializations, sessionCacheState, substitutable } from './plan-cache.ts';
import { type CacheEntryManifest, DEFAULT_CACHE_TTL_HOURS, commitEntry, defaultCacheRoot, dropEntry, entryName, entryUri, isExpired, readEntry, writtenEntry } from './s3-cache.ts';
import { planInputVersions } from './versions.ts';

/** What the remote cache needs of a session (Session satisfies it). */
export interface RemoteCacheSession {
  readonly remote: RemoteRunner | null;
  sqlSource(plan: LogicalPlan): SqlSource | undefined;
  readonly read: { parquet(...paths: string[]): Promise<{ readonly plan: LogicalPlan }> };
}


function cacheRoot(session: RemoteCacheSession): { root: string; ttlHours: number } {
  const o = session.remote?.options.cache;
  return { root: o?.root ?? defaultCacheRoot(), ttlHours: o?.ttlHours ?? DEFAULT_CACHE_TTL_HOURS };
}

/** The entry name of a persisted subtree over its inputs' current versions. */
async function currentEntry(p: LogicalPlan): Promise<{ entry: string; inputs: { path: string; version: string }[] }> {
  const inputs = await planInputVersions(p);
  const gone = inputs.find((v) => v.version === 'missing');
  if (gone) throw new DataError(`input file '${gone.path}' does not exist`);
  return { entry: entryName(planFingerprint(p), inputs), inputs };
}

/** A scan of an entry's Parquet, qualified as the subtree's columns were, checked against its schema. */
async function entryScan(session: RemoteCacheSession, dir: string, s: Schema): Promise<LogicalPlan> {
  const scan = (await session.read.parquet(dir)).plan;
  const got = planSchema(scan).fields;
  if (got.length !== s.fields.length || got.some((f, i) => f.name !== s.fields[i]!.name || !typeEquals(f.type, s.fields[i]!.type))) {
    throw new ExecutionError(`cache entry ${dir} has columns (${got.map((f) => f.name).join(', ')}) that do not match the persisted DataFrame's (${s.fields.map((f) => f.name).join(', ')})`);
  }
  const qualifier = s.fields[0]?.qualifier;
  return qualifier && scan.kind === 'scan' ? (Object.freeze({ ...scan, alias: qualifier }) as LogicalPlan) : scan;
}

/** The entry of `p` if it is complete and not expired; an expired one is removed. */
async function liveEntry(root: string, entry: string): Promise<CacheEntryManifest | null> {
  const m = await readEntry(root, entry);
  if (m && isExpired(m)) {
    await dropEntry(root, entry);
    return null;
  }
  return m;
}

/**
 * `plan` with each persisted subtree replaced by a scan of its S3 cache entry, computing (by a job writing into
 * the entry) the entries that do not exist yet.
 */
export async function substituteS3Cached(session: RemoteCacheSession, plan: LogicalPlan): Promise<LogicalPlan> {
  const c = sessionCacheState(session);
  const runner = session.remote;
  if (!runner || c.persisted.size === 0) return plan;
  const { root, ttlHours } = cacheRoot(session);
  const seen = remoteMaterializations(session);
  const walkInputs = async (p: LogicalPlan): Promise<LogicalPlan> => {
    const inputs = planInputs(p);
    const replaced = await Promise.all(inputs.map(walk));
    return replaced.some((r, i) => r !== inputs[i]) ? withInputs(p, replaced) : p;
  };
  const walk = async (p: LogicalPlan): Promise<LogicalPlan> => {
    const fp = planFingerprint(p);
    const s = planSchema(p);
    if (!c.persisted.has(fp) || !substitutable(s)) return walkInputs(p);
    const { entry, inputs } = await currentEntry(p);
    const before = seen.get(fp)?.entry;
    if (before !== undefined && before !== entry) c.stats.invalidated++;
    const dir = entryUri(root, entry);
    let m = await liveEntry(root, entry);
    if (m) {
      if (before === entry) c.stats.hits++;
      else c.stats.reused++;
    } else {
      // An incomplete folder (a job that did not finish) is cleared: the job takes a folder's parts for its own.
      await storeFor(dir).remove(dir);
      const body = await walkInputs(p);
      const spec = runner.jobSpec(body, body === p ? session.sqlSource(p) : undefined, { resultUri: dir });
      const info = await runner.run(spec);
      m = { version: 1, entry, fingerprint: fp, inputs, ...(await writtenEntry(dir, info, ttlHours)) };
      await commitEntry(root, m);
      c.stats.materialized++;
    }
    seen.set(fp, { id: dir, entry, rows: m.rows, bytes: m.bytes });
    // An empty output has no Parquet to scan: the (cheap) subtree is computed as usual.
    if (m.files.length === 0) return walkInputs(p);
    return entryScan(session, dir, s);
  };
  return walk(plan);
}

/** What explain() shows in a remote session: persisted subtrees with a live entry as that entry's Parquet scan. */
export async function explainS3Cached(session: RemoteCacheSession, plan: LogicalPlan): Promise<LogicalPlan> {
  const c = sessionCacheState(session);
  if (!session.remote || c.persisted.size === 0) return plan;
  const { root } = cacheRoot(session);
  const walk = async (p: LogicalPlan): Promise<LogicalPlan> => {
    const s = planSchema(p);
    if (c.persisted.has(planFingerprint(p)) && substitutable(s)) {
      const { entry } = await currentEntry(p);
      const m = await readEntry(root, entry);
      if (m && !isExpired(m) && m.files.length > 0) return entryScan(session, entryUri(root, entry), s);
    }
    const inputs = planInputs(p);
    const replaced = await Promise.all(inputs.map(walk));
    return replaced.some((r, i) => r !== inputs[i]) ? withInputs(p, replaced) : p;
  };
  return walk(plan);
}
