// Plans as versioned JSON: round trips, and malformed plans rejected at the boundary with the bad field's path.
import { describe, expect, it } from 'vitest';
import { AnalysisError, Session, col, functions as F } from '../../core/sdk/index.ts';
import { deserializePlan, serializePlan } from '../../core/plan/serialize.ts';
import { planToString } from '../../core/plan/print.ts';

const session = Session.local();
const a = session.createDataFrame([{ id: 1, s: 'x', v: 1.5 }]);
const b = session.createDataFrame([{ id: 1, w: 2 }]);

describe('plan serialization', () => {
  it('round-trips a plan with every kind of node', () => {
    const df = a
      .alias('a')
      .join(b, col('a.id').eq(b.col('id')), 'left')
      .filter(col('v').gt(1).and(col('s').isin('x', 'y')).or(col('w').isNull()))
      .groupBy('s')
      .agg(F.sum('v').alias('sv'), F.countDistinct('w'), F.when(col('s').like('x%'), 1).otherwise(0).alias('c'))
      .union(a.select('s', 'v', col('v').alias('v2'), 'id').withColumnRenamed('id', 'c'))
      .distinct()
      .orderBy(col('sv').desc())
      .limit(10)
      .repartition(4, 's');
    const text = serializePlan(df.plan);
    const back = deserializePlan(text);
    expect(back).toEqual(df.plan);
    expect(planToString(back)).toBe(planToString(df.plan));
    expect(Object.isFrozen(back)).toBe(true);
    expect(JSON.parse(text).version).toBe(1);
  });

  it('rejects a wrong version, bad JSON and malformed nodes, naming the field', () => {
    const good = JSON.parse(serializePlan(a.select(col('v').plus(1).alias('w')).plan));
    expect(() => deserializePlan({ ...good, version: 99 })).toThrow(/unsupported plan version 99/);
    expect(() => deserializePlan('{not json')).toThrow(/not valid JSON/);
    const badOp = structuredClone(good);
    badOp.plan.exprs[0].input.op = '**';
    expect(() => deserializePlan(badOp)).toThrow(AnalysisError);
    expect(() => deserializePlan(badOp)).toThrow(/plan\.exprs\[0\]\.input\.op/);
    const missing = structuredClone(good);
    delete missing.plan.input;
    expect(() => deserializePlan(missing)).toThrow(/plan\.input/);
  });

  it('a well-formed plan that names a missing column fails analysis', () => {
    const p = JSON.parse(serializePlan(a.select('v').plan));
    p.plan.exprs[0].name = 'vv';
    expect(() => deserializePlan(p)).toThrow(/column 'vv' does not exist/);
  });
});
