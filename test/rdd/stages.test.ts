// RDD lineage cut into stages at shuffles and run task by task through task JSON and a shuffle store (the
// shape of a cluster run): the same results as the in-process runner, tasks that carry no upstream shuffle
// lineage, and map-side combining visible in the store's bytes.
import { describe, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { MemoryShuffleStore, planRddStages, runStagesLocally } from '../../core/rdd/index.ts';

describe('RDD stages', () => {
  const session = Session.local();
  const words = session.parallelize(
    Array.from({ length: 400 }, (_, i) => `w${(i * 7) % 23} w${(i * 3) % 11} w${i % 5}`),
    4,
  ).flatMap((l) => l.split(' '));

  test('word count: one map stage and a result stage, equal to collect()', async () => {
    const counts = words.map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 3);
    const stages = planRddStages(counts.node);
    expect(stages.map((s) => s.kind)).toEqual(['map', 'result']);
    expect(stages[1]!.parents).toEqual([0]);
    const tasks: string[] = [];
    const store = new MemoryShuffleStore();
    const parts = await runStagesLocally(counts.node, store, { onTask: (json) => tasks.push(json) });
    expect(parts).toEqual(await counts.glom().collect());
    expect(tasks).toHaveLength(4 + 3);
    // Reduce-side tasks read the shuffle; none carries the lineage above it.
    for (const t of tasks.slice(4)) {
      expect(t).toMatch(/"kind":"shuffle_read"/);
      expect(t).not.toMatch(/"kind":"parallelize"/);
    }
    const grouped = new MemoryShuffleStore();
    await runStagesLocally(words.map((w) => [w, 1] as [string, number]).groupByKey(3).node, grouped);
    expect(store.bytesWritten / grouped.bytesWritten).toBeLessThan(0.5);
  });

  test('joins of shuffled sides, distinct and sortBy (with its sampling pass) equal collect()', async () => {
    const counts = words.map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b);
    const lengths = words.distinct().keyBy((w) => w).mapValues((w) => w.length);
    const joined = counts.join(lengths, 2);
    expect(planRddStages(joined.node).map((s) => s.kind)).toEqual(['map', 'map', 'map', 'map', 'result']);
    const sortRows = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
    expect(sortRows((await runStagesLocally(joined.node)).flat())).toEqual(sortRows(await joined.collect()));
    const sorted = counts.sortBy(([w, n]) => [-n, w], true, 3);
    expect((await runStagesLocally(sorted.node)).flat()).toEqual(await sorted.collect());
    const desc = session.parallelize(Array.from({ length: 300 }, (_, i) => (i * 37) % 101), 5).sortBy((x) => x, false, 4);
    expect((await runStagesLocally(desc.node)).flat()).toEqual(await desc.collect());
  });
});
