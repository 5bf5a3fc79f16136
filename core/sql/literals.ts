// SQL literals and type names → Squall literals and data types, with DuckDB's typing of numeric literals, and
// constant interval arithmetic on dates.
import { type Expr, literal } from '../expr/expr.ts';
import { type DataType, DataTypes } from '../types/data-type.ts';
import { AnalysisError, UnsupportedError } from '../types/errors.ts';

const INT32_MAX = 2 ** 31 - 1;

/**
 * A numeric literal typed as DuckDB types it: integers are int32 when they fit, else int64; numbers with a
 * decimal point are DECIMAL(p, s) with s the digits after the point (double if p > 18); exponents are double.
 */
export function numberLiteral(value: number | string): Expr {
  const text = String(value).trim();
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new UnsupportedError(`integer literal ${text} is outside the exact int64 range Squall supports (±2^53)`);
    return literal(n, Math.abs(n) <= INT32_MAX ? DataTypes.int32 : DataTypes.int64);
  }
  const m = /^(-?)(\d*)\.(\d*)$/.exec(text);
  if (m) {
    const whole = m[2]!.replace(/^0+/, '');
    const frac = m[3]!;
    const precision = Math.max(1, whole.length + frac.length, frac.length);
    if (precision <= 18) {
      const unscaled = Number(`${m[1]}${whole || '0'}${frac}`);
      return literal(unscaled, DataTypes.decimal(precision, frac.length));
    }
  }
  const n = Number(text);
  if (Number.isNaN(n)) throw new AnalysisError(`invalid numeric literal '${text}'`);
  return literal(n, DataTypes.float64);
}

/** Days since the epoch of an ISO date `YYYY-MM-DD`. */
export function parseDate(text: string): number {
  const m = /^\s*(-?\d{1,6})-(\d{1,2})-(\d{1,2})\s*$/.exec(text);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const ms = Date.UTC(y, mo - 1, d);
    const back = new Date(ms);
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d) return ms / 86400000;
  }
  throw new AnalysisError(`invalid date literal '${text}': expected YYYY-MM-DD`);
}

/** Microseconds since the epoch of `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`. */
export function parseTimestamp(text: string): number {
  const m = /^\s*(\d{4}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*$/.exec(text);
  if (!m) throw new AnalysisError(`invalid timestamp literal '${text}': expected YYYY-MM-DD HH:MM:SS`);
  const days = parseDate(m[1]!);
  const [h, mi, s] = [Number(m[2] ?? 0), Number(m[3] ?? 0), Number(m[4] ?? 0)];
  if (h > 23 || mi > 59 || s > 59) throw new AnalysisError(`invalid timestamp literal '${text}'`);
  const micros = Number((m[5] ?? '').padEnd(6, '0'));
  return ((days * 86400 + h * 3600 + mi * 60 + s) * 1e6) + micros;
}

export const dateLiteral = (text: string): Expr => literal(parseDate(text), DataTypes.date32);
export const timestampLiteral = (text: string): Expr => literal(parseTimestamp(text), DataTypes.timestamp);

/** A constant interval: whole months plus whole days (the units date arithmetic needs). */
export interface Interval {
  readonly months: number;
  readonly days: number;
}

const INTERVAL_UNITS: Record<string, Interval> = {
  year: { months: 12, days: 0 },
  years: { months: 12, days: 0 },
  quarter: { months: 3, days: 0 },
  quarters: { months: 3, days: 0 },
  month: { months: 1, days: 0 },
  months: { months: 1, days: 0 },
  week: { months: 0, days: 7 },
  weeks: { months: 0, days: 7 },
  day: { months: 0, days: 1 },
  days: { months: 0, days: 1 },
};

/** `INTERVAL '3' MONTH`, `INTERVAL '90 days'`, `INTERVAL 1 YEAR`. */
export function parseInterval(value: string, unit: string | null | undefined): Interval {
  let text = value.trim();
  let u = (unit ?? '').toLowerCase();
  if (!u) {
    const m = /^(-?\d+)\s+([a-z]+)$/i.exec(text);
    if (!m) throw new UnsupportedError(`an interval needs a unit: use INTERVAL 'n' DAY, WEEK, MONTH, QUARTER or YEAR`);
    text = m[1]!;
    u = m[2]!.toLowerCase();
  }
  const base = INTERVAL_UNITS[u];
  if (!base) throw new UnsupportedError(`interval unit ${u.toUpperCase()}: use DAY, WEEK, MONTH, QUARTER or YEAR`);
  if (!/^-?\d+$/.test(text)) throw new UnsupportedError(`only whole numbers of ${u.toUpperCase()} are supported`);
  const n = Number(text);
  return { months: base.months * n, days: base.days * n };
}

/** date + interval on a date given as days since the epoch; months clamp to the month's last day (DuckDB). */
export function addInterval(days: number, iv: Interval, sign: 1 | -1): number {
  let out = days;
  if (iv.months) {
    const d = new Date(out * 86400000);
    const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + sign * iv.months;
    const y = Math.floor(total / 12);
    const mo = total - y * 12;
    const last = new Date(Date.UTC(y, mo + 1, 0)).getUTCDate();
    out = Date.UTC(y, mo, Math.min(d.getUTCDate(), last)) / 86400000;
  }
  return out + sign * iv.days;
}

/** A SQL type name (as node-sql-parser reports it) → DataType. */
export function sqlType(target: { dataType?: string; length?: number; scale?: number }): DataType {
  const name = String(target.dataType ?? '').toUpperCase().replace(/\s+/g, ' ');
  switch (name) {
    case 'INT':
    case 'INTEGER':
    case 'INT4':
    case 'SMALLINT':
    case 'INT2':
    case 'TINYINT':
      return DataTypes.int32;
    case 'BIGINT':
    case 'INT8':
    case 'LONG':
      return DataTypes.int64;
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
    case 'FLOAT':
    case 'FLOAT8':
    case 'FLOAT4':
    case 'REAL':
      return DataTypes.float64;
    case 'DECIMAL':
    case 'NUMERIC': {
      // DuckDB's DECIMAL without arguments is DECIMAL(18,3).
      const p = target.length ?? 18;
      const s = target.scale ?? (target.length === undefined ? 3 : 0);
      if (p > 18) throw new UnsupportedError(`DECIMAL(${p},${s}): precision above 18 is not supported`);
      return DataTypes.decimal(p, s);
    }
    case 'VARCHAR':
    case 'TEXT':
    case 'STRING':
    case 'CHAR':
    case 'CHARACTER':
    case 'CHARACTER VARYING':
    case 'BPCHAR':
      return DataTypes.utf8;
    case 'DATE':
      return DataTypes.date32;
    case 'TIMESTAMP':
    case 'DATETIME':
      return DataTypes.timestamp;
    case 'BOOLEAN':
    case 'BOOL':
      return DataTypes.bool;
    default:
      throw new UnsupportedError(`type ${name || '(unknown)'} is not supported in CAST; use INTEGER, BIGINT, DOUBLE, DECIMAL(p,s), VARCHAR, DATE, TIMESTAMP or BOOLEAN`);
  }
}
