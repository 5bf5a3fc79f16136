// Integer and decimal arithmetic beyond ±2^53: kernels hand the batch to the exact BigInt fallback, which is
// exact up to the result type's own limit (TPC-H Q14's `100.00 * sum(...)` at SF1 needs this).
import { describe, expect, it } from 'vitest';
import { DataError, Session, col, lit } from '../../core/sdk/index.ts';

const session = Session.local();

function unscaled(t: import('apache-arrow').Table, c = 0): bigint[] {
  const d = t.getChildAt(c)!.data[0]!;
  const w = d.values as Uint32Array;
  return Array.from({ length: d.length }, (_, i) => (BigInt.asIntN(32, BigInt(w[2 * i + 1]!)) << 32n) + BigInt(w[2 * i]!));
}

describe('exact fallback beyond 2^53', () => {
  const df = session.createDataFrame(
    [{ x: '230000000.1234', y: '-17.5' }, { x: '1.0001', y: '2' }, { x: null, y: '1' }],
    { x: 'decimal(18,4)', y: 'decimal(5,2)' },
  );

  it('decimal × decimal whose unscaled product passes 2^53 is exact', async () => {
    const t = await df.select(col('x').multiply(lit('100.00').cast('decimal(5,2)')).alias('p')).toArrow();
    // 230000000.1234 × 100.00 = 23000000012.340000 at scale 6: 2.3e16 unscaled, past 2^53.
    expect(unscaled(t)).toEqual([23000000012340000n, 100010000n, 0n]);
    expect(t.getChildAt(0)!.isValid(2)).toBe(false);
  });

  it('a division over such a product gives the right double', async () => {
    const rows = await df.select(col('x').multiply(lit('100.00').cast('decimal(5,2)')).divide(col('y')).alias('q')).collect();
    expect(rows[0]!['q']).toBeCloseTo(-23000000012.34 / 17.5, 6);
    expect(rows[1]!['q']).toBeCloseTo(100.01 / 2, 10);
  });

  it('past the type itself it is still an overflow error', async () => {
    const big = session.createDataFrame([{ a: '999999999999999' }], { a: 'decimal(18,0)' });
    await expect(big.select(col('a').multiply(col('a')).alias('sq')).collect()).rejects.toThrow(DataError);
    await expect(big.select(col('a').multiply(col('a')).alias('sq')).collect()).rejects.toThrow(/overflow/);
  });
});
