// The stage graph: distributed physical plans cut at exchanges, with task counts from input sizes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, col, functions as F, type DataFrame } from '../../core/sdk/index.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { DISTRIBUTED_PLANNING, createPhysicalPlan } from '../../core/physical/planner.ts';
import { planSplits, planStages, scannedFileSizes, stageGraphText, type StageGraph } from '../../core/physical/stages.ts';
import { generateTpch } from '../../bench/tpch/generate.ts';

let dir: string;
let session: Session;
let lineitem: DataFrame;
let orders: DataFrame;
let nation: DataFrame;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'squall-stages-'));
  const files = await generateTpch({ scaleFactor: 0.01, outDir: dir, tables: ['lineitem', 'orders', 'nation'] });
  session = Session.local();
  lineitem = await session.read.parquet(files.lineitem.path);
  orders = await session.read.parquet(files.orders.path);
  nation = await session.read.parquet(files.nation.path);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stages(
  df: DataFrame,
  options: Partial<typeof DISTRIBUTED_PLANNING> & { broadcastThreshold?: number } = {},
): Promise<StageGraph> {
  const optimized = optimize(df.plan, options.broadcastThreshold === undefined ? {} : { broadcastThreshold: options.broadcastThreshold });
  const physical = createPhysicalPlan(optimized, { ...DISTRIBUTED_PLANNING, ...options });
  return planStages(physical, { targetBytesPerTask: options.targetBytesPerTask ?? DISTRIBUTED_PLANNING.targetBytesPerTask, fileSizes: await scannedFileSizes(physical) });
}

/** Stage text without file paths, which differ per run. */
function text(g: StageGraph): string {
  return stageGraphText(g).replaceAll(dir + '/', '');
}

describe('stage graph', () => {
  it('an aggregate splits into partial → hash exchange → final, a sort into a range exchange', async () => {
    const df = lineitem.groupBy('l_returnflag').agg(F.sum('l_quantity').alias('q')).orderBy('l_returnflag');
    const g = await stages(df, { targetBytesPerTask: 1 << 30 });
    expect(text(g)).toMatchInlineSnapshot(`
      "Stage 0 (lambda, 1 task) → hash([#0], 1)
        HashAggregate(partial) keys=[#0] aggs=[sum(#1) AS __agg0]
          Project [l_returnflag AS __g0, l_quantity AS __a0]
            ParquetScan lineitem.parquet [l_quantity, l_returnflag]
      Stage 1 (lambda, 1 task) → range([#0 asc], 1) reads [0]
        Project [__g0 AS l_returnflag, __agg0 AS q]
          HashAggregate(final) keys=[#0] aggs=[sum(#1) AS __agg0]
            StageInput stage=0 hash([#0], 1) [__g0: utf8, __agg0#sum: decimal(18,2)]
      Stage 2 (lambda, 1 task) → result reads [1]
        Sort [#0 asc nulls first]
          StageInput stage=1 range([#0 asc], 1) [l_returnflag: utf8, q: decimal(18,2)]"
    `);
  });

  it('task counts follow input sizes', async () => {
    const df = lineitem.groupBy('l_returnflag').agg(F.count().alias('n'));
    const small = await stages(df, { targetBytesPerTask: 64 * 1024 });
    const sizes = await scannedFileSizes(createPhysicalPlan(optimize(df.plan), DISTRIBUTED_PLANNING));
    const bytes = [...sizes.values()][0]!;
    expect(small.stages[0]!.tasks).toBe(Math.ceil(bytes / (64 * 1024)));
    const splits = small.stages[0]!.splits!;
    // Every byte of the file is read by exactly one task.
    const ranges = splits.flat().sort((a, b) => a.start - b.start);
    expect(ranges[0]!.start).toBe(0);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.start + ranges[i - 1]!.length);
    expect(ranges.at(-1)!.start + ranges.at(-1)!.length).toBe(bytes);
    const large = await stages(df, { targetBytesPerTask: 1 << 30 });
    expect(large.stages[0]!.tasks).toBe(1);
  });

  it('a small build side is broadcast; a large one makes both sides shuffle', async () => {
    const df = orders.join(nation, col('o_custkey').eq(col('n_nationkey'))).select('o_orderkey', 'n_name');
    const broadcast = await stages(df, { broadcastThreshold: 2 ** 40 });
    expect(broadcast.stages.map((s) => s.output.kind)).toEqual(['broadcast', 'result']);
    expect(broadcast.stages[1]!.inputs).toEqual([0]);
    const shuffled = await stages(df, { broadcastThreshold: 0 });
    expect(shuffled.stages.map((s) => s.output.kind)).toEqual(['hash', 'hash', 'result']);
    const [a, b] = shuffled.stages.map((s) => s.output as { kind: 'hash'; partitions: number });
    // Both sides are hashed into the same number of partitions, so partition t of each meets in task t.
    expect(a!.partitions).toBe(b!.partitions);
    expect(shuffled.stages[2]!.tasks).toBe(a!.partitions);
  });

  it('a right join never broadcasts its build side', async () => {
    const df = orders.join(nation, col('o_custkey').eq(col('n_nationkey')), 'right');
    const g = await stages(df, { broadcastThreshold: 2 ** 40 });
    expect(g.stages.map((s) => s.output.kind)).toEqual(['hash', 'hash', 'result']);
  });

  it('top-k keeps k rows per task and merges on one; limit finishes on one task', async () => {
    const topk = await stages(lineitem.orderBy(col('l_extendedprice').desc()).limit(5), { targetBytesPerTask: 64 * 1024 });
    expect(topk.stages.length).toBe(2);
    expect(topk.stages[0]!.plan.kind).toBe('sort');
    expect(topk.stages[0]!.output).toEqual({ kind: 'single' });
    expect(topk.stages[1]!.tasks).toBe(1);
    const limit = await stages(lineitem.limit(7), { targetBytesPerTask: 64 * 1024 });
    expect(limit.stages[0]!.plan).toMatchObject({ kind: 'limit', limit: 7 });
    expect(limit.stages[1]!.tasks).toBe(1);
  });

  it('count(distinct) moves whole groups before aggregating once', async () => {
    const g = await stages(lineitem.groupBy('l_returnflag').agg(F.countDistinct('l_suppkey')));
    expect(g.stages.length).toBe(2);
    expect(g.stages[1]!.plan).toMatchObject({ kind: 'project', input: { kind: 'hash_aggregate', mode: 'single' } });
  });

  it('the graph is plain data: it survives a JSON round trip', async () => {
    const g = await stages(lineitem.join(orders, col('l_orderkey').eq(col('o_orderkey'))).groupBy('o_orderpriority').agg(F.avg('l_tax')));
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
    expect(g.version).toBe(1);
  });

  it('in-memory tables cannot be shipped to remote tasks', async () => {
    const df = session.createDataFrame([{ a: 1 }]);
    await expect(session.stageGraph(df.plan)).rejects.toThrow(/write it to Parquet first/);
  });
});

describe('planSplits', () => {
  it('packs small files and cuts large ones', () => {
    const sizes = new Map([
      ['a', 100],
      ['b', 10],
      ['c', 10],
      ['d', 250],
    ]);
    const splits = planSplits(['a', 'b', 'c', 'd'], sizes, 100);
    expect(splits.length).toBe(4);
    const bytes = splits.map((s) => s.reduce((n, x) => n + x.length, 0));
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(370);
    expect(Math.max(...bytes)).toBeLessThanOrEqual(110);
  });
});
