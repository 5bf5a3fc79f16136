// Row comparison for differential tests: values normalized to plain JS (numbers, strings, ISO dates, null),
// floats compared with a relative tolerance, and unordered results compared as sorted multisets.
import { expect } from 'vitest';

export type Plain = null | number | string | boolean;

/** A value from either engine in comparable form: bigint/decimal → number, Date → ISO date or timestamp text. */
export function plain(v: unknown): Plain {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) {
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('T', ' ').replace('Z', '');
  }
  if (typeof v === 'object') {
    // DuckDB value objects (decimal, date, timestamp) print as SQL text.
    const s = String(v);
    const n = Number(s);
    if (s !== '' && !Number.isNaN(n) && /^-?[\d.]+(e[+-]?\d+)?$/i.test(s)) return n;
    if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.test(s)) return s.length === 19 ? `${s}.000` : s.slice(0, 23).padEnd(23, '0');
    return s;
  }
  return String(v);
}

export function plainRows(rows: readonly Record<string, unknown>[], columns?: readonly string[]): Plain[][] {
  return rows.map((r) => (columns ?? Object.keys(r)).map((c) => plain(r[c])));
}

function cmp(a: Plain, b: Plain): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

function sortRows(rows: Plain[][]): Plain[][] {
  return [...rows].sort((x, y) => {
    for (let i = 0; i < x.length; i++) {
      const c = cmp(x[i]!, y[i]!);
      if (c !== 0) return c;
    }
    return 0;
  });
}

function close(a: Plain, b: Plain, rel: number): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) && Number.isNaN(b)) return true;
    return Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return false;
}

/** Asserts equal results; `ordered` compares row order too. Prints the first differing row on failure. */
export function expectSameRows(actual: Plain[][], expected: Plain[][], options: { ordered?: boolean; rel?: number } = {}): void {
  const rel = options.rel ?? 1e-9;
  expect(actual.length, 'row count').toBe(expected.length);
  const a = options.ordered ? actual : sortRows(actual);
  const e = options.ordered ? expected : sortRows(expected);
  for (let i = 0; i < a.length; i++) {
    const ra = a[i]!;
    const re = e[i]!;
    const same = ra.length === re.length && ra.every((v, j) => close(v, re[j]!, rel));
    if (!same) expect(ra, `row ${i}`).toEqual(re);
  }
}
