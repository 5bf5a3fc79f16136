// Tasks and stage graphs as versioned JSON: validated on load, with the path of a bad field in the error, and
// far below Lambda's payload limit because they reference data instead of carrying it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, col, functions as F } from '../../core/sdk/index.ts';
import type { StageGraph } from '../../core/physical/stages.ts';
import { deserializeStageGraph, deserializeTask, describeTask, serializeStageGraph, serializeTask } from '../../core/physical/task.ts';
import { generateTpch } from '../../bench/tpch/generate.ts';

let dir: string;
let graph: StageGraph;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-task-'));
  const files = await generateTpch({ scaleFactor: 0.01, outDir: dir, tables: ['lineitem', 'orders'] });
  const session = Session.local();
  const lineitem = await session.read.parquet(files.lineitem.path);
  const orders = await session.read.parquet(files.orders.path);
  const df = lineitem
    .join(orders, col('l_orderkey').eq(col('o_orderkey')))
    .groupBy('o_orderpriority')
    .agg(F.sum('l_extendedprice').alias('revenue'), F.countDistinct('l_suppkey').alias('suppliers'))
    .orderBy(col('revenue').desc());
  graph = await session.stageGraph(df.plan, 128 * 1024);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('task descriptions', () => {
  it('name their splits, input partitions and output, and round-trip through JSON', () => {
    const scan = graph.stages.find((s) => s.splits !== null && s.tasks > 1)!;
    const t = describeTask(graph, 'job-1', scan.id, 1);
    expect(t.splits).toEqual(scan.splits![1]);
    expect(t.inputs.every((i) => i.partition === null || i.partition === 1)).toBe(true);
    const json = serializeTask(t);
    expect(json.length).toBeLessThan(64 * 1024);
    expect(deserializeTask(json)).toEqual(t);
    const consumer = graph.stages.find((s) => s.inputs.length > 0)!;
    const c = describeTask(graph, 'job-1', consumer.id, 0, 2);
    expect(c.attempt).toBe(2);
    expect(c.inputs.map((i) => i.stage)).toEqual(consumer.inputs);
    expect(() => describeTask(graph, 'job-1', consumer.id, consumer.tasks)).toThrow(/has \d+ tasks/);
  });

  it('rejects malformed tasks with the field path', () => {
    const t = JSON.parse(serializeTask(describeTask(graph, 'job-1', 0, 0)));
    expect(() => deserializeTask({ ...t, version: 2 })).toThrow(/invalid task at version/);
    const bad = structuredClone(t);
    bad.output = { kind: 'zigzag' };
    expect(() => deserializeTask(bad)).toThrow(/invalid task at output/);
    const badPlan = structuredClone(t);
    badPlan.plan.kind = 'teleport';
    expect(() => deserializeTask(badPlan)).toThrow(/invalid task at plan/);
    expect(() => deserializeTask('{')).toThrow(/not valid JSON/);
  });
});

describe('stage graphs', () => {
  it('round-trip through validated JSON', () => {
    expect(deserializeStageGraph(serializeStageGraph(graph))).toEqual(graph);
    const broken = JSON.parse(serializeStageGraph(graph));
    broken.stages[0].tasks = 0;
    expect(() => deserializeStageGraph(broken)).toThrow(/invalid stage graph at stages\[0\]\.tasks/);
  });
});
