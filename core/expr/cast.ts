// Value conversions used by CAST kernels: text parsing and formatting as DuckDB does it, and the rounding
// rules (half away from zero for decimals and text, half to even for float64 → integer, as DuckDB).
import { DataError } from '../types/errors.ts';
import { formatDate, formatTimestamp, parseDate, parseTimestamp } from './dates.ts';

export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

export const MAX_SAFE = 9007199254740991;

export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** Round half to even (C's nearbyint), which DuckDB uses for float64 → integer casts. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** a / b rounded half away from zero, exact for integers within ±2^53 and b a power of ten. */
export function divRoundHalfAway(a: number, b: number): number {
  const neg = a < 0;
  const x = neg ? -a : a;
  let q = Math.floor(x / b);
  let r = x - q * b;
  if (r < 0) {
    q -= 1;
    r += b;
  } else if (r >= b) {
    q += 1;
    r -= b;
  }
  if (2 * r >= b) q += 1;
  return neg ? -q : q;
}

/** round(x, digits) for float64, half away from zero (DuckDB's round). */
export function roundDouble(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  if (digits >= 0) {
    const p = 10 ** digits;
    const scaled = x * p;
    if (!Number.isFinite(scaled)) return x;
    return roundHalfAway(scaled) / p;
  }
  const p = 10 ** -digits;
  return roundHalfAway(x / p) * p;
}

/** Text of a float64 as DuckDB prints it: shortest round-trip digits, `1.0`, `1e-05`, `1e+16`, `inf`, `nan`. */
export function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const exp = x.toExponential(); // shortest digits, e.g. "1.2345e+2"
  const at = exp.indexOf('e');
  const e = Number(exp.slice(at + 1));
  if (e >= -4 && e < 16) {
    const s = String(x); // fixed notation for 1e-7 < |x| < 1e21
    return s.includes('.') ? s : `${s}.0`;
  }
  const mantissa = exp.slice(0, at);
  const abs = Math.abs(e);
  return `${mantissa}e${e < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
}

/** Text of a decimal's unscaled value: `12.50`, `-0.05`. */
export function formatDecimal(unscaled: number, scale: number): string {
  const neg = unscaled < 0;
  const digits = String(neg ? -unscaled : unscaled);
  if (scale === 0) return neg ? `-${digits}` : digits;
  const padded = digits.padStart(scale + 1, '0');
  const body = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  return neg ? `-${body}` : body;
}

const NUMBER_RE = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const SPECIAL_RE = /^\s*([+-]?)(inf|infinity|nan)\s*$/i;

/** A float64 from text, or null if the text is not a number. */
export function parseDouble(text: string): number | null {
  if (NUMBER_RE.test(text)) return Number(text);
  const m = SPECIAL_RE.exec(text);
  if (!m) return null;
  if (m[2]!.toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

/** Unscaled decimal value of text at `scale` (exact digit arithmetic, half away from zero), or null. */
export function parseDecimalText(text: string, scale: number): number | null {
  const t = text.trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) {
    const d = NUMBER_RE.test(t) ? Number(t) : null; // exponent notation
    return d === null ? null : roundHalfAway(d * POW10[scale]!);
  }
  const whole = m[2] === '' ? '0' : m[2]!;
  const frac = m[3] ?? '';
  const kept = (frac + '0'.repeat(scale)).slice(0, scale);
  let v = Number(whole + kept);
  if (frac.length > scale && frac.charCodeAt(scale) >= 53 /* '5' */) v += 1;
  return m[1] === '-' ? -v : v;
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

export function parseBool(text: string): boolean | null {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  return null;
}

function castError(message: string, value: string): DataError {
  return new DataError(message.replace('%s', `'${value}'`));
}

/**
 * The conversions CAST kernels call per row. Each takes the error message (with `%s` where the bad value
 * goes, e.g. "cannot cast %s to int32 in CAST(name AS int32)") so the error names the expression.
 */
export const castLib = {
  formatDouble,
  formatDecimal,
  formatDate,
  formatTimestamp,
  textToInt(text: string, min: number, max: number, message: string): number {
    const d = NUMBER_RE.test(text) ? Number(text) : NaN;
    const v = roundHalfAway(d);
    if (!(v >= min && v <= max)) throw castError(message, text);
    return v;
  },
  textToDouble(text: string, message: string): number {
    const v = parseDouble(text);
    if (v === null) throw castError(message, text);
    return v;
  },
  textToDecimal(text: string, scale: number, limit: number, message: string): number {
    const v = parseDecimalText(text, scale);
    if (v === null || !(Math.abs(v) < limit)) throw castError(message, text);
    return v;
  },
  textToBool(text: string, message: string): boolean {
    const v = parseBool(text);
    if (v === null) throw castError(message, text);
    return v;
  },
  textToDate(text: string, message: string): number {
    const v = parseDate(text);
    if (v === null) throw castError(message, text);
    return v;
  },
  textToTimestamp(text: string, message: string): number {
    const v = parseTimestamp(text);
    if (v === null) throw castError(message, text);
    return v;
  },
  /** Raise the cast error for a value that is out of the target's range. */
  outOfRange(value: string, message: string): never {
    throw castError(message, value);
  },
};
