// Many distinct string keys through GROUP BY and hash joins (the interner that numbers strings grows several
// times): 3 rows each of 5,000 labels group into exactly 5,000 groups, and an anti join of a table against
// itself finds nothing, as DuckDB says.
import { describe, expect, it } from 'vitest';
import { makeStringColumn } from '../../core/arrow/column.ts';
import { StringInterner } from '../../core/exec/hash/string-interner.ts';
import { Session, col, functions as F } from '../../core/sdk/index.ts';

const N = 5000;
const labels = Array.from({ length: N }, (_, i) => `label${i}`);

describe('string keys beyond the interner’s first sizes', () => {
  it('group by gives one group per distinct string', async () => {
    const s = Session.local();
    const df = s.createDataFrame(labels.flatMap((l) => [{ k: l }, { k: l }, { k: l }]));
    const groups = await df.groupBy('k').agg(F.count().alias('n')).collect();
    expect(groups).toHaveLength(N);
    expect(groups.every((g) => g.n === 3)).toBe(true);
  });

  it('an anti join of a table with itself is empty; an inner join matches every row once', async () => {
    const s = Session.local();
    const a = s.createDataFrame(labels.map((k) => ({ k })));
    const b = s.createDataFrame(labels.map((k) => ({ k2: k })));
    expect(await a.join(b, col('k').eq(col('k2')), 'anti').count()).toBe(0);
    expect(await a.join(b, col('k').eq(col('k2')), 'inner').count()).toBe(N);
  });

  it('every interned string keeps its id', () => {
    const interner = new StringInterner();
    const column = makeStringColumn(labels);
    const first = new Int32Array(N);
    interner.idsOf(column, N, first, true);
    expect(new Set(first).size).toBe(N);
    const again = new Int32Array(N);
    interner.idsOf(column, N, again, false);
    expect(Array.from(again)).toEqual(Array.from(first));
  });
});
