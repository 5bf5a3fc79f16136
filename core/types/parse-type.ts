// Type names as users write them (`'bigint'`, `'decimal(12,2)'`, `'string'`), as Spark and SQL spell them.
import { type DataType, DataTypes } from './data-type.ts';
import { AnalysisError } from './errors.ts';

const NAMES: Record<string, DataType> = {
  null: DataTypes.null,
  void: DataTypes.null,
  bool: DataTypes.bool,
  boolean: DataTypes.bool,
  int: DataTypes.int32,
  int32: DataTypes.int32,
  integer: DataTypes.int32,
  int4: DataTypes.int32,
  smallint: DataTypes.int32,
  tinyint: DataTypes.int32,
  long: DataTypes.int64,
  int64: DataTypes.int64,
  bigint: DataTypes.int64,
  int8: DataTypes.int64,
  double: DataTypes.float64,
  float64: DataTypes.float64,
  float: DataTypes.float64,
  real: DataTypes.float64,
  float8: DataTypes.float64,
  string: DataTypes.utf8,
  utf8: DataTypes.utf8,
  varchar: DataTypes.utf8,
  text: DataTypes.utf8,
  char: DataTypes.utf8,
  date: DataTypes.date32,
  date32: DataTypes.date32,
  timestamp: DataTypes.timestamp,
  timestamp_ntz: DataTypes.timestamp,
  datetime: DataTypes.timestamp,
};

export function parseTypeName(text: string): DataType {
  const t = text.trim().toLowerCase();
  const known = NAMES[t];
  if (known) return known;
  const dec = /^(?:decimal|numeric)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$/.exec(t);
  if (dec) {
    const p = dec[1] ? Number(dec[1]) : 18;
    const s = dec[2] ? Number(dec[2]) : 0;
    if (p > 18) throw new AnalysisError(`decimal(${p},${s}): Squall supports decimal precision up to 18; use double for wider values`);
    return DataTypes.decimal(p, s);
  }
  const varchar = /^(?:varchar|char)\s*\(\s*\d+\s*\)$/.exec(t);
  if (varchar) return DataTypes.utf8;
  const vec = /^(?:vector|vector<float32>|array<float>)\s*\[\s*(\d+)\s*\]$/.exec(t);
  if (vec) return DataTypes.vector(Number(vec[1]));
  throw new AnalysisError(
    `unknown type '${text}'. Known types: boolean, int, bigint, double, decimal(p,s), string, date, timestamp, vector[n]`,
  );
}

export type TypeLike = DataType | string;

export function toDataType(t: TypeLike): DataType {
  return typeof t === 'string' ? parseTypeName(t) : t;
}
