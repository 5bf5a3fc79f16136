import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeBatch, makeColumn } from '../../core/arrow/column.ts';
import { compileExpr, compilePredicate, compileProjection, explainKernel, kernelCacheStats } from '../../core/expr/compile.ts';
import {
  type Expr, alias, between, binary, call, caseWhen, cast, column, inList, isNull, like, literal, negate, not,
} from '../../core/expr/expr.ts';
import { type DataType, DataTypes } from '../../core/types/data-type.ts';
import { AnalysisError, DataError } from '../../core/types/errors.ts';
import { type Schema, field, schema } from '../../core/types/schema.ts';
import { type Value, batchFrom, valuesOf } from './batches.ts';

const c = column;
const i32 = (v: number | null) => literal(v, v === null ? DataTypes.null : DataTypes.int32);
const i64 = (v: number) => literal(v, DataTypes.int64);
const str = (v: string) => literal(v, DataTypes.utf8);
const f64 = (v: number) => literal(v, DataTypes.float64);
const bool = (v: boolean | null) => literal(v, v === null ? DataTypes.null : DataTypes.bool);

/** Evaluate expressions over columns given as JS values; returns one JS array per expression. */
function run(s: Schema, columns: Value[][], exprs: Expr[], dictionary: string[] = []): Value[][] {
  const batch = batchFrom(s, columns, dictionary);
  const p = compileProjection(exprs, s);
  const out = p.project(batch);
  return p.schema.fields.map((f, i) => valuesOf(out.getChildAt(i)!.data[0]!, f.type));
}

function one(s: Schema, columns: Value[][], e: Expr, dictionary: string[] = []): Value[] {
  return run(s, columns, [e], dictionary)[0]!;
}

const ints = schema([field('a', DataTypes.int32), field('b', DataTypes.int32)]);
const longs = schema([field('x', DataTypes.int64), field('y', DataTypes.int64)]);

describe('arithmetic', () => {
  it('propagates nulls and handles empty batches', () => {
    expect(one(ints, [[1, null, 3, 4], [10, 20, null, -4]], binary('+', c('a'), c('b')))).toEqual([11, null, null, 0]);
    expect(one(ints, [[], []], binary('*', c('a'), c('b')))).toEqual([]);
  });

  it('raises DataError on int32 overflow, but not on null rows', () => {
    expect(() => one(ints, [[2147483647], [1]], binary('+', c('a'), c('b')))).toThrow(new DataError('int32 overflow in (a + b)'));
    expect(() => one(ints, [[-2147483648], [1]], negate(c('a')))).toThrow(DataError);
    // The null row holds a value that would overflow; it must not raise.
    const batch = batchFrom(ints, [[1, 2], [1, 1]]);
    const a = batch.getChildAt(0)!.data[0]!;
    (a.values as Int32Array)[1] = 2147483647;
    const withNull = makeBatch(batch.schema, [makeColumn(DataTypes.int32, 2, a.values as Int32Array, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])), batch.getChildAt(1)!.data[0]!], 2);
    const out = compileProjection([binary('+', c('a'), c('b'))], ints).project(withNull);
    expect(valuesOf(out.getChildAt(0)!.data[0]!, DataTypes.int32)).toEqual([2, null]);
  });

  it('computes int64 exactly beyond 2^31 (beyond 2^53 through the exact fallback) and refuses overflow', () => {
    const big = 3_000_000_000;
    expect(one(longs, [[big, -big, null], [big, 7, 1]], binary('+', c('x'), c('y')))).toEqual([6_000_000_000, -2_999_999_993, null]);
    expect(one(longs, [[2 ** 40], [-(2 ** 12)]], binary('*', c('x'), c('y')))).toEqual([-(2 ** 52)]);
    expect(one(longs, [[2 ** 40], [2 ** 14 + 1]], binary('*', c('x'), c('y')))).toEqual([2 ** 54 + 2 ** 40]);
    expect(() => one(longs, [[2 ** 40], [2 ** 30]], binary('*', c('x'), c('y')))).toThrow('int64 overflow in (x * y)');
    // Output is a real Int64 column.
    const out = compileProjection([binary('-', c('x'), c('y'))], longs).project(batchFrom(longs, [[-big], [1]]));
    expect((out.getChildAt(0)!.data[0]!.values as BigInt64Array)[0]).toBe(BigInt(-big - 1));
  });

  it('divides to float64 and makes division and modulo by zero NULL', () => {
    expect(one(ints, [[7, 1, 5, null], [2, 0, -2, 1]], binary('/', c('a'), c('b')))).toEqual([3.5, null, -2.5, null]);
    expect(one(ints, [[7, 1, -7], [2, 0, 2]], binary('%', c('a'), c('b')))).toEqual([1, null, -1]);
  });

  it('computes decimals on unscaled values with Spark/DuckDB result scales', () => {
    const s = schema([field('p', DataTypes.decimal(10, 2)), field('q', DataTypes.decimal(5, 1)), field('n', DataTypes.int32)]);
    const cols: Value[][] = [[125, -5, null, 99999], [15, 10, 3, -1], [2, 3, 4, 5]];
    expect(one(s, cols, binary('+', c('p'), c('q')))).toEqual([2.75, 0.95, null, 999.89]);
    expect(one(s, cols, binary('*', c('p'), c('q')))).toEqual([1.875, -0.05, null, -99.999]);
    expect(one(s, cols, binary('-', c('p'), c('n')))).toEqual([-0.75, -3.05, null, 994.99]);
    expect(one(s, cols, binary('/', c('p'), c('n')))).toEqual([0.625, -0.05 / 3, null, 199.998]);
    expect(one(s, cols, call('round', [c('p'), i32(1)]))).toEqual([1.3, -0.1, null, 1000]);
    expect(one(s, cols, call('floor', [c('p')]))).toEqual([1, -1, null, 999]);
    expect(one(s, cols, call('ceil', [c('p')]))).toEqual([2, 0, null, 1000]);
    // Decimal64 layout: an int64 as two little-endian words, negative values in two's complement.
    const out = compileProjection([binary('-', c('q'), c('p'))], s).project(batchFrom(s, cols));
    expect((out.schema.fields[0]!.type as import('apache-arrow').Decimal).bitWidth).toBe(64);
    const words = out.getChildAt(0)!.data[0]!.values as Uint32Array;
    expect([...words.subarray(0, 2)]).toEqual([25, 0]);
    expect([...words.subarray(6, 8)]).toEqual([2 ** 32 - 100009, 2 ** 32 - 1]);
  });
});

describe('comparisons and logic', () => {
  const s = schema([field('a', DataTypes.bool), field('b', DataTypes.bool)]);
  const A: Value[] = [true, true, true, false, false, false, null, null, null];
  const B: Value[] = [true, false, null, true, false, null, true, false, null];

  it('AND/OR/NOT follow three-valued logic', () => {
    expect(one(s, [A, B], binary('and', c('a'), c('b')))).toEqual([true, false, null, false, false, false, null, false, null]);
    expect(one(s, [A, B], binary('or', c('a'), c('b')))).toEqual([true, true, true, true, false, null, true, null, null]);
    expect(one(s, [A, B], not(c('a')))).toEqual([false, false, false, true, true, true, null, null, null]);
    expect(one(s, [A, B], isNull(c('a')))).toEqual([false, false, false, false, false, false, true, true, true]);
    expect(one(s, [A, B], isNull(c('b'), true))).toEqual([true, true, false, true, true, false, true, true, false]);
  });

  it('compares with NULL as NULL, IN with NULLs, BETWEEN inclusively', () => {
    expect(one(ints, [[1, 2, null], [2, 2, 2]], binary('<', c('a'), c('b')))).toEqual([true, false, null]);
    expect(one(ints, [[1, 2, null], [0, 0, 0]], binary('=', c('a'), i32(null)))).toEqual([null, null, null]);
    const list = [i32(1), i32(3), i32(null)];
    expect(one(ints, [[1, 2, null], [0, 0, 0]], inList(c('a'), list))).toEqual([true, null, null]);
    expect(one(ints, [[1, 2, null], [0, 0, 0]], inList(c('a'), list, true))).toEqual([false, null, null]);
    expect(one(ints, [[1, 2, 5], [0, 0, 0]], inList(c('a'), [i32(1), i32(3)], true))).toEqual([false, true, true]);
    const many = [1, 3, 5, 7, 9, 11, 13, 15].map(i32);
    expect(one(ints, [[1, 2, 15, null], [0, 0, 0, 0]], inList(c('a'), many))).toEqual([true, false, true, null]);
    expect(one(ints, [[1, 2, 3, 4, null], [0, 0, 0, 0, 0]], between(c('a'), i32(2), i32(3)))).toEqual([false, true, true, false, null]);
    expect(one(ints, [[1, 2, 3, 4], [0, 0, 0, 0]], between(c('a'), i32(2), i32(3), true))).toEqual([true, false, false, true]);
  });

  it('compares across numeric types, and dates with string literals', () => {
    const s2 = schema([field('a', DataTypes.int32), field('p', DataTypes.decimal(6, 2)), field('d', DataTypes.date32)]);
    const cols: Value[][] = [[1, 2, 3], [100, 250, 299], [18262, 18263, 18264]];
    expect(one(s2, cols, binary('=', c('a'), c('p')))).toEqual([true, false, false]);
    expect(one(s2, cols, binary('<', c('p'), f64(2.5)))).toEqual([true, false, false]);
    expect(one(s2, cols, binary('>=', c('d'), str('2020-01-02')))).toEqual([false, true, true]);
    expect(() => compileProjection([binary('>', c('d'), str('not a date'))], s2)).toThrow(/cannot read 'not a date' as a date32/);
  });

  it('compiles predicates to selected row indices (TRUE only)', () => {
    const p = compilePredicate(binary('or', binary('>', c('a'), i32(1)), isNull(c('b'))), ints);
    expect([...p.select(batchFrom(ints, [[0, 2, null, 1, 3], [1, 1, null, null, 5]]))]).toEqual([1, 2, 3, 4]);
    expect([...p.select(batchFrom(ints, [[], []]))]).toEqual([]);
    expect(() => compilePredicate(c('a'), ints)).toThrow(/filter condition must be bool, got int32/);
  });
});

describe('strings', () => {
  const s = schema([field('s', DataTypes.utf8), field('n', DataTypes.int32)]);
  const S: Value[] = ['apple', 'Banana', null, 'a_b', 'a%b', '', 'héllo😀'];
  const N: Value[] = S.map(() => 1);

  it('evaluates LIKE with %, _, escapes and ILIKE, on plain and dictionary columns', () => {
    for (const dict of [[], ['s']]) {
      expect(one(s, [S, N], like(c('s'), 'a%'), dict)).toEqual([true, false, null, true, true, false, false]);
      expect(one(s, [S, N], like(c('s'), '%an%'), dict)).toEqual([false, true, null, false, false, false, false]);
      expect(one(s, [S, N], like(c('s'), 'a\\_b'), dict)).toEqual([false, false, null, true, false, false, false]);
      expect(one(s, [S, N], like(c('s'), 'a_b'), dict)).toEqual([false, false, null, true, true, false, false]);
      expect(one(s, [S, N], like(c('s'), 'b%', false, true), dict)).toEqual([false, true, null, false, false, false, false]);
      expect(one(s, [S, N], like(c('s'), 'h_llo_'), dict)).toEqual([false, false, null, false, false, false, true]);
      expect(one(s, [S, N], like(c('s'), '%', true), dict)).toEqual([false, false, null, false, false, false, false]);
    }
  });

  it('applies string functions (characters are code points)', () => {
    expect(one(s, [S, N], call('length', [c('s')]))).toEqual([5, 6, null, 3, 3, 0, 6]);
    expect(one(s, [S, N], call('upper', [c('s')]), ['s'])).toEqual(['APPLE', 'BANANA', null, 'A_B', 'A%B', '', 'HÉLLO😀']);
    expect(one(s, [S, N], call('substring', [c('s'), i32(2), i32(3)]))).toEqual(['ppl', 'ana', null, '_b', '%b', '', 'éll']);
    expect(one(s, [S, N], call('substring', [c('s'), i32(-3)]))).toEqual(['ple', 'ana', null, 'a_b', 'a%b', '', 'lo😀']);
    expect(one(s, [S, N], call('substring', [c('s'), i32(0), i32(2)]))).toEqual(['a', 'B', null, 'a', 'a', '', 'h']);
    expect(one(s, [S, N], call('concat', [c('s'), str('-'), c('n')]))).toEqual(['apple-1', 'Banana-1', null, 'a_b-1', 'a%b-1', '-1', 'héllo😀-1']);
    expect(one(s, [[' x  ', null], [1, 1]], call('trim', [c('s')]))).toEqual(['x', null]);
    expect(one(s, [[' x  '], [1]], call('ltrim', [c('s')]))).toEqual(['x  ']);
    expect(one(s, [['banana'], [1]], call('replace', [c('s'), str('an'), str('AN')]))).toEqual(['bANANa']);
    expect(one(s, [['banana'], [1]], call('replace', [c('s'), str(''), str('X')]))).toEqual(['banana']);
    expect(one(s, [S, N], call('starts_with', [c('s'), str('a')]), ['s'])).toEqual([true, false, null, true, true, false, false]);
  });

  it('evaluates dictionary columns once per entry and maps codes', () => {
    const e = binary('=', c('s'), str('apple'));
    const source = explainKernel(e, s, { layouts: new Map([[0, { dictionary: true, nulls: true }]]) });
    expect(source).toContain('lib.dictEval(cols[0]');
    expect(source).toMatch(/q0\[i\]/); // the row loop reads integer codes only
    expect(source).not.toContain('lib.strings');
    const rows: Value[] = ['apple', 'pear', null, 'apple', 'fig'];
    expect(one(s, [rows, rows.map(() => 1)], e, ['s'])).toEqual([true, false, null, true, false]);
    expect(one(s, [rows, rows.map(() => 1)], isNull(call('upper', [c('s')])), ['s'])).toEqual([false, false, true, false, false]);
    // A plain reference passes the dictionary column through untouched.
    const batch = batchFrom(s, [rows, rows.map(() => 1)], ['s']);
    const out = compileProjection([c('s'), alias(c('n'), 'm')], s).project(batch);
    expect(out.getChildAt(0)!.data[0]).toBe(batch.getChildAt(0)!.data[0]);
    expect(out.schema.fields.map((f) => f.name)).toEqual(['s', 'm']);
  });

  it('does not raise errors for dictionary entries that no row uses', () => {
    // The dictionary keeps 'abc' although the batch has no row with it; CAST is not evaluated per entry.
    const batch = batchFrom(s, [['abc', '12', '7'], [1, 1, 1]], ['s']);
    const kept = makeBatch(batch.schema, [arrow.makeData({ ...batch.getChildAt(0)!.data[0]!, type: batch.getChildAt(0)!.data[0]!.type, length: 2, data: new Int32Array([1, 2]), nullCount: 0, dictionary: batch.getChildAt(0)!.data[0]!.dictionary! }), makeColumn(DataTypes.int32, 2, new Int32Array([1, 1]), null)], 2);
    const out = compileProjection([cast(c('s'), DataTypes.int32)], s).project(kept);
    expect(valuesOf(out.getChildAt(0)!.data[0]!, DataTypes.int32)).toEqual([12, 7]);
  });
});

describe('casts', () => {
  const s = schema([field('s', DataTypes.utf8), field('f', DataTypes.float64), field('p', DataTypes.decimal(6, 2)), field('d', DataTypes.date32)]);
  const cols = (over: Partial<Record<'s' | 'f' | 'p' | 'd', Value[]>>): Value[][] => {
    const n = Object.values(over)[0]!.length;
    const fill = (k: 's' | 'f' | 'p' | 'd', v: Value) => over[k] ?? Array(n).fill(v);
    return [fill('s', 'x'), fill('f', 0), fill('p', 0), fill('d', 0)];
  };

  it('parses text, and names the expression and the bad value on failure', () => {
    expect(one(s, cols({ s: [' 12 ', '-3', '2.5', null] }), cast(c('s'), DataTypes.int32))).toEqual([12, -3, 3, null]);
    expect(() => one(s, cols({ s: ['1', 'abc'] }), cast(c('s'), DataTypes.int32))).toThrow(new DataError("cannot cast 'abc' to int32 in CAST(s AS int32)"));
    expect(one(s, cols({ s: ['1.005', '-0.125', '7'] }), cast(c('s'), DataTypes.decimal(6, 2)))).toEqual([1.01, -0.13, 7]);
    expect(one(s, cols({ s: ['2020-01-02', ' 1970-1-1 '] }), cast(c('s'), DataTypes.date32))).toEqual([18263, 0]);
    expect(one(s, cols({ s: ['true', 'F', 'yes'] }), cast(c('s'), DataTypes.bool))).toEqual([true, false, true]);
    expect(one(s, cols({ s: ['2020-01-02 03:04:05.5'] }), cast(c('s'), DataTypes.timestamp))).toEqual([1577934245500000]);
    expect(() => one(s, cols({ s: ['2020-02-30'] }), cast(c('s'), DataTypes.date32))).toThrow("cannot cast '2020-02-30' to date32 in CAST(s AS date32)");
  });

  it('formats numbers and dates as DuckDB does', () => {
    expect(one(s, cols({ f: [1, 0.1, 1e20, 1.5e-7, 123456789.125, -0, 1e15, 1e16, 0.0001, 0.00001] }), cast(c('f'), DataTypes.utf8)))
      .toEqual(['1.0', '0.1', '1e+20', '1.5e-07', '123456789.125', '-0.0', '1000000000000000.0', '1e+16', '0.0001', '1e-05']);
    expect(one(s, cols({ p: [1250, -5, 0] }), cast(c('p'), DataTypes.utf8))).toEqual(['12.50', '-0.05', '0.00']);
    expect(one(s, cols({ d: [0, 18263, -1] }), cast(c('d'), DataTypes.utf8))).toEqual(['1970-01-01', '2020-01-02', '1969-12-31']);
  });

  it('rounds float64 → integer half to even and decimal → integer half away from zero (DuckDB)', () => {
    expect(one(s, cols({ f: [2.5, -2.5, 3.5, 1.4] }), cast(c('f'), DataTypes.int32))).toEqual([2, -2, 4, 1]);
    expect(one(s, cols({ p: [250, -250, 349] }), cast(c('p'), DataTypes.int32))).toEqual([3, -3, 3]);
    expect(one(s, cols({ f: [0.125, -0.125, 1.005] }), cast(c('f'), DataTypes.decimal(4, 2)))).toEqual([0.13, -0.13, 1]);
    expect(() => one(s, cols({ f: [3e9] }), cast(c('f'), DataTypes.int32))).toThrow("cannot cast '3000000000.0' to int32 in CAST(f AS int32)");
    expect(() => one(s, cols({ p: [99999] }), cast(c('p'), DataTypes.decimal(4, 2)))).toThrow(/cannot cast '999.99' to decimal\(4,2\)/);
  });
});

describe('CASE and COALESCE', () => {
  const s = schema([field('s', DataTypes.utf8), field('n', DataTypes.int32)]);

  it('evaluates only the taken branch', () => {
    const e = caseWhen([{ when: binary('=', c('s'), str('abc')), then: i32(-1) }], cast(c('s'), DataTypes.int32));
    expect(one(s, [['abc', '5', null], [0, 0, 0]], e)).toEqual([-1, 5, null]);
    expect(one(s, [['abc', '5', null], [0, 0, 0]], caseWhen([{ when: isNull(c('s')), then: i32(0) }], null))).toEqual([null, null, 0]);
  });

  it('coalesces to the common type, lazily', () => {
    const e = call('coalesce', [c('n'), cast(c('s'), DataTypes.int64), i64(7)]);
    expect(one(s, [['x', '12', null], [1, null, null]], e)).toEqual([1, 12, 7]);
    expect(compileExpr(e, s).type).toEqual(DataTypes.int64);
  });
});

describe('dates, timestamps and math', () => {
  const s = schema([field('d', DataTypes.date32), field('t', DataTypes.timestamp), field('x', DataTypes.float64)]);
  const D: Value[] = [18263, -1, 11016, null]; // 2020-01-02, 1969-12-31, 2000-02-29
  const T: Value[] = [1577934245500000, -1, 0, null];
  const X: Value[] = [2.5, -2.5, 0.125, null];

  it('extracts fields and computes differences like DuckDB', () => {
    expect(one(s, [D, T, X], call('year', [c('d')]))).toEqual([2020, 1969, 2000, null]);
    expect(one(s, [D, T, X], call('month', [c('d')]))).toEqual([1, 12, 2, null]);
    expect(one(s, [D, T, X], call('day_of_month', [c('d')]))).toEqual([2, 31, 29, null]);
    expect(one(s, [D, T, X], call('extract', [str('dow'), c('d')]))).toEqual([4, 3, 2, null]);
    expect(one(s, [D, T, X], call('extract', [str('week'), c('d')]))).toEqual([1, 1, 9, null]);
    expect(one(s, [D, T, X], call('extract', [str('hour'), c('t')]))).toEqual([3, 23, 0, null]);
    expect(one(s, [D, T, X], call('extract', [str('epoch'), c('d')]))).toEqual([1577923200, -86400, 951782400, null]);
    const jan1 = literal(18262, DataTypes.date32);
    expect(one(s, [D, T, X], call('date_diff', [str('month'), jan1, c('d')]))).toEqual([0, -601, -239, null]);
    expect(one(s, [D, T, X], call('date_diff', [str('year'), c('d'), jan1]))).toEqual([0, 51, 20, null]);
    expect(one(s, [D, T, X], call('date_add', [c('d'), i32(30)]))).toEqual([18293, 29, 11046, null]);
    expect(one(s, [D, T, X], cast(c('t'), DataTypes.utf8))).toEqual(['2020-01-02 03:04:05.5', '1969-12-31 23:59:59.999999', '1970-01-01 00:00:00', null]);
  });

  it('rounds half away from zero, and rejects square roots and logarithms of negatives', () => {
    expect(one(s, [D, T, X], call('round', [c('x')]))).toEqual([3, -3, 0, null]);
    expect(one(s, [D, T, X], call('round', [c('x'), i32(2)]))).toEqual([2.5, -2.5, 0.13, null]);
    expect(one(s, [D, T, X], call('floor', [c('x')]))).toEqual([2, -3, 0, null]);
    expect(one(s, [D, T, X], call('abs', [c('x')]))).toEqual([2.5, 2.5, 0.125, null]);
    expect(one(s, [D, T, X], call('pow', [c('x'), f64(2)]))).toEqual([6.25, 6.25, 0.015625, null]);
    expect(() => one(s, [D, T, X], call('sqrt', [c('x')]))).toThrow('cannot take the square root of a negative number in sqrt(x)');
    expect(() => one(s, [D, T, X], call('log', [c('x')]))).toThrow(/logarithm of zero or a negative number in log\(x\)/);
  });
});

describe('kernels', () => {
  const s = schema([field('a', DataTypes.int32), field('b', DataTypes.float64), field('l', DataTypes.int64)]);

  it('generate a loop over typed arrays with validity combined after the loop', () => {
    const source = explainKernel(binary('*', c('a'), c('b')), s);
    expect(source).toContain('for (let i = 0; i < n; i++)');
    expect(source).toContain('const c0 = cols[0].values;');
    expect(source).toContain('out[i] = (c0[i] * c1[i]);');
    expect(source).toContain('new Float64Array(n)');
    const loopEnd = source.indexOf('\n}\n');
    expect(loopEnd).toBeGreaterThan(0);
    expect(source.indexOf('lib.andBitmaps(n, [m0, m1])')).toBeGreaterThan(loopEnd);
    expect(source).not.toMatch(/BigInt/);
    // int64 is read as two 32-bit words.
    expect(explainKernel(binary('+', c('l'), i64(1)), s)).toMatch(/\* 4294967296 \+ \(c0\[2 \* i\] >>> 0\)/);
    // Without nulls there is no validity work at all.
    const noNulls = explainKernel(binary('*', c('a'), c('b')), s, { layouts: new Map([[0, { dictionary: false, nulls: false }], [1, { dictionary: false, nulls: false }]]) });
    expect(noNulls).toContain('lib.andBitmaps(n, [])');
    expect(noNulls).not.toContain('nullBitmap');
  });

  it('are cached: compiling the same expression again generates and compiles nothing', () => {
    const e = binary('-', binary('*', c('a'), i32(3)), c('b'));
    const batch = batchFrom(s, [[1, 2, null], [0.5, 1, 2], [1, 1, 1]]);
    compileProjection([e], s).project(batch);
    const before = kernelCacheStats();
    const again = compileProjection([e], s).project(batch);
    expect(valuesOf(again.getChildAt(0)!.data[0]!, DataTypes.float64)).toEqual([2.5, 5, null]);
    const after = kernelCacheStats();
    expect(after.kernelsGenerated).toBe(before.kernelsGenerated);
    expect(after.functionsCompiled).toBe(before.functionsCompiled);
    expect(after.kernelCacheHits).toBeGreaterThan(before.kernelCacheHits);
    // A different literal shares the generated function (literals are constants, not source).
    compileProjection([binary('-', binary('*', c('a'), i32(4)), c('b'))], s).project(batch);
    expect(kernelCacheStats().functionsCompiled).toBe(before.functionsCompiled);
  });

  it('report analysis errors before running', () => {
    expect(() => compileProjection([binary('+', c('aa'), i32(1))], s)).toThrow(AnalysisError);
    expect(() => compileProjection([binary('+', c('aa'), i32(1))], s)).toThrow(/column 'aa' does not exist/);
    expect(() => compileProjection([call('upper', [c('a')])], s)).toThrow('upper() expects a utf8 argument, got int32 in upper(a)');
  });

  it('pass vectors through and test them for NULL', () => {
    const vs = schema([field('v', DataTypes.vector(2))]);
    const child = arrow.makeData({ type: new arrow.Float32(), length: 4, data: new Float32Array([1, 2, 3, 4]) });
    const v = arrow.makeData({ type: new arrow.FixedSizeList(2, new arrow.Field('item', new arrow.Float32(), true)), length: 2, nullCount: 1, nullBitmap: new Uint8Array([1]), child });
    const batch = makeBatch(new arrow.Schema([new arrow.Field('v', v.type, true)]), [v], 2);
    const out = compileProjection([c('v'), isNull(c('v'))], vs).project(batch);
    expect(out.getChildAt(0)!.data[0]).toBe(v);
    expect(valuesOf(out.getChildAt(1)!.data[0]!, DataTypes.bool)).toEqual([false, true]);
  });
});

// Keep `DataType` referenced for readers of the helper signatures above.
export type { DataType };
