import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, col, lit, functions as F } from '../../core/sdk/index.ts';
import type { DataFrame } from '../../core/sdk/dataframe.ts';
import { FileScanExec } from '../../core/exec/scan.ts';
import { parquetMetadata } from '../../core/io/parquet-reader.ts';
import type { LogicalPlan } from '../../core/plan/logical-plan.ts';
import { planInputs } from '../../core/plan/logical-plan.ts';
import { optimize } from '../../core/optimizer/optimize.ts';
import { defaultExecContext } from '../../core/exec/operator.ts';
import { after } from './support.ts';
import { type Fixtures, makeFixtures } from './parquet-fixtures.ts';

let fx: Fixtures;
let items: DataFrame;
const session = Session.local();

beforeAll(async () => {
  fx = await makeFixtures();
  items = await session.read.parquet(fx.file('items'));
}, 30_000);
afterAll(() => fx?.close());

/** Replaces the temporary path in printed plans. */
const clean = (s: string) => s.replaceAll(fx.file('items'), 'items.parquet');

function scanOf(p: LogicalPlan): Extract<LogicalPlan, { kind: 'scan' }> {
  if (p.kind === 'scan') return p;
  for (const c of planInputs(p)) {
    try {
      return scanOf(c);
    } catch {
      // look further
    }
  }
  throw new Error('no scan');
}

/** Rows the Parquet scan of `p` actually decodes with its pushed filters. */
async function rowsRead(p: LogicalPlan): Promise<number> {
  const scan = scanOf(p);
  if (scan.source.format !== 'parquet') throw new Error('not a parquet scan');
  const exec = new FileScanExec(scan.source, scan.schema, scan.projection, scan.filters);
  let n = 0;
  for await (const b of exec.execute(defaultExecContext)) n += b.numRows;
  // Rows the scan decoded: those it returned and those its row filter dropped (late materialization).
  return n + (exec.metrics.rowsFiltered ?? 0);
}

describe('push_filters_into_scans', () => {
  it('restates literals exactly in the column type: decimal from double, date from string, bigint from int', () => {
    const df = items.filter(
      col('price').gt(100.5).and(col('ship').geq('1998-09-02')).and(col('id').isin(1, 5)).and(col('flag').isNull()),
    );
    expect(clean(after(df, ['push_filters_into_scans']))).toMatchInlineSnapshot(`
      "Filter ((((price > 100.5) AND (ship >= '1998-09-02')) AND (id IN (1, 5))) AND (flag IS NULL))
        Scan parquet:items.parquet [*] filters=[(price > 100.50), (ship >= DATE '1998-09-02'), (id IN (1, 5)), (flag IS NULL)]"
    `);
    // The printed text hides literal types: check that each literal now has its column's exact type.
    const filters = scanOf(optimize(df.plan, { rules: ['push_filters_into_scans'] })).filters;
    const types = filters.map((f) => JSON.stringify(f, (k, v) => (k === 'value' ? undefined : v)));
    expect(types[0]).toContain('"type":{"kind":"decimal","precision":15,"scale":2}');
    expect(types[1]).toContain('"type":{"kind":"date32"}');
    expect(types[2]).not.toContain('int32');
  });

  it('does not push a comparison whose literal has no exact value of the column type', () => {
    const df = items.filter(col('price').eq(100.555).and(col('qty').lt(2.5)).and(col('flag').like('A%')).and(col('qty').gt(3)));
    expect(clean(after(df, ['push_filters_into_scans']))).toMatchInlineSnapshot(`
      "Filter ((((price = 100.555) AND (qty < 2.5)) AND (flag LIKE 'A%')) AND (qty > 3))
        Scan parquet:items.parquet [*] filters=[(qty > 3)]"
    `);
  });

  it('pushes an OR only when both branches can be pushed', () => {
    const df = items.filter(col('id').lt(10).or(col('id').gt(19990))).filter(col('id').lt(10).or(col('qty').multiply(2).gt(3)));
    expect(clean(after(df, ['merge_filters', 'push_filters_into_scans']))).toMatchInlineSnapshot(`
      "Filter (((id < 10) OR (id > 19990)) AND ((id < 10) OR ((qty * 2) > 3)))
        Scan parquet:items.parquet [*] filters=[((id < 10) OR (id > 19990))]"
    `);
  });

  it('skips row groups whose statistics cannot match, and only those', async () => {
    const md = await parquetMetadata(fx.file('items'));
    expect(md.rowGroups.length).toBeGreaterThan(5);
    const df = items.filter(col('id').geq(lit(15000)).and(col('price').gt(0.5)));
    const optimized = optimize(df.plan);
    expect(scanOf(optimized).filters.length).toBe(2);
    // Expected: rows of the row groups whose max id reaches 15000 (prices span the whole range in every group).
    const expected = md.rowGroups.filter((rg) => (rg.columns.get('id')!.max as number) >= 15000).reduce((n, rg) => n + rg.numRows, 0);
    expect(expected).toBeLessThan(md.numRows / 2);
    expect(await rowsRead(optimized)).toBe(expected);
    // Without the optimizer nothing is skipped, and both give the same answer.
    expect(await rowsRead(df.plan)).toBe(md.numRows);
    const n = await df.count();
    const [ref] = await fx.db.query(`SELECT count(*) AS n FROM '${fx.file('items')}' WHERE id >= 15000 AND price > 0.5`);
    expect(n).toBe(ref!['n']);
  });

  it('prunes by a date compared with a string and by a decimal compared with a double', async () => {
    const df = items.filter(col('ship').lt('1995-03-01').and(col('price').geq(0)));
    const optimized = optimize(df.plan);
    const md = await parquetMetadata(fx.file('items'));
    const limit = Date.UTC(1995, 2, 1) / 86400000;
    const expected = md.rowGroups.filter((rg) => (rg.columns.get('ship')!.min as number) < limit).reduce((n, rg) => n + rg.numRows, 0);
    expect(expected).toBeLessThan(md.numRows / 4);
    expect(await rowsRead(optimized)).toBe(expected);
    const [ref] = await fx.db.query(`SELECT count(*) AS n, sum(qty) AS q FROM '${fx.file('items')}' WHERE ship < DATE '1995-03-01'`);
    const [row] = await df.agg(F.count().alias('n'), F.sum('qty').alias('q')).collect();
    expect(row).toEqual({ n: ref!['n'], q: ref!['q'] });
  });
});
