// An RDD action in a remote session: one job through the HTTP API whose spec is the lineage (`{ rdd }`, see
// ./remote-stages.ts), run by the coordinator and executors like a DataFrame job. The result rows are chunks of
// serialized records tagged with their partition; they come back through the API's result pages and are
// decoded here into the partitions' records. Metrics come from the job's stage status: every stage but the
// last is a shuffle map stage, whose bytes written are the shuffle bytes. Persisted RDDs are materialized into
// S3 cache entries (core/cache/s3-cache.ts) by a job of their own and read back by later jobs as `stored` nodes.
import { createHash } from 'node:crypto';
import * as v8 from 'node:v8';
import { fileVersion } from '../cache/versions.ts';
import { DEFAULT_CACHE_TTL_HOURS, commitEntry, defaultCacheRoot, dropEntry, entryName, entryUri, isExpired, readEntry } from '../cache/s3-cache.ts';
import { readManifest } from '../io/output-manifest.ts';
import { isRemotePath, storeFor } from '../io/file-store.ts';
import type { RemoteRunner } from '../sdk/remote.ts';
import { DataError, ExecutionError, UnsupportedError } from '../types/errors.ts';
import type { RddNode, Step } from './lineage.ts';
import { lineageJson } from './lineage-schema.ts';
import { rddJobJson } from './remote-stages.ts';
import type { JobMetrics } from './runner.ts';

/** Result rows per API page: a row is a chunk of at most ~256 KB of records (./stage-exec.ts), so a page stays near 1.4 MB of JSON. */
const PAGE_ROWS = 4;

function rejectLocalFiles(node: RddNode): void {
  switch (node.kind) {
    case 'text_file':
      for (const f of node.files) {
        if (!isRemotePath(f.path)) throw new UnsupportedError(`textFile('${f.path}') is a local file, which the executors of a remote session cannot read; put it on S3 (s3://…)`);
      }
      return;
    case 'parallelize':
    case 'dataframe':
    case 'shuffle_read':
    case 'stored':
    case 'parquet_rows':
      return;
    case 'narrow':
    case 'coalesce':
      return rejectLocalFiles(node.input);
    case 'union':
      return node.inputs.forEach(rejectLocalFiles);
    case 'shuffle':
      return node.inputs.forEach((i) => rejectLocalFiles(i.input));
  }
}

/** Runs `steps` after `node` on every partition as a job; the partitions' records, and the job's metrics added to `metrics`. */
export async function runRemoteRdd(runner: RemoteRunner, lineage: RddNode, steps: readonly Step[], metrics: JobMetrics, isPersisted: (id: number) => boolean = () => false): Promise<unknown[][]> {
  rejectLocalFiles(lineage);
  const node = await substitutePersisted(runner, await substituteDataFrames(runner, lineage), isPersisted, metrics);
  const jobOptions = runner.options.jobOptions;
  const info = await runner.run({ rdd: rddJobJson(node, steps), ...(jobOptions && Object.keys(jobOptions).length ? { options: jobOptions } : {}) });
  const last = info.stages[info.stages.length - 1];
  if (!last) throw new ExecutionError(`job ${info.jobId} reports no stages`);
  for (const s of info.stages) metrics.tasks += s.tasks;
  for (const s of info.stages.slice(0, -1)) {
    metrics.shuffles++;
    metrics.shuffleBytesWritten += s.bytesWritten;
    metrics.shuffleRecordsWritten += s.rows;
  }
  const partitions: unknown[][] = Array.from({ length: last.tasks }, () => []);
  const { rows, columns } = await runner.client.result(info.jobId, { pageSize: PAGE_ROWS });
  const names = columns.map((c) => c.name).join(',');
  if (names !== 'part,bucket,records') throw new ExecutionError(`job ${info.jobId}'s result has columns (${names}), not an RDD's (part, bucket, records)`);
  for (const r of rows) {
    const part = r['part'] as number;
    const target = partitions[part];
    if (!target) throw new ExecutionError(`job ${info.jobId}'s result names partition ${part} of ${last.tasks}`);
    for (const x of v8.deserialize(Buffer.from(r['records'] as string, 'base64')) as unknown[]) target.push(x);
  }
  return partitions;
}

/** The RDD's children, for walks that rebuild a lineage. */
function withInputs(node: RddNode, map: (n: RddNode) => Promise<RddNode>): Promise<RddNode> {
  switch (node.kind) {
    case 'parallelize':
    case 'text_file':
    case 'dataframe':
    case 'shuffle_read':
    case 'stored':
    case 'parquet_rows':
      return Promise.resolve(node);
    case 'narrow':
    case 'coalesce':
      return map(node.input).then((input) => (input === node.input ? node : Object.freeze({ ...node, input })));
    case 'union':
      return Promise.all(node.inputs.map(map)).then((inputs) => Object.freeze({ ...node, inputs: Object.freeze(inputs) }));
    case 'shuffle':
      return Promise.all(node.inputs.map(async (i) => ({ ...i, input: await map(i.input) }))).then((inputs) => Object.freeze({ ...node, inputs: Object.freeze(inputs) }));
  }
}

/** Current versions of the text files under `node` (what a persisted RDD's entry is keyed by, with its lineage). */
async function textInputs(node: RddNode, out: { path: string; version: string }[] = []): Promise<{ path: string; version: string }[]> {
  if (node.kind === 'text_file') {
    for (const f of node.files) {
      const version = await fileVersion(f.path);
      if (version === 'missing') throw new DataError(`text file '${f.path}' does not exist`);
      out.push({ path: f.path, version });
    }
  }
  await withInputs(node, async (n) => (await textInputs(n, out), n));
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
    const inner = await withInputs(n, walk);
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
      const written = await readManifest(storeFor(dir), dir);
      if (!written) throw new ExecutionError(`job ${info.jobId} wrote no output manifest in cache entry ${dir}`);
      const partitions: (string | null)[] = Array.from({ length: info.stages[info.stages.length - 1]?.tasks ?? 0 }, () => null);
      for (const f of written.files) {
        const p = /^part-(\d+)-/.exec(f);
        if (!p || Number(p[1]) >= partitions.length) throw new ExecutionError(`cache entry ${dir} holds an unexpected file '${f}'`);
        partitions[Number(p[1])] = `${dir}/${f}`;
      }
      const now = new Date();
      m = {
        version: 1,
        kind: 'rdd',
        entry,
        fingerprint,
        inputs,
        files: written.files,
        partitions,
        rows: info.rows,
        bytes: info.stages[info.stages.length - 1]?.bytesWritten ?? 0,
        createdAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + ttlHours * 3600_000).toISOString(),
        jobId: info.jobId,
      };
      await commitEntry(root, m);
      metrics.persistedNodesWritten++;
    }
    metrics.persistedPartitionsRead += m.partitions!.length;
    return Object.freeze({ kind: 'stored', id: n.id, entry, partitions: Object.freeze([...m.partitions!]) });
  };
  return walk(node);
}

/**
 * `node` with each df.rdd source replaced by the Parquet parts of a job that computed the DataFrame (its default
 * result folder under the jobs root, which the bucket's lifecycle rule expires): the parts, in task order, are
 * dealt in contiguous groups to the RDD's partitions.
 */
async function substituteDataFrames(runner: RemoteRunner, node: RddNode): Promise<RddNode> {
  const done = new Map<number, Promise<RddNode>>();
  const walk = (n: RddNode): Promise<RddNode> => {
    if (n.kind !== 'dataframe') return withInputs(n, walk);
    let parts = done.get(n.id);
    if (!parts) {
      parts = (async () => {
        const info = await runner.run(runner.jobSpec(n.plan, undefined));
        if (!info.result) throw new ExecutionError(`job ${info.jobId} reports no result folder`);
        const written = await readManifest(storeFor(info.result), info.result);
        if (!written) throw new ExecutionError(`job ${info.jobId} wrote no output manifest in ${info.result}`);
        const files = written.files.map((f) => `${info.result}/${f}`);
        const partitions = Array.from({ length: n.partitions }, (_, i) => Object.freeze(files.slice(Math.floor((i * files.length) / n.partitions), Math.floor(((i + 1) * files.length) / n.partitions))));
        return Object.freeze({ kind: 'parquet_rows', id: n.id, partitions: Object.freeze(partitions) });
      })();
      done.set(n.id, parts);
    }
    return parts;
  };
  return walk(node);
}
