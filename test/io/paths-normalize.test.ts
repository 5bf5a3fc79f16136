// Path expansion (files, directories, globs, hidden names) and batch normalization of Arrow layouts that
// readers may produce, checked against values computed independently with BigInt arithmetic.
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../../core/arrow/column.ts';
import { normalizeBatch } from '../../core/io/normalize.ts';
import { expandPaths, partitionValues } from '../../core/io/paths.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { field, schema as makeSchema } from '../../core/types/schema.ts';
import { batchRows, tempDir } from './helpers.ts';

describe('expandPaths', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
    const files = ['t/a.parquet', 't/b.parquet', 't/_SUCCESS', 't/.a.parquet.crc', 't/_temporary/0/x.parquet', 't/.squall-tmp-t-1/part.parquet', 't/year=2020/c.parquet', 't/year=2021/month=1/d.parquet', 'x1.csv', 'x2.csv', 'x10.csv', 'empty/.hidden'];
    for (const f of files) {
      fs.mkdirSync(`${dir}/${f}`.replace(/\/[^/]*$/, ''), { recursive: true });
      fs.writeFileSync(`${dir}/${f}`, 'x');
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('expands a directory recursively, skipping hidden and bookkeeping names', async () => {
    expect(await expandPaths(`${dir}/t`)).toEqual([`${dir}/t/a.parquet`, `${dir}/t/b.parquet`, `${dir}/t/year=2020/c.parquet`, `${dir}/t/year=2021/month=1/d.parquet`]);
  });

  it('keeps a plain file and removes duplicates', async () => {
    expect(await expandPaths([`${dir}/x1.csv`, `${dir}/x1.csv`])).toEqual([`${dir}/x1.csv`]);
  });

  it('expands *, ? and ** globs', async () => {
    expect(await expandPaths(`${dir}/x?.csv`)).toEqual([`${dir}/x1.csv`, `${dir}/x2.csv`]);
    expect(await expandPaths(`${dir}/x*.csv`)).toEqual([`${dir}/x1.csv`, `${dir}/x10.csv`, `${dir}/x2.csv`]);
    expect(await expandPaths(`${dir}/t/**/*.parquet`)).toEqual([`${dir}/t/a.parquet`, `${dir}/t/b.parquet`, `${dir}/t/year=2020/c.parquet`, `${dir}/t/year=2021/month=1/d.parquet`]);
    expect(await expandPaths(`${dir}/t/year=*`)).toEqual([`${dir}/t/year=2020/c.parquet`, `${dir}/t/year=2021/month=1/d.parquet`]);
  });

  it('raises DataError naming a path that matches nothing', async () => {
    for (const p of [`${dir}/nope`, `${dir}/*.json`, `${dir}/empty`]) {
      const err = await expandPaths(p).catch((e) => e);
      expect(err).toBeInstanceOf(DataError);
      expect(err.message).toContain(p);
    }
  });

  it('reads Hive partition values from a path', () => {
    expect(partitionValues('/d/t', '/d/t/year=2021/month=1/d.parquet')).toEqual({ year: '2021', month: '1' });
  });
});

describe('normalizeBatch', () => {
  const batchOf = (cols: Record<string, arrow.Data>) => {
    const names = Object.keys(cols);
    const s = new arrow.Schema(names.map((n) => new arrow.Field(n, cols[n]!.type, true)));
    return makeBatch(s, names.map((n) => cols[n]!), cols[names[0]!]!.length);
  };

  /** 64-bit temporal data built from raw values (Arrow's builders take milliseconds as numbers). */
  const raw64 = (type: arrow.DataType, values: (bigint | null)[]) => {
    const bitmap = new Uint8Array(8);
    values.forEach((v, i) => v !== null && (bitmap[i >> 3]! |= 1 << (i & 7)));
    const data = BigInt64Array.from(values, (v) => v ?? 0n);
    return arrow.makeData({ type: type as arrow.TimestampNanosecond, length: values.length, nullCount: values.filter((v) => v === null).length, nullBitmap: bitmap, data });
  };

  it('widens integers and floats and rescales timestamps exactly (floor for nanoseconds)', () => {
    const ns = [-1500n, 1622505600123456789n, -62135596800000000001n / 1000n, null];
    const b = batchOf({
      i8: arrow.vectorFromArray([-128, 127, 0, null], new arrow.Int8()).data[0]!,
      u16: arrow.vectorFromArray([65535, 0, 1, null], new arrow.Uint16()).data[0]!,
      u32: arrow.vectorFromArray([4294967295, 0, 1, null], new arrow.Uint32()).data[0]!,
      i32to64: arrow.vectorFromArray([-5, 2147483647, -2147483648, null], new arrow.Int32()).data[0]!,
      f32: arrow.vectorFromArray([0.1, -2.5, 3, null], new arrow.Float32()).data[0]!,
      ns: raw64(new arrow.TimestampNanosecond(), ns),
      ms: raw64(new arrow.TimestampMillisecond(), [-1n, 1622505600123n, 0n, null]),
      sec: raw64(new arrow.TimestampSecond('UTC'), [-1n, 1622505600n, 0n, null]),
      d64: raw64(new arrow.DateMillisecond(), [-86400001n, 0n, 1622505600000n, null]),
    });
    const s = makeSchema([
      field('i8', DataTypes.int32), field('u16', DataTypes.int32), field('u32', DataTypes.int64), field('i32to64', DataTypes.int64), field('f32', DataTypes.float64),
      field('ns', DataTypes.timestamp), field('ms', DataTypes.timestamp), field('sec', DataTypes.timestamp), field('d64', DataTypes.date32),
    ]);
    const rows = batchRows([normalizeBatch(b, s)], s);
    const floorDiv = (a: bigint, d: bigint) => (a >= 0n ? a / d : -((-a + d - 1n) / d));
    expect(rows.map((r) => r.ns)).toEqual(ns.map((v) => (v === null ? null : floorDiv(v, 1000n).toString())));
    expect(rows.map((r) => r.ms)).toEqual(['-1000', '1622505600123000', '0', null]);
    expect(rows.map((r) => r.sec)).toEqual(['-1000000', '1622505600000000', '0', null]);
    expect(rows.map((r) => r.d64)).toEqual([-2, 0, 18779, null]);
    expect(rows.map((r) => r.i8)).toEqual([-128, 127, 0, null]);
    expect(rows.map((r) => r.u16)).toEqual([65535, 0, 1, null]);
    expect(rows.map((r) => r.u32)).toEqual(['4294967295', '0', '1', null]);
    expect(rows.map((r) => r.i32to64)).toEqual(['-5', '2147483647', '-2147483648', null]);
    expect(rows.map((r) => r.f32)).toEqual([Math.fround(0.1), -2.5, 3, null]);
  });

  it('re-keys small dictionaries to Int32 and converts LargeUtf8', () => {
    const dict = arrow.vectorFromArray(['b', 'a', null, 'b'], new arrow.Dictionary(new arrow.Utf8(), new arrow.Int8())).data[0]!;
    const large = arrow.vectorFromArray(['x', null, 'yé', ''], new arrow.LargeUtf8()).data[0]!;
    const s = makeSchema([field('d', DataTypes.utf8), field('l', DataTypes.utf8)]);
    const out = normalizeBatch(batchOf({ d: dict, l: large }), s);
    expect(out.getChildAt(0)!.data[0]!.type.typeId).toBe(arrow.Type.Dictionary);
    expect(batchRows([out], s)).toEqual([
      { d: 'b', l: 'x' },
      { d: 'a', l: null },
      { d: null, l: 'yé' },
      { d: 'b', l: '' },
    ]);
  });

  it('rejects a column that cannot be read as the schema type, naming it', () => {
    const b = batchOf({ s: arrow.vectorFromArray(['x'], new arrow.Utf8()).data[0]! });
    expect(() => normalizeBatch(b, makeSchema([field('s', DataTypes.int64)]), 'file f.parquet')).toThrow(/file f\.parquet: column 's' has Arrow type Utf8, which cannot be read as int64/);
  });
});
