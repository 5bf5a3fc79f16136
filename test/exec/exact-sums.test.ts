// Sums of integers and decimals are exact beyond 2^53 (values are summed by 32-bit words), and overflow of the
// result type is an error, never a rounded answer.
import { describe, expect, it } from 'vitest';
import { DataError, Session, functions as F } from '../../core/sdk/index.ts';

const session = Session.local();

function unscaledDecimal(t: import('apache-arrow').Table, column: number): bigint[] {
  const data = t.getChildAt(column)!.data[0]!;
  const words = data.values as Uint32Array;
  const out: bigint[] = [];
  for (let i = 0; i < data.length; i++) {
    const lo = BigInt(words[2 * i]!);
    const hi = BigInt.asIntN(32, BigInt(words[2 * i + 1]!));
    out.push((hi << 32n) + lo);
  }
  return out;
}

describe('exact sums', () => {
  it('sum(decimal) beyond 2^53 unscaled is exact, grouped and global', async () => {
    const rows = [];
    let expectedA = 0n;
    let expectedB = 0n;
    for (let i = 0; i < 300; i++) {
      const unscaled = 900_000_000_000_000 + i * 7 + 3; // ~9e14 unscaled, just under 2^53
      rows.push({ g: i % 2 === 0 ? 'a' : 'b', v: unscaled / 100 });
      if (i % 2 === 0) expectedA += BigInt(unscaled);
      else expectedB += BigInt(unscaled);
    }
    const df = session.createDataFrame(rows, { g: 'string', v: 'decimal(18,2)' });
    const grouped = await df.groupBy('g').agg(F.sum('v').alias('s')).orderBy('g').toArrow();
    expect(unscaledDecimal(grouped, 1)).toEqual([expectedA, expectedB]);
    expect(expectedA > 2n ** 53n).toBe(true);
    const global = await df.agg(F.sum('v').alias('s')).toArrow();
    expect(unscaledDecimal(global, 0)).toEqual([expectedA + expectedB]);
  });

  it('sum(int64) is exact beyond 2^53 and avg uses the exact sum', async () => {
    const big = 2 ** 52 + 1;
    const df = session.createDataFrame([{ x: big }, { x: big }, { x: big }, { x: 1 }]);
    const t = await df.agg(F.sum('x').alias('s'), F.avg('x').alias('a')).toArrow();
    expect(t.getChildAt(0)!.get(0)).toBe(3n * BigInt(big) + 1n);
    expect(t.getChildAt(1)!.get(0)).toBeCloseTo((3 * big + 1) / 4, -2);
  });

  it('a sum that overflows its type is an error', async () => {
    const df = session.createDataFrame(
      Array.from({ length: 20 }, () => ({ v: 9e16 })),
      { v: 'decimal(18,0)' },
    );
    await expect(df.agg(F.sum('v')).collect()).rejects.toThrow(DataError);
    await expect(df.agg(F.sum('v')).collect()).rejects.toThrow(/sum overflows decimal\(18,0\)/);
  });
});
