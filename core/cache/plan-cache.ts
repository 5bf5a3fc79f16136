// df.cache() / df.persist() for in-process sessions (remote sessions: ./remote-cache.ts, entries on S3). A persisted plan is marked by its fingerprint (a hash
// of the plan, which is plain data); when an action runs, every persisted subtree of its plan is replaced by a
// scan of an in-memory relation holding that subtree's output, computed on first use. Each materialization is
// keyed by the fingerprint plus the versions of the files the subtree scans (size, mtime and inode locally,
// ETag on S3), so a changed input is recomputed, never served stale. explain() shows the substitution as a
// memory scan of `InMemoryRelation#<fingerprint>`. Plans that read only files share their materializations
// across the sessions of the process.
import { createHash } from 'node:crypto';
import type * as arrow from 'apache-arrow';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { planInputs, withInputs } from '../plan/logical-plan.ts';
import { planSchema } from '../plan/analyzer.ts';
import { type Schema, schema as makeSchema, field } from '../types/schema.ts';
import { planFiles, planInputVersions } from './versions.ts';

/** Spark's storage levels; in-process every level keeps the output in memory (as Arrow batches). */
export type StorageLevel = 'MEMORY_ONLY' | 'MEMORY_AND_DISK' | 'DISK_ONLY' | 'MEMORY_ONLY_SER' | 'MEMORY_AND_DISK_SER';

/** The prefix of cached relations' memory-table ids (what explain() shows). */
export const CACHED_RELATION = 'InMemoryRelation#';

interface Materialized {
  readonly id: string;
  /** Fingerprint plus input versions. */
  readonly key: string;
  readonly schema: Schema;
  readonly batches: readonly arrow.RecordBatch[];
  readonly rows: number;
  readonly bytes: number;
}

interface Persisted {
  readonly fingerprint: string;
  readonly level: StorageLevel;
  current: Materialized | null;
}

export interface CacheStats {
  /** Persisted plans computed (first use, or again after an input changed). */
  materialized: number;
  /** Actions' uses of an already materialized relation. */
  hits: number;
  /** Materializations dropped because an input file changed. */
  invalidated: number;
  /** Materializations taken over from another session of the process (same plan, same input versions). */
  reused: number;
}

interface SessionCache {
  readonly persisted: Map<string, Persisted>;
  readonly tables: Map<string, Materialized>;
  readonly materializing: Set<string>;
  readonly stats: CacheStats;
}

const caches = new WeakMap<object, SessionCache>();

function cacheOf(session: object): SessionCache {
  let c = caches.get(session);
  if (!c) {
    c = { persisted: new Map(), tables: new Map(), materializing: new Set(), stats: { materialized: 0, hits: 0, invalidated: 0, reused: 0 } };
    caches.set(session, c);
  }
  return c;
}

/**
 * Materializations of plans that read only files, shared by every session of the process (as Spark's cache
 * manager is shared by the sessions of one application): a new session persisting the same plan over the same
 * file versions reuses them. At most `SHARED_CACHE.maxBytes`, least recently used dropped first.
 */
export const SHARED_CACHE = { maxBytes: 256 << 20 };
const shared = new Map<string, Materialized>();
let sharedBytes = 0;

function sharedGet(key: string): Materialized | undefined {
  const m = shared.get(key);
  if (m) {
    shared.delete(key);
    shared.set(key, m);
  }
  return m;
}

function sharedDrop(key: string): void {
  const m = shared.get(key);
  if (m) {
    shared.delete(key);
    sharedBytes -= m.bytes;
  }
}

function sharedPut(m: Materialized): void {
  if (m.bytes > SHARED_CACHE.maxBytes) return;
  sharedDrop(m.key);
  shared.set(m.key, m);
  sharedBytes += m.bytes;
  for (const [key] of shared) {
    if (sharedBytes <= SHARED_CACHE.maxBytes) break;
    sharedDrop(key);
  }
}

/** Whether a plan reads only files (in-memory tables belong to their session). */
function readsOnlyFiles(plan: LogicalPlan): boolean {
  if (plan.kind === 'scan') return plan.source.format !== 'memory';
  return planInputs(plan).every(readsOnlyFiles);
}

const fingerprints = new WeakMap<LogicalPlan, string>();

/** A stable hash of a plan (plans are plain data; bigint literals as their digits). */
export function planFingerprint(plan: LogicalPlan): string {
  let f = fingerprints.get(plan);
  if (!f) {
    const text = JSON.stringify(plan, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v));
    f = createHash('sha256').update(text).digest('hex').slice(0, 16);
    fingerprints.set(plan, f);
  }
  return f;
}

/**
 * Whether a plan's output can stand in as a scan: a scan's fields carry one qualifier (its alias) and are read
 * by name, so an output mixing qualifiers or repeating a name is computed as usual instead of cached.
 */
export function substitutable(s: Schema): boolean {
  const qualifiers = new Set(s.fields.map((f) => f.qualifier ?? ''));
  const names = new Set(s.fields.map((f) => f.name.toLowerCase()));
  return qualifiers.size <= 1 && names.size === s.fields.length;
}

/** What a remote session's persisted plan was last read from: its S3 cache entry (set by ./remote-cache.ts). */
export interface RemoteMaterialization {
  /** The entry's folder URI. */
  readonly id: string;
  readonly entry: string;
  readonly rows: number;
  readonly bytes: number;
}

const remote = new WeakMap<object, Map<string, RemoteMaterialization>>();

/** A remote session's materializations by plan fingerprint. */
export function remoteMaterializations(session: object): Map<string, RemoteMaterialization> {
  let m = remote.get(session);
  if (!m) remote.set(session, (m = new Map()));
  return m;
}

/** A session's persisted plans and counters (remote sessions keep their materializations on S3: ./remote-cache.ts). */
export function sessionCacheState(session: object): { readonly persisted: ReadonlyMap<string, unknown>; readonly stats: CacheStats } {
  return cacheOf(session);
}

export function persistPlan(session: object, plan: LogicalPlan, level: StorageLevel = 'MEMORY_AND_DISK'): void {
  const c = cacheOf(session);
  const fp = planFingerprint(plan);
  if (!c.persisted.has(fp)) c.persisted.set(fp, { fingerprint: fp, level, current: null });
}

export function unpersistPlan(session: object, plan: LogicalPlan): void {
  const c = cacheOf(session);
  const fp = planFingerprint(plan);
  const p = c.persisted.get(fp);
  if (p?.current) {
    c.tables.delete(p.current.id);
    sharedDrop(p.current.key);
  }
  c.persisted.delete(fp);
  remote.get(session)?.delete(fp);
}

/** The storage level `plan` is persisted at, or null. */
export function storageLevelOf(session: object, plan: LogicalPlan): StorageLevel | null {
  return cacheOf(session).persisted.get(planFingerprint(plan))?.level ?? null;
}

/** Drops every cached relation of the session. */
export function clearCache(session: object): void {
  const c = cacheOf(session);
  for (const p of c.persisted.values()) if (p.current) sharedDrop(p.current.key);
  c.persisted.clear();
  c.tables.clear();
  remote.delete(session);
}

/** One persisted plan of a session, as cached-relation listings show it. */
export interface CachedRelationInfo {
  /** `InMemoryRelation#<fingerprint>` before the first action, with the input versions' hash after (remote sessions: the S3 cache entry's folder). */
  readonly id: string;
  readonly fingerprint: string;
  readonly level: StorageLevel;
  readonly materialized: boolean;
  readonly rows: number | null;
  readonly bytes: number | null;
}

/** The session's persisted plans, materialized or not. */
export function listCached(session: object): CachedRelationInfo[] {
  const c = caches.get(session);
  if (!c) return [];
  const onS3 = remote.get(session);
  return [...c.persisted.values()].map((p) => {
    const r = onS3?.get(p.fingerprint);
    return {
      id: p.current?.id ?? r?.id ?? `${CACHED_RELATION}${p.fingerprint}`,
      fingerprint: p.fingerprint,
      level: p.level,
      materialized: p.current !== null || r !== undefined,
      rows: p.current?.rows ?? r?.rows ?? null,
      bytes: p.current?.bytes ?? r?.bytes ?? null,
    };
  });
}

export function cacheStats(session: object): Readonly<CacheStats> {
  return cacheOf(session).stats;
}

/** The materialized relation behind a memory scan id, for the session's memoryTable(). */
export function cachedTable(session: object, id: string): { readonly schema: Schema; readonly batches: readonly arrow.RecordBatch[] } | undefined {
  if (!id.startsWith(CACHED_RELATION)) return undefined;
  return caches.get(session)?.tables.get(id);
}

function relationScan(id: string, s: Schema, m: Materialized | null): LogicalPlan {
  const qualifier = s.fields[0]?.qualifier;
  const bare = makeSchema(s.fields.map((f) => field(f.name, f.type, f.nullable)));
  return Object.freeze({
    kind: 'scan',
    source: Object.freeze({ format: 'memory', id }),
    schema: bare,
    projection: null,
    filters: [],
    ...(qualifier ? { alias: qualifier } : {}),
    ...(m ? { statistics: { rowCount: m.rows, sizeInBytes: m.bytes } } : {}),
  }) as LogicalPlan;
}

async function inputKey(fp: string, plan: LogicalPlan): Promise<string> {
  if (planFiles(plan).length === 0) return fp;
  const versions = await planInputVersions(plan);
  return `${fp}:${createHash('sha256').update(versions.map((v) => `${v.path}@${v.version}`).join('\n')).digest('hex').slice(0, 12)}`;
}

function batchBytes(batches: readonly arrow.RecordBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.data.byteLength;
  return n;
}

/**
 * `plan` with each persisted subtree replaced by a scan of its materialized output; `run` computes a
 * subtree's batches (the session's own execution, where nested cached subtrees are substituted in turn).
 */
export async function substituteCached(session: object, plan: LogicalPlan, run: (plan: LogicalPlan) => Promise<readonly arrow.RecordBatch[]>): Promise<LogicalPlan> {
  const c = caches.get(session);
  if (!c || c.persisted.size === 0) return plan;
  const walk = async (p: LogicalPlan): Promise<LogicalPlan> => {
    const fp = planFingerprint(p);
    const persisted = c.persisted.get(fp);
    if (persisted && !c.materializing.has(fp)) {
      const s = planSchema(p);
      if (substitutable(s)) {
        const key = await inputKey(fp, p);
        let m = persisted.current;
        if (m && m.key !== key) {
          c.tables.delete(m.id);
          sharedDrop(m.key);
          persisted.current = m = null;
          c.stats.invalidated++;
        }
        const reused = m ? undefined : sharedGet(key);
        if (m) c.stats.hits++;
        else if (reused) {
          m = reused;
          persisted.current = m;
          c.tables.set(m.id, m);
          c.stats.reused++;
        } else {
          c.materializing.add(fp);
          let batches: readonly arrow.RecordBatch[];
          try {
            batches = await run(p);
          } finally {
            c.materializing.delete(fp);
          }
          const id = `${CACHED_RELATION}${key.replace(':', '.')}`;
          m = { id, key, schema: makeSchema(s.fields.map((f) => field(f.name, f.type, f.nullable))), batches, rows: batches.reduce((n, b) => n + b.numRows, 0), bytes: batchBytes(batches) };
          // unpersist() while this ran wins.
          if (c.persisted.get(fp) === persisted) {
            persisted.current = m;
            c.tables.set(id, m);
            if (readsOnlyFiles(p)) sharedPut(m);
          }
          c.stats.materialized++;
        }
        return relationScan(m.id, s, m);
      }
    }
    const inputs = planInputs(p);
    if (inputs.length === 0) return p;
    const replaced = [];
    let changed = false;
    for (const i of inputs) {
      const r = await walk(i);
      if (r !== i) changed = true;
      replaced.push(r);
    }
    return changed ? withInputs(p, replaced) : p;
  };
  return walk(plan);
}

/** What explain() shows: persisted subtrees as scans of their in-memory relation, whether computed yet or not. */
export function explainCached(session: object, plan: LogicalPlan): LogicalPlan {
  const c = caches.get(session);
  if (!c || c.persisted.size === 0) return plan;
  const walk = (p: LogicalPlan): LogicalPlan => {
    const fp = planFingerprint(p);
    const persisted = c.persisted.get(fp);
    if (persisted) {
      const s = planSchema(p);
      if (substitutable(s)) return relationScan(persisted.current?.id ?? `${CACHED_RELATION}${fp}`, s, persisted.current);
    }
    const inputs = planInputs(p);
    if (inputs.length === 0) return p;
    const replaced = inputs.map(walk);
    return replaced.some((r, i) => r !== inputs[i]) ? withInputs(p, replaced) : p;
  };
  return walk(plan);
}
