// The mapping between Squall data types and Arrow types. Every record batch inside the engine uses exactly
// the Arrow layouts `toArrowType` returns (strings may also be Dictionary<Int32, Utf8>); readers convert
// anything else with `fromArrowType` + a cast at the edge.
import * as arrow from 'apache-arrow';
import { type DataType, DataTypes } from './data-type.ts';
import { UnsupportedError } from './errors.ts';
import { type Field, type Schema, field, schema } from './schema.ts';

/**
 * Decimals are Arrow Decimal64: precision ≤ 18 always fits an int64, as in Spark's compact decimals and
 * DuckDB's DECIMAL(18). Decimal128 would double the bytes every scan writes and every kernel reads. A value is
 * two little-endian 32-bit words, laid out as an int64.
 */
export const DECIMAL_BIT_WIDTH = 64;

export function toArrowType(t: DataType): arrow.DataType {
  switch (t.kind) {
    case 'null':
      return new arrow.Null();
    case 'bool':
      return new arrow.Bool();
    case 'int32':
      return new arrow.Int32();
    case 'int64':
      return new arrow.Int64();
    case 'float64':
      return new arrow.Float64();
    case 'decimal':
      return new arrow.Decimal(t.scale, t.precision, DECIMAL_BIT_WIDTH);
    case 'utf8':
      return new arrow.Utf8();
    case 'date32':
      return new arrow.DateDay();
    case 'timestamp':
      return new arrow.Timestamp(arrow.TimeUnit.MICROSECOND, null);
    case 'vector':
      return new arrow.FixedSizeList(t.size, new arrow.Field('item', new arrow.Float32(), true));
  }
}

/**
 * The Squall type that an Arrow type is read as. Narrower integers widen, float32 widens to float64, other
 * time units become microseconds, dictionaries of strings stay dictionaries but are typed utf8.
 */
export function fromArrowType(t: arrow.DataType, columnName = '?'): DataType {
  switch (t.typeId) {
    case arrow.Type.Null:
      return DataTypes.null;
    case arrow.Type.Bool:
      return DataTypes.bool;
    case arrow.Type.Int: {
      const it = t as arrow.Int;
      if (it.bitWidth < 32 || (it.bitWidth === 32 && it.isSigned)) return DataTypes.int32;
      return DataTypes.int64;
    }
    case arrow.Type.Float:
      return DataTypes.float64;
    case arrow.Type.Decimal: {
      const d = t as arrow.Decimal;
      if (d.precision > 18) return DataTypes.float64;
      return DataTypes.decimal(d.precision, d.scale);
    }
    case arrow.Type.Utf8:
    case arrow.Type.LargeUtf8:
      return DataTypes.utf8;
    case arrow.Type.Dictionary: {
      const dict = (t as arrow.Dictionary).dictionary;
      return fromArrowType(dict, columnName);
    }
    case arrow.Type.Date:
      return DataTypes.date32;
    case arrow.Type.Timestamp:
      return DataTypes.timestamp;
    case arrow.Type.FixedSizeList: {
      const fl = t as arrow.FixedSizeList;
      const child = fl.children[0]!.type;
      if (child.typeId === arrow.Type.Float) return DataTypes.vector(fl.listSize);
      break;
    }
    default:
      break;
  }
  throw new UnsupportedError(`column '${columnName}' has Arrow type ${String(t)}, which Squall does not support`);
}

export function fromArrowField(f: arrow.Field): Field {
  return field(f.name, fromArrowType(f.type, f.name), f.nullable);
}

export function fromArrowSchema(s: arrow.Schema): Schema {
  return schema(s.fields.map(fromArrowField));
}

export function toArrowSchema(s: Schema): arrow.Schema {
  return new arrow.Schema(s.fields.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable)));
}
