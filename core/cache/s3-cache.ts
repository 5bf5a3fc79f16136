// Cache entries on S3: the materialized output of a persisted plan, shared by every session and process that
// can read the bucket. An entry is a folder `<root>/<entry>/` named by the plan's fingerprint and a hash of its
// inputs' versions (size and ETag on S3), so a changed input names a different entry and a stale one is never
// read. It holds the Parquet parts and `_SUCCESS` a job wrote there, then `_cache.json` — the entry's manifest
// (plan fingerprint, inputs, files, rows, creation and expiry times) — written last in one PUT: an entry without
// it is incomplete and ignored. Expired entries are ignored when read (s3rver has no lifecycle rules; on AWS the
// bucket's lifecycle rule for the prefix removes them, see infra/aws/wiring.ts).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type FileStore, storeFor } from '../io/file-store.ts';
import { DEFAULT_BUCKET, ENV } from '../io/object-store.ts';
import { readManifest } from '../io/output-manifest.ts';
import type { JobInfo } from '../sdk/remote.ts';
import { AnalysisError, ExecutionError } from '../types/errors.ts';
import { validate } from '../types/validate.ts';

export const ENTRY_MANIFEST = '_cache.json';

/** How long an entry is served (the lifecycle rule on AWS expires the prefix after the same time). */
export const DEFAULT_CACHE_TTL_HOURS = 7 * 24;

export interface CacheEntryManifest {
  readonly version: 1;
  /** The folder name: `<plan fingerprint>-<inputs hash>`. */
  readonly entry: string;
  readonly fingerprint: string;
  /** Every file the plan reads, at the version the entry was computed from. */
  readonly inputs: readonly { readonly path: string; readonly version: string }[];
  /** Parquet parts, relative to the entry's folder. */
  readonly files: readonly string[];
  readonly rows: number;
  readonly bytes: number;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** The job that computed it. */
  readonly jobId: string;
  /** What was persisted: a DataFrame's plan (the default) or an RDD (rows are then chunks of records). */
  readonly kind?: 'dataframe' | 'rdd';
  /** RDD entries: partition p's Parquet file (a full URI; null for an empty partition). */
  readonly partitions?: readonly (string | null)[];
}

const manifestSchema = z.object({
  version: z.literal(1),
  entry: z.string().regex(/^[0-9a-f]{16}-[0-9a-f]{12}$/),
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  inputs: z.array(z.object({ path: z.string(), version: z.string() })),
  files: z.array(z.string().min(1)),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  createdAt: z.string(),
  expiresAt: z.string(),
  jobId: z.string(),
  kind: z.enum(['dataframe', 'rdd']).optional(),
  partitions: z.array(z.string().min(1).nullable()).optional(),
});

/** The cache root: `SQUALL_CACHE_ROOT`, else `s3://<SQUALL_BUCKET or squall>/cache`. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['SQUALL_CACHE_ROOT'] ?? `s3://${env[ENV.bucket] ?? DEFAULT_BUCKET}/cache`;
}

/** An entry's folder name for a plan fingerprint and its inputs' versions. */
export function entryName(fingerprint: string, inputs: readonly { path: string; version: string }[]): string {
  const h = createHash('sha256').update(inputs.map((v) => `${v.path}@${v.version}`).join('\n')).digest('hex').slice(0, 12);
  return `${fingerprint}-${h}`;
}

export function entryUri(root: string, entry: string): string {
  return `${root.replace(/\/+$/, '')}/${entry}`;
}

async function readText(store: FileStore, path: string): Promise<string | null> {
  const info = await store.stat(path);
  if (!info || info.kind !== 'file') return null;
  return new TextDecoder().decode(await store.readRange(path, 0, info.size));
}

/** An entry's manifest, or null when the entry does not exist or is incomplete. A manifest that is not one fails. */
export async function readEntry(root: string, entry: string): Promise<CacheEntryManifest | null> {
  const dir = entryUri(root, entry);
  const store = storeFor(dir);
  const path = store.join(dir, ENTRY_MANIFEST);
  const text = await readText(store, path);
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AnalysisError(`cache entry manifest ${path} is not JSON: ${(e as Error).message}`);
  }
  return validate<CacheEntryManifest>(manifestSchema, raw, `cache entry manifest ${path}`);
}

export function isExpired(m: CacheEntryManifest, now = Date.now()): boolean {
  return Date.parse(m.expiresAt) <= now;
}

/** The fields of an entry's manifest that come from the job that wrote its folder `dir`. */
export type WrittenEntry = Pick<CacheEntryManifest, 'files' | 'rows' | 'bytes' | 'createdAt' | 'expiresAt' | 'jobId'>;

/**
 * What job `info` wrote into the entry folder `dir` (its output manifest's parts, rows, bytes), stamped now
 * and expiring after `ttlHours`; refused when the job left no output manifest there.
 */
export async function writtenEntry(dir: string, info: JobInfo, ttlHours: number): Promise<WrittenEntry> {
  const written = await readManifest(storeFor(dir), dir);
  if (!written) throw new ExecutionError(`job ${info.jobId} wrote no output manifest in cache entry ${dir}`);
  const now = new Date();
  return {
    files: written.files,
    rows: info.rows,
    bytes: info.stages[info.stages.length - 1]?.bytesWritten ?? 0,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlHours * 3600_000).toISOString(),
    jobId: info.jobId,
  };
}

/** Publishes an entry whose parts are already in its folder: the manifest, in one PUT. */
export async function commitEntry(root: string, manifest: CacheEntryManifest): Promise<void> {
  const dir = entryUri(root, manifest.entry);
  const store = storeFor(dir);
  await store.writeFile(store.join(dir, ENTRY_MANIFEST), JSON.stringify(manifest, null, 1) + '\n');
}

/** One folder under the root: its manifest, or null for an incomplete entry (a job that did not finish). */
export interface ListedEntry {
  readonly entry: string;
  readonly manifest: CacheEntryManifest | null;
}

/** Every entry folder under the root, complete or not, by name. */
export async function listEntries(root: string): Promise<ListedEntry[]> {
  const store = storeFor(root);
  const dirs = (await store.list(root.replace(/\/+$/, ''))).filter((e) => e.kind === 'dir');
  return Promise.all(dirs.map(async (d) => ({ entry: d.name, manifest: await readEntry(root, d.name).catch(() => null) })));
}

/** Removes entries: the manifest first, so no reader takes a half-deleted entry for a complete one. */
export async function dropEntry(root: string, entry: string): Promise<void> {
  const dir = entryUri(root, entry);
  const store = storeFor(dir);
  await store.remove(store.join(dir, ENTRY_MANIFEST));
  await store.remove(dir);
}

/**
 * The entries `what` names: a whole entry name, or a plan fingerprint (its entries over every input version),
 * or a unique prefix of either.
 */
export function matchEntries(entries: readonly ListedEntry[], what: string): ListedEntry[] {
  if (!/^[0-9a-f-]{4,}$/.test(what)) throw new AnalysisError(`'${what}' is not a cache fingerprint (hex digits, as 'squall cache list' shows them)`);
  return entries.filter((e) => e.entry.startsWith(what));
}
