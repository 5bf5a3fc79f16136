// Calendar arithmetic on date32 (days since 1970-01-01) and timestamp (microseconds) values as plain numbers:
// proleptic Gregorian, no time zones (DuckDB's DATE and TIMESTAMP). Used by the kernels and by casts.

export const MICROS_PER_DAY = 86_400_000_000;

/** Floor division for integers held in doubles, exact within ±2^53. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  const r = a - q * b;
  if (r < 0) q -= 1;
  else if (r >= b) q += 1;
  return q;
}

/** [year, month 1..12, day 1..31] of a day number (Howard Hinnant's civil_from_days). */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d];
}

/** Day number of a civil date (days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

export const yearOf = (days: number): number => civilFromDays(days)[0];
export const monthOf = (days: number): number => civilFromDays(days)[1];
export const dayOf = (days: number): number => civilFromDays(days)[2];

/** 0 = Sunday … 6 = Saturday (DuckDB's dow). */
export const dayOfWeek = (days: number): number => (((days + 4) % 7) + 7) % 7;

export function dayOfYear(days: number): number {
  return days - daysFromCivil(yearOf(days), 1, 1) + 1;
}

/** ISO-8601 week number (DuckDB's week). */
export function isoWeek(days: number): number {
  const mondayBased = (dayOfWeek(days) + 6) % 7;
  const thursday = days - mondayBased + 3;
  const y = yearOf(thursday);
  return Math.floor((thursday - daysFromCivil(y, 1, 1)) / 7) + 1;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

export function formatDate(days: number): string {
  const [y, m, d] = civilFromDays(days);
  const ys = y < 0 ? `-${pad(-y, 4)}` : pad(y, 4);
  return `${ys}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` with trailing zeros of the fraction dropped (DuckDB's format). */
export function formatTimestamp(micros: number): string {
  const days = floorDiv(micros, MICROS_PER_DAY);
  let rest = micros - days * MICROS_PER_DAY;
  const us = rest % 1_000_000;
  rest = (rest - us) / 1_000_000;
  const s = rest % 60;
  const mi = ((rest - s) / 60) % 60;
  const h = Math.floor(rest / 3600);
  let out = `${formatDate(days)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`;
  if (us !== 0) out += `.${pad(us, 6).replace(/0+$/, '')}`;
  return out;
}

const DATE_RE = /^\s*(-?\d{1,6})-(\d{1,2})-(\d{1,2})/;
const TIME_RE = /^[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?/;

/** Day number of 'YYYY-MM-DD' (surrounding spaces allowed), or null if the text is not a valid date. */
export function parseDate(text: string): number | null {
  const m = DATE_RE.exec(text);
  if (!m || text.slice(m[0].length).trim() !== '') return null;
  return civilDays(+m[1]!, +m[2]!, +m[3]!);
}

function civilDays(y: number, mo: number, d: number): number | null {
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  return daysFromCivil(y, mo, d);
}

/** Microseconds of 'YYYY-MM-DD[ |T]HH:MM[:SS[.f]]' or a bare date, or null if invalid. */
export function parseTimestamp(text: string): number | null {
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const days = civilDays(+m[1]!, +m[2]!, +m[3]!);
  if (days === null) return null;
  let rest = text.slice(m[0].length);
  let micros = 0;
  const t = TIME_RE.exec(rest);
  if (t) {
    const h = +t[1]!;
    const mi = +t[2]!;
    const s = t[3] !== undefined ? +t[3] : 0;
    if (h > 23 || mi > 59 || s > 59) return null;
    const frac = t[4] !== undefined ? Math.round(Number(`0.${t[4]}`) * 1_000_000) : 0;
    micros = ((h * 60 + mi) * 60 + s) * 1_000_000 + frac;
    rest = rest.slice(t[0].length);
  }
  if (rest.trim() !== '') return null;
  return days * MICROS_PER_DAY + micros;
}

/** `date_diff(unit, a, b)` over day numbers: unit boundaries crossed going from a to b (DuckDB). */
export function dateDiffDays(unit: string, a: number, b: number): number {
  switch (unit) {
    case 'day':
      return b - a;
    case 'week':
      return Math.trunc((b - a) / 7);
    case 'month': {
      const [y1, m1] = civilFromDays(a);
      const [y2, m2] = civilFromDays(b);
      return y2 * 12 + m2 - (y1 * 12 + m1);
    }
    case 'quarter': {
      const [y1, m1] = civilFromDays(a);
      const [y2, m2] = civilFromDays(b);
      return y2 * 4 + Math.floor((m2 - 1) / 3) - (y1 * 4 + Math.floor((m1 - 1) / 3));
    }
    case 'year':
      return yearOf(b) - yearOf(a);
    case 'hour':
      return (b - a) * 24;
    case 'minute':
      return (b - a) * 1440;
    case 'second':
      return (b - a) * 86400;
  }
  throw new RangeError(`unknown date_diff unit ${unit}`);
}

/** `date_diff(unit, a, b)` over timestamps (microseconds). */
export function dateDiffMicros(unit: string, a: number, b: number): number {
  switch (unit) {
    case 'hour':
      return floorDiv(b, 3_600_000_000) - floorDiv(a, 3_600_000_000);
    case 'minute':
      return floorDiv(b, 60_000_000) - floorDiv(a, 60_000_000);
    case 'second':
      return floorDiv(b, 1_000_000) - floorDiv(a, 1_000_000);
    default:
      return dateDiffDays(unit, floorDiv(a, MICROS_PER_DAY), floorDiv(b, MICROS_PER_DAY));
  }
}

/** `extract(field, d)` of a day number. */
export function extractFromDays(field: string, days: number): number {
  switch (field) {
    case 'year':
      return yearOf(days);
    case 'quarter':
      return Math.floor((monthOf(days) - 1) / 3) + 1;
    case 'month':
      return monthOf(days);
    case 'day':
      return dayOf(days);
    case 'dow':
      return dayOfWeek(days);
    case 'doy':
      return dayOfYear(days);
    case 'week':
      return isoWeek(days);
    case 'hour':
    case 'minute':
    case 'second':
      return 0;
    case 'epoch':
      return days * 86400;
  }
  throw new RangeError(`unknown extract field ${field}`);
}

/** `extract(field, t)` of a timestamp in microseconds. */
export function extractFromMicros(field: string, micros: number): number {
  const days = floorDiv(micros, MICROS_PER_DAY);
  const secondsOfDay = Math.floor((micros - days * MICROS_PER_DAY) / 1_000_000);
  switch (field) {
    case 'hour':
      return Math.floor(secondsOfDay / 3600);
    case 'minute':
      return Math.floor(secondsOfDay / 60) % 60;
    case 'second':
      return secondsOfDay % 60;
    case 'epoch':
      return micros / 1_000_000;
    default:
      return extractFromDays(field, days);
  }
}
