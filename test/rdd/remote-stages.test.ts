// RDD jobs compiled for the executors, without a stack: the stage graph a lineage becomes (map stages before
// their consumers, partition_id outputs sized to the consumer's tasks, bucket targets through union and
// coalesce), the zod check of a job's `rdd` naming the bad field, and record chunks bounded in bytes.
import * as v8 from 'node:v8';
import { describe, expect, test } from 'vitest';
import { compileRddJob, parseRddStageSpec, rddJobJson } from '../../core/rdd/remote-stages.ts';
import { serializeChunks } from '../../core/rdd/stage-exec.ts';
import { Session } from '../../core/sdk/index.ts';
import { AnalysisError } from '../../core/types/errors.ts';

const session = Session.local();

describe('compileRddJob', () => {
  test('a reduceByKey unioned with itself and coalesced: map stages first, buckets targeted at the tasks that read them', async () => {
    const counts = session.parallelize(['a', 'b', 'a', 'c', 'd', 'a'], 3).map((w) => [w, 1] as [string, number]).reduceByKey((a, b) => a + b, 4);
    const rdd = counts.union(counts.mapValues((n) => n * 10)).coalesce(3);
    const graph = await compileRddJob(rddJobJson(rdd.node, []));
    expect(graph.stages.map((s) => [s.id, s.output.kind, s.tasks, [...s.inputs]])).toEqual([
      [0, 'partition_id', 3, []],
      [1, 'result', 3, [0]],
    ]);
    expect(graph.stages[0]!.output).toEqual({ kind: 'partition_id', column: 0, partitions: 3 });
    const plan = graph.stages[0]!.plan;
    if (plan.kind !== 'rdd') throw new Error('not an rdd stage');
    const spec = parseRddStageSpec(plan.task);
    // 8 partitions (4 + 4) coalesced into 3 tasks: [0, 1], [2, 3, 4], [5, 6, 7]; bucket b is read at positions b and 4 + b.
    expect(spec.output).toEqual({ kind: 'buckets', targets: [[0, 1], [0, 2], [1, 2], [1, 2]] });
    // The map task: the stage's lineage (parallelize → map), then map-side combining and bucketing.
    expect(spec.node.kind).toBe('narrow');
    expect(spec.steps.map((s) => s.op)).toEqual(['combine', 'bucket']);
  });

  test("a job's rdd is checked, naming the field", async () => {
    const rdd = session.parallelize([1, 2, 3], 2).map((x) => x + 1);
    const json = rddJobJson(rdd.node, []) as { node: { steps: { fn: { source: unknown } }[] } };
    json.node.steps[0]!.fn.source = 42;
    await expect(compileRddJob(json)).rejects.toThrow(AnalysisError);
    await expect(compileRddJob(json)).rejects.toThrow(/invalid RDD job at node\.steps\[0\]/);
    await expect(compileRddJob({ version: 2, node: {}, steps: [] })).rejects.toThrow(/invalid RDD job at version/);
  });
});

describe('serializeChunks', () => {
  test('chunks hold at most 4,096 records and about 256 KB, in order; a larger record is a chunk of its own', () => {
    const small = Array.from({ length: 10_000 }, (_, i) => [`w${i}`, i]);
    const chunks = serializeChunks(small);
    expect(chunks).toHaveLength(3);
    expect(chunks.flatMap((c) => v8.deserialize(Buffer.from(c, 'base64')) as unknown[])).toEqual(small);
    const big = Array.from({ length: 40 }, (_, i) => ({ i, text: 'x'.repeat(50_000) }));
    const bigChunks = serializeChunks([...big, { i: 40, text: 'y'.repeat(600_000) }]);
    for (const c of bigChunks.slice(0, -1)) expect(Buffer.from(c, 'base64').length).toBeLessThanOrEqual(256 << 10);
    expect((v8.deserialize(Buffer.from(bigChunks.at(-1)!, 'base64')) as unknown[]).length).toBe(1);
    expect(bigChunks.flatMap((c) => (v8.deserialize(Buffer.from(c, 'base64')) as { i: number }[]).map((r) => r.i))).toEqual(Array.from({ length: 41 }, (_, i) => i));
  });
});
