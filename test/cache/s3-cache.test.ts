// df.cache() in remote sessions, through the local stack: the first action computes the persisted plan into its
// S3 cache entry (Parquet + manifest), later actions — also in a new session — scan the entry and never read the
// source file again (counted at s3rver), explain() shows the entry's scan, a changed source (new ETag) makes a
// new entry, an expired entry is recomputed, and `squall cache list|drop` (child processes) list and remove them.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateTpch } from '../../bench/tpch/generate.ts';
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { Session, cacheStats, col, functions as F, listCached } from '../../core/sdk/index.ts';
import type { LocalStack } from '../../infra/local-stack/index.ts';
import { startApiStack, stopApiStack } from '../support/api-stack.ts';
import '../infra/support.ts';

const KEY = 'cache-remote-test-key-0123456789';
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'core', 'cli', 'squall.mjs');
let stack: LocalStack;
let store: S3ObjectStore;
let dir: string;
let sourceGets = 0;
let cacheRoot: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'squall-s3-cache-'));
  await generateTpch({ scaleFactor: 0.01, outDir: join(dir, 'a'), tables: ['lineitem'] });
  await generateTpch({ scaleFactor: 0.01, outDir: join(dir, 'b'), tables: ['lineitem'], seed: 2 });
  ({ stack, store } = await startApiStack(KEY));
  cacheRoot = `s3://${stack.bucket}/cache`;
  await store.put(`s3://${stack.bucket}/data/lineitem.parquet`, await readFile(join(dir, 'a', 'lineitem.parquet')));
  stack.s3.onRequest((r) => {
    if (r.key === 'data/lineitem.parquet' && r.operation === 'GetObject') sourceGets++;
  });
}, 240_000);

afterAll(async () => {
  await stopApiStack(stack, store);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function connect(ttlHours?: number): Session {
  // At most 3 executors per job, so the API and coordinator keep workers of the stack's 6 (no 429s on a loaded machine).
  return Session.connect({
    endpoint: stack.apiEndpoint!,
    apiKey: KEY,
    pollMs: 100,
    jobOptions: { scheduler: { concurrency: 3 } },
    cache: { root: cacheRoot, ...(ttlHours !== undefined ? { ttlHours } : {}) },
  });
}

async function summary(session: Session, path: string) {
  const lineitem = await session.read.parquet(path);
  return lineitem
    .filter(col('l_shipdate').leq(F.date('1998-09-02')))
    .groupBy('l_returnflag', 'l_linestatus')
    .agg(F.sum('l_quantity').alias('sum_qty'), F.count().alias('n'));
}

const sorted = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => `${a.l_returnflag}${a.l_linestatus}`.localeCompare(`${b.l_returnflag}${b.l_linestatus}`));

function squall(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...stack.env(), SQUALL_CACHE_ROOT: cacheRoot, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (((error as { code?: unknown }).code as number) ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

describe('df.cache() in a remote session (S3 cache entries)', () => {
  test('later actions and new sessions scan the entry, never the source; a changed source is recomputed; the CLI lists and drops entries', async () => {
    const source = `s3://${stack.bucket}/data/lineitem.parquet`;
    const expected = sorted(await (await summary(Session.local(), join(dir, 'a', 'lineitem.parquet'))).collect());

    const session = connect();
    const df = (await summary(session, source)).cache();
    expect(sorted(await df.collect())).toEqual(expected);
    expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 0 });
    expect(listCached(session)).toEqual([
      expect.objectContaining({ materialized: true, rows: expected.length, id: expect.stringMatching(new RegExp(`^${cacheRoot}/[0-9a-f]{16}-[0-9a-f]{12}$`)) }),
    ]);

    sourceGets = 0;
    const top = df.filter(col('n').gt(1000)).orderBy('l_returnflag');
    expect((await top.collect()).length).toBe(expected.filter((r) => (r.n as number) > 1000).length);
    expect(await df.count()).toBe(expected.length);
    expect(sourceGets).toBe(0);
    expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 2 });
    const plan = await top.explainString('simple');
    expect(plan).toMatch(new RegExp(`ParquetScan .*cache/[0-9a-f]{16}-[0-9a-f]{12}`));
    expect(plan).not.toContain('data/lineitem.parquet');

    // Another session over the unchanged file reuses the entry.
    const other = connect();
    const again = (await summary(other, source)).cache();
    expect(sorted(await again.collect())).toEqual(expected);
    expect(sourceGets).toBe(0);
    expect(cacheStats(other)).toMatchObject({ materialized: 0, reused: 1 });

    // A new file under the same name (new ETag): computed again from the new data, into a new entry.
    await store.put(source, await readFile(join(dir, 'b', 'lineitem.parquet')));
    const changed = sorted(await (await summary(Session.local(), join(dir, 'b', 'lineitem.parquet'))).collect());
    expect(changed).not.toEqual(expected);
    expect(sorted(await df.collect())).toEqual(changed);
    expect(sourceGets).toBeGreaterThan(0);
    expect(cacheStats(session)).toMatchObject({ materialized: 2, invalidated: 1 });

    const listed = await squall(['cache', 'list', '--json']);
    expect(listed.err).toBe('');
    const entries = JSON.parse(listed.out) as { entry: string; state: string; fingerprint: string; rows: number; inputs: { path: string }[] }[];
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.state === 'live' && e.rows === expected.length && e.inputs[0]!.path === source)).toBe(true);
    expect(new Set(entries.map((e) => e.fingerprint)).size).toBe(1);
    const table = await squall(['cache', 'list']);
    expect(table.out).toMatch(/^FINGERPRINT\s+KIND\s+STATE\s+ROWS/);
    expect(table.out).toMatch(/dataframe\s+live\s+\d+/);
    expect(table.out).toContain(entries[0]!.entry);

    const dropOne = await squall(['cache', 'drop', entries[0]!.entry]);
    expect(dropOne).toMatchObject({ code: 0, out: 'dropped 1 cache entry\n' });
    expect(await squall(['cache', 'drop', '--expired'])).toMatchObject({ code: 0, out: 'dropped 0 cache entries\n' });
    expect((await squall(['cache', 'drop', '--all', '--expired'])).err).toBe('error: give one of a fingerprint, --all and --expired\n');
    const unknown = await squall(['cache', 'drop', 'ffffffff']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe(`error: no cache entry under ${cacheRoot} matches 'ffffffff'\n`);
    expect((await squall(['cache', 'drop', '--all'])).out).toBe('dropped 1 cache entry\n');
    expect((await squall(['cache', 'list'])).out).toBe('(no cache entries)\n');
  }, 240_000);

  test('an expired entry is not served: it is removed and computed again', async () => {
    const session = connect(1e-7);
    const source = `s3://${stack.bucket}/data/lineitem.parquet`;
    const df = (await summary(session, source)).persist();
    const first = await df.collect();
    await new Promise((r) => setTimeout(r, 20));
    sourceGets = 0;
    expect(sorted(await df.collect())).toEqual(sorted(first));
    expect(sourceGets).toBeGreaterThan(0);
    expect(cacheStats(session)).toMatchObject({ materialized: 2, hits: 0 });
    // The second entry has expired too by now: `drop --expired` removes it, as a lifecycle rule would.
    await new Promise((r) => setTimeout(r, 20));
    expect((await squall(['cache', 'list', '--json'])).out).toMatch(/"state": "expired"/);
    expect(await squall(['cache', 'drop', '--expired'])).toMatchObject({ code: 0, out: 'dropped 1 cache entry\n' });
    expect((await squall(['cache', 'list'])).out).toBe('(no cache entries)\n');
  }, 240_000);
});
