// persist/cache in-process: the first action materializes, later actions read the cached output (shown by a
// source rewritten in place with the same size and mtime — the cache still answers from the old content, so
// the file was not read again), and a changed input (new mtime or size) is recomputed, never served stale.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Session, cacheStats, clearCache, col, functions as F, listCached } from '../../core/sdk/index.ts';

let dir: string;
const FIXED_TIME = 1_700_000_000;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-cache-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Rewrites `file` in place (same inode) and gives it the fixed mtime again. */
function rewriteKeepingTime(file: string, text: string): void {
  fs.writeFileSync(file, text);
  fs.utimesSync(file, FIXED_TIME, FIXED_TIME);
}

function csvText(values: readonly number[]): string {
  return 'k,v\n' + values.map((v, i) => `${'abc'[i % 3]},${String(v).padStart(2, '0')}`).join('\n') + '\n';
}

describe('DataFrame cache', () => {
  for (const planning of ['local', 'stages'] as const) {
    test(`the second action reads the cached relation; a changed input is recomputed (${planning})`, async () => {
      const file = path.join(dir, `data-${planning}.csv`);
      const values = Array.from({ length: 60 }, (_, i) => i % 50);
      rewriteKeepingTime(file, csvText(values));
      const session = Session.local({ planning });
      const df = await session.read.option('header', true).csv(file);
      const big = df.filter(col('v').gt(10)).cache();
      expect(big.storageLevel).toBe('MEMORY_AND_DISK');
      const expected = values.filter((v) => v > 10).length;

      expect(await big.count()).toBe(expected);
      expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 0 });

      // A DataFrame built on the cached one reads the relation too, and explain() shows it.
      const perKey = big.groupBy('k').agg(F.count().alias('n'));
      expect(await perKey.explainString()).toMatch(/== Optimized Logical Plan ==[\s\S]*Scan memory:InMemoryRelation#[0-9a-f.]+[\s\S]*== Physical Plan ==[\s\S]*MemoryScan InMemoryRelation#/);
      expect((await perKey.collect()).reduce((n, r) => n + Number(r['n']), 0)).toBe(expected);
      expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 1 });

      // Same size, same mtime, same inode: the identity is unchanged, so the cache answers without reading
      // the file (whose new content would give another count).
      const rewritten = values.map((v) => (v > 10 ? 5 : v));
      rewriteKeepingTime(file, csvText(rewritten));
      expect(await big.count()).toBe(expected);
      expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 2, invalidated: 0 });

      // A new mtime is a new version: recomputed from the file's current content.
      fs.utimesSync(file, FIXED_TIME + 10, FIXED_TIME + 10);
      expect(await big.count()).toBe(0);
      expect(cacheStats(session)).toMatchObject({ materialized: 2, invalidated: 1 });

      // unpersist: computed from the file every time, and explain shows the scan of the file.
      big.unpersist();
      expect(big.storageLevel).toBeNull();
      expect(await big.explainString()).not.toMatch(/InMemoryRelation/);
      expect(await big.count()).toBe(0);
      expect(cacheStats(session).materialized).toBe(2);
    });
  }

  test('a cached DataFrame equal in plan to another is shared; in-memory sources are cached too', async () => {
    const session = Session.local();
    const df = session.createDataFrame([{ a: 1 }, { a: 2 }, { a: 3 }]);
    const doubled = df.select(col('a').multiply(2).alias('b')).persist('MEMORY_ONLY');
    expect(listCached(session)).toMatchObject([{ level: 'MEMORY_ONLY', materialized: false, rows: null }]);
    expect(await doubled.explainString('simple')).toMatch(/MemoryScan InMemoryRelation#/);
    expect((await doubled.collect()).map((r) => Number(r['b']))).toEqual([2, 4, 6]);
    // The same plan built again matches by fingerprint.
    const again = df.select(col('a').multiply(2).alias('b'));
    expect(await again.filter(col('b').gt(2)).count()).toBe(2);
    expect(cacheStats(session)).toMatchObject({ materialized: 1, hits: 1 });
    const [info] = listCached(session);
    expect(info).toMatchObject({ level: 'MEMORY_ONLY', materialized: true, rows: 3 });
    expect(info!.id).toMatch(/^InMemoryRelation#[0-9a-f]{16}$/);
    expect(info!.bytes).toBeGreaterThan(0);
    clearCache(session);
    expect(listCached(session)).toEqual([]);
    expect(doubled.storageLevel).toBeNull();
  });
});

test('a new session persisting the same plan over unchanged files reuses the materialization', async () => {
  const file = path.join(dir, 'shared.csv');
  rewriteKeepingTime(file, csvText([1, 20, 30]));
  const build = async (session: Session) => (await session.read.option('header', true).csv(file)).filter(col('v').gt(10)).cache();
  const first = Session.local();
  expect(await (await build(first)).count()).toBe(2);
  expect(cacheStats(first)).toMatchObject({ materialized: 1, reused: 0 });
  const second = Session.local();
  const again = await build(second);
  rewriteKeepingTime(file, csvText([1, 2, 3]));
  // Same identity: served from the first session's materialization (the rewritten file is not read).
  expect(await again.count()).toBe(2);
  expect(cacheStats(second)).toMatchObject({ materialized: 0, reused: 1 });
  // A changed file is recomputed; unpersist in one session drops the shared entry.
  fs.utimesSync(file, FIXED_TIME + 5, FIXED_TIME + 5);
  expect(await again.count()).toBe(0);
  expect(cacheStats(second)).toMatchObject({ materialized: 1, invalidated: 1 });
  again.unpersist();
  const third = Session.local();
  expect(await (await build(third)).count()).toBe(0);
  expect(cacheStats(third)).toMatchObject({ materialized: 1, reused: 0 });
});

describe('RDD persist', () => {
  test('a persisted RDD is computed once, served from memory, and recomputed when its file changes', async () => {
    const file = path.join(dir, 'lines.txt');
    rewriteKeepingTime(file, 'a b\nc d e\nf\n');
    const session = Session.local();
    const words = (await session.textFile(file)).flatMap((l) => l.split(' ')).persist();
    expect(words.isPersisted).toBe(true);
    expect(await words.count()).toBe(6);
    expect(words.lastMetrics!.persistedNodesWritten).toBe(1);

    const lengths = words.map((w) => w.length);
    expect(await lengths.collect()).toEqual([1, 1, 1, 1, 1, 1]);
    expect(lengths.lastMetrics!.persistedNodesWritten).toBe(0);
    expect(lengths.lastMetrics!.persistedPartitionsRead).toBe(1);
    expect(words.toDebugString()).toMatch(/\[persisted\]/);

    // Same identity (size, mtime, inode): served from memory, the file is not read.
    rewriteKeepingTime(file, 'x y\nz w v\nu\n');
    expect(await words.collect()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);

    // Changed: recomputed from the new content.
    fs.appendFileSync(file, 'g h\n');
    expect(await words.collect()).toEqual(['x', 'y', 'z', 'w', 'v', 'u', 'g', 'h']);
    expect(words.lastMetrics!.persistedNodesWritten).toBe(1);

    words.unpersist();
    expect(words.isPersisted).toBe(false);
    expect(await words.count()).toBe(8);
    expect(words.lastMetrics!.persistedPartitionsRead).toBe(0);
  });

  test('a persisted shuffle output is reused by later actions without shuffling again', async () => {
    const session = Session.local();
    const counts = session
      .parallelize(['a', 'b', 'a', 'c', 'a'], 2)
      .map((w) => [w, 1] as [string, number])
      .reduceByKey((a, b) => a + b)
      .cache();
    expect(new Map(await counts.collect())).toEqual(new Map([['a', 3], ['b', 1], ['c', 1]]));
    expect(counts.lastMetrics!.shuffles).toBe(1);
    const top = counts.filter(([, n]) => n > 1);
    expect(await top.collect()).toEqual([['a', 3]]);
    expect(top.lastMetrics!.shuffles).toBe(0);
  });
});
