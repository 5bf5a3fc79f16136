// Literal values for the optimizer: evaluating a column-free expression with the real expression compiler (so
// folding can never disagree with execution), and restating a literal exactly in another type (so a scan's
// pushed filters compare values in the column's own units, as row-group statistics are).
import * as arrow from 'apache-arrow';
import { isValidAt, makeBatch, stringValues } from '../arrow/column.ts';
import { compileProjection } from '../expr/compile.ts';
import { type Expr, type LiteralValue, literal } from '../expr/expr.ts';
import { parseDate, parseTimestamp, MICROS_PER_DAY } from '../expr/dates.ts';
import { typeOf } from '../expr/type-of.ts';
import { type DataType, typeEquals } from '../types/data-type.ts';
import { schema } from '../types/schema.ts';

const EMPTY = schema([]);
const ONE_ROW = makeBatch(new arrow.Schema([]), [], 1);

/** The value of a column-free expression as a literal of its type, or null when it cannot be folded (an error
 * while evaluating, a type literals cannot hold, an int64 beyond 2^53). */
export function evaluateConstant(e: Expr): Expr | null {
  try {
    const t = typeOf(e, EMPTY);
    if (t.kind === 'vector') return null;
    const out = compileProjection([e], EMPTY).project(ONE_ROW);
    const value = readValue(out.getChildAt(0)!.data[0]!, t);
    return value === undefined ? null : literal(value, t);
  } catch {
    return null;
  }
}

function readValue(d: arrow.Data, t: DataType): LiteralValue | undefined {
  if (t.kind === 'null') return null;
  if (d.nullCount > 0 && !isValidAt(d.nullBitmap, 0)) return null;
  const values = d.values as unknown;
  switch (t.kind) {
    case 'bool':
      return ((values as Uint8Array)[0]! & 1) === 1;
    case 'int32':
    case 'date32':
      return (values as Int32Array)[0]!;
    case 'float64':
      return (values as Float64Array)[0]!;
    case 'int64':
    case 'timestamp': {
      const v = (values as BigInt64Array)[0]!;
      return safe(v);
    }
    case 'decimal': {
      const w = values as Uint32Array;
      return safe(BigInt.asIntN(64, BigInt(w[0]!) | (BigInt(w[1]!) << 32n)));
    }
    case 'utf8':
      return stringValues(d)[0] ?? null;
    default:
      return undefined;
  }
}

function safe(v: bigint): number | undefined {
  return v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) ? undefined : Number(v);
}

const pow10 = (n: number) => 10 ** n;

/**
 * The value of literal `e` restated exactly as a value of type `to`, or undefined when no value of `to` equals
 * it (100.555 as decimal(15,2)), the conversion could lose precision, or the types do not mix. Comparisons
 * between a column of type `to` and `e` then give the same answer with the restated literal.
 */
export function literalAs(e: Expr, to: DataType): LiteralValue | undefined {
  if (e.kind !== 'literal') return undefined;
  const v = e.value;
  const from = e.type;
  if (typeEquals(from, to)) return v;
  if (v === null) return undefined;
  switch (to.kind) {
    case 'int32':
    case 'int64': {
      const n = numericValue(v, from);
      if (n === undefined || !Number.isSafeInteger(n)) return undefined;
      if (to.kind === 'int32' && (n < -2147483648 || n > 2147483647)) return undefined;
      return n;
    }
    case 'float64': {
      const n = numericValue(v, from);
      // Integers and decimals up to 15 digits are exact doubles.
      if (n === undefined || (from.kind !== 'float64' && Math.abs(n) > Number.MAX_SAFE_INTEGER)) return undefined;
      if (from.kind === 'decimal' && from.precision > 15) return undefined;
      return n;
    }
    case 'decimal': {
      if (typeof v !== 'number') return undefined;
      let unscaled: number;
      if (from.kind === 'int32' || from.kind === 'int64') unscaled = v * pow10(to.scale);
      else if (from.kind === 'decimal') {
        unscaled = from.scale <= to.scale ? v * pow10(to.scale - from.scale) : v / pow10(from.scale - to.scale);
      } else if (from.kind === 'float64') {
        // Only decimals of up to 15 digits compare with doubles exactly (each is a distinct double).
        if (to.precision > 15) return undefined;
        unscaled = Math.round(v * pow10(to.scale));
        if (unscaled / pow10(to.scale) !== v) return undefined;
      } else return undefined;
      if (!Number.isSafeInteger(unscaled) || Math.abs(unscaled) >= pow10(to.precision)) return undefined;
      return unscaled;
    }
    case 'date32': {
      if (from.kind === 'utf8' && typeof v === 'string') return parseDate(v) ?? undefined;
      if (from.kind === 'timestamp' && typeof v === 'number') return v % MICROS_PER_DAY === 0 ? v / MICROS_PER_DAY : undefined;
      return undefined;
    }
    case 'timestamp': {
      if (from.kind === 'utf8' && typeof v === 'string') return parseTimestamp(v) ?? undefined;
      if (from.kind === 'date32' && typeof v === 'number') return v * MICROS_PER_DAY;
      return undefined;
    }
    default:
      return undefined;
  }
}

function numericValue(v: LiteralValue, t: DataType): number | undefined {
  if (typeof v !== 'number') return undefined;
  if (t.kind === 'int32' || t.kind === 'int64' || t.kind === 'float64') return v;
  if (t.kind === 'decimal') return v / pow10(t.scale);
  return undefined;
}
