// Squall's logical data types: plain JSON-serializable descriptors, one per supported Arrow type.
// The Arrow layout each type uses in record batches is fixed by `toArrowType` in ./arrow-types.ts.

export type DataType =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'int32' }
  | { readonly kind: 'int64' }
  | { readonly kind: 'float64' }
  /** Fixed-point decimal, precision ≤ 18; stored as Arrow Decimal64 (an unscaled int64), computed as a scaled integer. */
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  /** UTF-8 string; a batch column may be plain Utf8 or Dictionary<Int32, Utf8>. */
  | { readonly kind: 'utf8' }
  /** Days since the Unix epoch. */
  | { readonly kind: 'date32' }
  /** Microseconds since the Unix epoch, without time zone (Spark's TIMESTAMP_NTZ, DuckDB's TIMESTAMP). */
  | { readonly kind: 'timestamp' }
  /** Fixed-size list of float32: feature vectors and embeddings. */
  | { readonly kind: 'vector'; readonly size: number };

export type TypeKind = DataType['kind'];

export const DataTypes = Object.freeze({
  null: Object.freeze({ kind: 'null' }) as DataType,
  bool: Object.freeze({ kind: 'bool' }) as DataType,
  int32: Object.freeze({ kind: 'int32' }) as DataType,
  int64: Object.freeze({ kind: 'int64' }) as DataType,
  float64: Object.freeze({ kind: 'float64' }) as DataType,
  utf8: Object.freeze({ kind: 'utf8' }) as DataType,
  date32: Object.freeze({ kind: 'date32' }) as DataType,
  timestamp: Object.freeze({ kind: 'timestamp' }) as DataType,
  decimal: (precision: number, scale: number): DataType => {
    if (!Number.isInteger(precision) || precision < 1 || precision > 18) {
      throw new RangeError(`decimal precision must be an integer in 1..18, got ${precision}`);
    }
    if (!Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new RangeError(`decimal scale must be an integer in 0..${precision}, got ${scale}`);
    }
    return Object.freeze({ kind: 'decimal', precision, scale });
  },
  vector: (size: number): DataType => {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`vector size must be a positive integer, got ${size}`);
    return Object.freeze({ kind: 'vector', size });
  },
});

export function typeEquals(a: DataType, b: DataType): boolean {
  switch (a.kind) {
    case 'decimal':
      return b.kind === 'decimal' && a.precision === b.precision && a.scale === b.scale;
    case 'vector':
      return b.kind === 'vector' && a.size === b.size;
    default:
      return a.kind === b.kind;
  }
}

/** SQL-style name, as printed by printSchema/explain: `decimal(12,2)`, `vector<float32>[128]`. */
export function typeToString(t: DataType): string {
  switch (t.kind) {
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'vector':
      return `vector<float32>[${t.size}]`;
    case 'null':
    case 'bool':
    case 'int32':
    case 'int64':
    case 'float64':
    case 'utf8':
    case 'date32':
    case 'timestamp':
      return t.kind;
  }
}

export function isNumeric(t: DataType): boolean {
  return t.kind === 'int32' || t.kind === 'int64' || t.kind === 'float64' || t.kind === 'decimal';
}

export function isIntegral(t: DataType): boolean {
  return t.kind === 'int32' || t.kind === 'int64';
}
