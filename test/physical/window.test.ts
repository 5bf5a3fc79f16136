// Physical planning of Window nodes: computed keys and arguments as pre-projected columns, a hash exchange on
// the partition keys (one partition without PARTITION BY) in distributed plans, no second shuffle for stacked
// windows on the same keys, and the stage graph cut at those exchanges.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataFrame, Session, Window, col, functions as F } from '../../core/sdk/index.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { DISTRIBUTED_PLANNING, LOCAL_PLANNING, createPhysicalPlan } from '../../core/physical/planner.ts';
import { physicalPlanText } from '../../core/physical/physical-plan.ts';
import { planStages, scannedFileSizes, stageGraphText } from '../../core/physical/stages.ts';

const session = Session.local();
const t = session.createDataFrame([{ k: 'a', j: 1, v: 2, x: 1.5 }], { k: 'string', j: 'int', v: 'int', x: 'double' });
const physical = (df: DataFrame, distributed: boolean) =>
  physicalPlanText(createPhysicalPlan(optimize(df.plan), distributed ? DISTRIBUTED_PLANNING : LOCAL_PLANNING));

describe('physical window plans', () => {
  it('pre-projects computed keys and arguments, then drops them after the window', () => {
    const df = t.select(col('k'), F.sum(col('x').multiply(2)).over(Window.partitionBy(col('j').plus(1)).orderBy(col('v').desc())).alias('s'));
    expect(physical(df, false)).toMatchInlineSnapshot(`
      "Project [k, __w0 AS s]
        Project [k, j, v, x, __w0]
          Window partition=[#4] order=[#2 desc nulls last] [sum(#5) range_to_current AS __w0]
            Project [k, j, v, x, (j + 1) AS __wp0, (x * 2) AS __wa0]
              Project [k, j, v, x]
                MemoryScan s1.t0"
    `);
  });

  it('distributed: hash exchange on the partition keys, one exchange for stacked windows on them, single without keys', () => {
    const df = t.select(
      col('k'),
      F.rank().over(Window.partitionBy('k').orderBy('v')).alias('r'),
      F.count().over(Window.partitionBy('k', 'j')).alias('n'),
      F.sum('x').over(Window.orderBy('v')).alias('running'),
    );
    expect(physical(df, true)).toMatchInlineSnapshot(`
      "Project [k, __w0 AS r, __w1 AS n, __w2 AS running]
        Window partition=[] order=[#2 asc nulls first] [sum(#3) range_to_current AS __w2]
          Exchange single
            Window partition=[#0, #1] order=[] [count() partition AS __w1]
              Window partition=[#0] order=[#2 asc nulls first] [rank() rows_to_current AS __w0]
                Exchange hash([#0], 16)
                  Project [k, j, v, x]
                    MemoryScan s1.t0"
    `);
  });
});

describe('stages', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'squall-window-stages-'));
    await session.range(1000).select(col('id'), col('id').mod(7).alias('k'), col('id').multiply(3).mod(11).alias('v')).write.parquet(join(dir, 't'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('cuts the plan at the window exchange; the window stage reads the hashed partitions', async () => {
    const df = (await session.read.parquet(join(dir, 't'))).select(col('k'), col('v'), F.rowNumber().over(Window.partitionBy('k').orderBy('v', 'id')).alias('rn'));
    const p = createPhysicalPlan(optimize(df.plan), { ...DISTRIBUTED_PLANNING, targetBytesPerTask: 1 << 30 });
    const g = planStages(p, { targetBytesPerTask: 1 << 30, fileSizes: await scannedFileSizes(p) });
    expect(stageGraphText(g).replaceAll(dir + '/', '').replace(/part-[\w-]+\.parquet/g, 'part-*.parquet')).toMatchInlineSnapshot(`
      "Stage 0 (lambda, 1 task) → hash([#1], 1)
        ParquetScan t/part-*.parquet [id, k, v]
      Stage 1 (lambda, 1 task) → result reads [0]
        Project [k, v, __w0 AS rn]
          Window partition=[#1] order=[#2 asc nulls first, #0 asc nulls first] [row_number() rows_to_current AS __w0]
            StageInput stage=0 hash([#1], 1) [id: int64, k: int64, v: int64]"
    `);
  });
});
