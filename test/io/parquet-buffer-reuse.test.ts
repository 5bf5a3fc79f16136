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
    // Negative decimals too: the decoder writes their sign words only, so a reused buffer must come back zeroed.
    await db.c.run(`COPY (SELECT i::BIGINT AS id, (((i % 2001) - 1000) / 4)::DECIMAL(18,2) AS d, (((hash(i) % 2000001)::BIGINT - 1000000) / 100)::DECIMAL(18,2) AS e, DATE '2020-01-01' + (i % 7)::INTEGER AS dt
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
  let badWords = 0;
  for await (const b of scanParquet([`${dir}/t.parquet`], { columns: ['id', 'd', 'dt', 'e'], threads: 0, reuseBuffers: true })) {
    const buf = b.getChildAt(1)!.data[0]!.values.buffer;
    if (seen.has(buf)) reused++;
    seen.add(buf);
    // Decimal128 layout: the upper words are the sign extension of the second (stale words would break it).
    for (const c of [1, 3]) {
      const w = new Int32Array(b.getChildAt(c)!.data[0]!.values.buffer, b.getChildAt(c)!.data[0]!.values.byteOffset, b.numRows * 4);
      for (let i = 0; i < b.numRows; i++) {
        const sign = w[4 * i + 1]! >> 31;
        if (w[4 * i + 2] !== sign || w[4 * i + 3] !== sign) badWords++;
      }
    }
    // Consumed before the next batch is asked for, as the contract says.
    for (const v of columnValues(b.getChildAt(0)!.data[0]!, DataTypes.int64) as (number | bigint)[]) sumId += Number(v);
    for (const v of columnValues(b.getChildAt(1)!.data[0]!, DataTypes.decimal(18, 2)) as number[]) {
      sumD += Math.round(v * 100);
      if (v < 0) negatives++;
    }
  }
  expect(reused, 'later row groups were decoded into earlier buffers').toBeGreaterThan(0);
  expect(badWords, 'values whose upper words are not their sign').toBe(0);
  const db = await duck();
  try {
    const [want] = await duckRows(db.c, `SELECT sum(id)::DOUBLE AS s, (sum(d) * 100)::DOUBLE AS d, count(*) FILTER (WHERE d < 0) AS neg FROM '${dir}/t.parquet'`);
    expect(sumId).toBe(Number(want!.s));
    expect(sumD).toBe(Number(want!.d));
    expect(negatives).toBe(Number(want!.neg));
  } finally {
    db.close();
  }
});
