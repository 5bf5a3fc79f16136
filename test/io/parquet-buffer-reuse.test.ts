// A scan whose consumer folds each batch before asking for the next (reuseBuffers) decodes later row groups
// into the value buffers of earlier ones: the buffers really are reused, and every value is still right.
import * as fs from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { scanParquet } from '../../core/io/parquet-reader.ts';
import { columnValues } from '../../core/sdk/rows.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { duck, duckRows, tempDir } from './helpers.ts';

let dir: string;
const ROWS = 200_000;

beforeAll(async () => {
  dir = tempDir('squall-reuse-');
  const db = await duck();
  try {
    // Negative decimals too. f's row groups alternate between negative and non-negative dictionaries: the decoder
    // writes only the low word of a dictionary whose entries need no more, so a buffer reused after a row group
    // of negatives must come back zeroed, or its stale high words turn small positives into huge negatives.
    await db.c.run(`COPY (SELECT i::BIGINT AS id, (((i % 2001) - 1000) / 4)::DECIMAL(18,2) AS d, (((hash(i) % 2000001)::BIGINT - 1000000) / 100)::DECIMAL(18,2) AS e, DATE '2020-01-01' + (i % 7)::INTEGER AS dt,
        (CASE WHEN (i // 20000) % 2 = 0 THEN -(i % 50) ELSE i % 50 END)::DECIMAL(18,2) AS f
      FROM range(0, ${ROWS}) t(i)) TO '${dir}/t.parquet' (FORMAT parquet, ROW_GROUP_SIZE 20000)`);
  } finally {
    db.close();
  }
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('value buffers of consumed row groups are reused, and sums equal DuckDB', async () => {
  const seen = new Set<ArrayBufferLike>();
  let reused = 0;
  let sumId = 0;
  let sumD = 0;
  let negatives = 0;
  let sumF = 0;
  for await (const b of scanParquet([`${dir}/t.parquet`], { columns: ['id', 'd', 'dt', 'e', 'f'], threads: 0, reuseBuffers: true })) {
    const buf = b.getChildAt(1)!.data[0]!.values.buffer;
    if (seen.has(buf)) reused++;
    seen.add(buf);
    for (const v of columnValues(b.getChildAt(4)!.data[0]!, DataTypes.decimal(18, 2)) as number[]) sumF += Math.round(v * 100);
    // Consumed before the next batch is asked for, as the contract says.
    for (const v of columnValues(b.getChildAt(0)!.data[0]!, DataTypes.int64) as (number | bigint)[]) sumId += Number(v);
    for (const v of columnValues(b.getChildAt(1)!.data[0]!, DataTypes.decimal(18, 2)) as number[]) {
      sumD += Math.round(v * 100);
      if (v < 0) negatives++;
    }
  }
  expect(reused, 'later row groups were decoded into earlier buffers').toBeGreaterThan(0);
  const db = await duck();
  try {
    const [want] = await duckRows(db.c, `SELECT sum(id)::DOUBLE AS s, (sum(d) * 100)::DOUBLE AS d, (sum(f) * 100)::DOUBLE AS f, count(*) FILTER (WHERE d < 0) AS neg FROM '${dir}/t.parquet'`);
    expect(sumId).toBe(Number(want!.s));
    expect(sumD).toBe(Number(want!.d));
    expect(negatives).toBe(Number(want!.neg));
    expect(sumF).toBe(Number(want!.f));
  } finally {
    db.close();
  }
});
