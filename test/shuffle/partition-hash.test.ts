// Hash partitioning is a function of key values only: plain and dictionary strings, -0 and 0, and every NaN
// land in the same partition, in any batch.
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeBatch, makeColumn, makeStringColumn } from '../../core/arrow/column.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { hashPartitions } from '../../core/shuffle/partition-hash.ts';

function batchOf(data: arrow.Data): arrow.RecordBatch {
  return makeBatch(new arrow.Schema([new arrow.Field('k', data.type, true)]), [data], data.length);
}

describe('hashPartitions', () => {
  it('plain and dictionary strings with equal values agree', () => {
    const values = ['alpha', 'beta', null, 'gamma', 'beta', 'Épsilon'];
    const plain = batchOf(makeStringColumn(values));
    const dict = batchOf(arrow.vectorFromArray(values, new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32())).data[0]!);
    const a = hashPartitions(plain, [0], [DataTypes.utf8], 7);
    const b = hashPartitions(dict, [0], [DataTypes.utf8], 7);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a[1]).toBe(a[4]);
  });

  it('-0 and 0, and NaNs, share a partition; values spread over partitions', () => {
    const v = new Float64Array([0, -0, NaN, Number.NaN * 2, 1.5]);
    const p = hashPartitions(batchOf(makeColumn(DataTypes.float64, 5, v, null)), [0], [DataTypes.float64], 16);
    expect(p[0]).toBe(p[1]);
    expect(p[2]).toBe(p[3]);
    const ints = new Int32Array(10_000).map((_, i) => i);
    const q = hashPartitions(batchOf(makeColumn(DataTypes.int32, ints.length, ints, null)), [0], [DataTypes.int32], 8);
    const counts = new Array(8).fill(0);
    for (const x of q) counts[x]++;
    for (const c of counts) expect(c).toBeGreaterThan(1000);
  });

  it('the same key in different batches and positions gets the same partition', () => {
    const a = new BigInt64Array([5n, 2n ** 40n, -3n]);
    const b = new BigInt64Array([-3n, 5n, 2n ** 40n]);
    const pa = hashPartitions(batchOf(makeColumn(DataTypes.int64, 3, a, null)), [0], [DataTypes.int64], 5);
    const pb = hashPartitions(batchOf(makeColumn(DataTypes.int64, 3, b, null)), [0], [DataTypes.int64], 5);
    expect([pa[0], pa[1], pa[2]]).toEqual([pb[1], pb[2], pb[0]]);
  });
});
