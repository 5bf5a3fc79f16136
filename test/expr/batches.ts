// Test helpers: build record batches from plain JS values in Squall's layouts, and read columns back.
// Values: int64/timestamp as numbers, decimal as its unscaled integer, date32 as days, null as SQL NULL.
import * as arrow from 'apache-arrow';
import { isValidAt, makeBatch, makeColumn, makeStringColumn, newBitmap, stringValues } from '../../core/arrow/column.ts';
import type { DataType } from '../../core/types/data-type.ts';
import type { Schema } from '../../core/types/schema.ts';

export type Value = number | string | boolean | null;

export function columnFrom(type: DataType, values: readonly Value[], opts: { dictionary?: boolean } = {}): arrow.Data {
  const n = values.length;
  let validity: Uint8Array | null = null;
  if (values.some((v) => v === null)) {
    validity = newBitmap(n);
    values.forEach((v, i) => {
      if (v !== null) validity![i >> 3]! |= 1 << (i & 7);
    });
  }
  switch (type.kind) {
    case 'utf8': {
      if (!opts.dictionary) return makeStringColumn(values as (string | null)[]);
      const dict: string[] = [];
      const index = new Map<string, number>();
      const codes = new Int32Array(n);
      values.forEach((v, i) => {
        if (v === null) return;
        let c = index.get(v as string);
        if (c === undefined) {
          c = dict.length;
          dict.push(v as string);
          index.set(v as string, c);
        }
        codes[i] = c;
      });
      const nullCount = values.filter((v) => v === null).length;
      return arrow.makeData({
        type: new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()) as arrow.Dictionary,
        length: n,
        nullCount,
        nullBitmap: nullCount > 0 ? validity! : undefined,
        data: codes,
        dictionary: arrow.makeVector(makeStringColumn(dict)),
      });
    }
    case 'bool': {
      const bits = newBitmap(n);
      values.forEach((v, i) => {
        if (v === true) bits[i >> 3]! |= 1 << (i & 7);
      });
      return makeColumn(type, n, bits, validity);
    }
    case 'int32':
    case 'date32':
      return makeColumn(type, n, Int32Array.from(values, (v) => (v as number) ?? 0), validity);
    case 'float64':
      return makeColumn(type, n, Float64Array.from(values, (v) => (v as number) ?? 0), validity);
    case 'int64':
    case 'timestamp':
      return makeColumn(type, n, BigInt64Array.from(values, (v) => BigInt((v as number) ?? 0)), validity);
    case 'decimal': {
      const big = BigInt64Array.from(values, (v) => BigInt((v as number) ?? 0));
      return makeColumn(type, n, new Uint32Array(big.buffer), validity);
    }
    default:
      throw new Error(`unsupported test column type ${type.kind}`);
  }
}

export function batchFrom(s: Schema, columns: readonly (readonly Value[])[], dictionary: readonly string[] = []): arrow.RecordBatch {
  const n = columns[0]?.length ?? 0;
  const datas = s.fields.map((f, i) => columnFrom(f.type, columns[i]!, { dictionary: dictionary.includes(f.name) }));
  const fields = s.fields.map((f, i) => new arrow.Field(f.name, datas[i]!.type, true));
  return makeBatch(new arrow.Schema(fields), datas, n);
}

/** JS values of a column in the test conventions (decimal as a number with its scale applied). */
export function valuesOf(data: arrow.Data, type: DataType): Value[] {
  const n = data.length;
  const valid = data.nullCount > 0 ? data.nullBitmap! : null;
  const out: Value[] = [];
  if (type.kind === 'utf8') return stringValues(data);
  for (let i = 0; i < n; i++) {
    if (!isValidAt(valid, i)) {
      out.push(null);
      continue;
    }
    switch (type.kind) {
      case 'bool':
        out.push(((data.values as Uint8Array)[i >> 3]! & (1 << (i & 7))) !== 0);
        break;
      case 'int64':
      case 'timestamp':
        out.push(Number((data.values as BigInt64Array)[i]!));
        break;
      case 'decimal': {
        const w = data.values as Uint32Array;
        const big = new BigInt64Array(w.buffer, w.byteOffset, n);
        out.push(Number(big[i]!) / 10 ** type.scale);
        break;
      }
      case 'null':
        out.push(null);
        break;
      default:
        out.push((data.values as Int32Array)[i]!);
    }
  }
  return out;
}
