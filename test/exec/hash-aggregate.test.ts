import { describe, expect, it, beforeAll } from 'vitest';
import { type AggregateSpec, HashAggregateExec, partialStateFields } from '../../core/exec/hash-aggregate.ts';
import { collectBatches } from '../../core/exec/collect.ts';
import { MemoryScanExec } from '../../core/exec/memory-scan.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { UnsupportedError } from '../../core/types/errors.ts';
import { expectSameRows } from '../support/compare.ts';
import { type ColSpec, type Value, loadTable, query, run, scan } from './support.ts';
import { seededRandom as rng } from '../../core/util/seeded-random.ts';

// Deterministic pseudo-random numbers (mulberry32).

const cols = (dictionary: boolean): ColSpec[] => [
  { name: 'rid', type: DataTypes.int32 },
  { name: 'k_int', type: DataTypes.int32 },
  { name: 'k_str', type: DataTypes.utf8, dictionary },
  { name: 'k_date', type: DataTypes.date32 },
  { name: 'k_bool', type: DataTypes.bool },
  { name: 'k_dec', type: DataTypes.decimal(9, 2) },
  { name: 'k_big', type: DataTypes.int64 },
  { name: 'k_flt', type: DataTypes.float64 },
  { name: 'v_int', type: DataTypes.int32 },
  { name: 'v_big', type: DataTypes.int64 },
  { name: 'v_dec', type: DataTypes.decimal(12, 3) },
  { name: 'v_flt', type: DataTypes.float64 },
  { name: 'v_str', type: DataTypes.utf8, dictionary },
  { name: 'v_ts', type: DataTypes.timestamp },
  { name: 'v_bool', type: DataTypes.bool },
  { name: 'v_date', type: DataTypes.date32 },
];

function makeRows(n: number, seed: number): Value[][] {
  const r = rng(seed);
  const maybe = (v: Value, p = 0.1): Value => (r() < p ? null : v);
  const strs = ['apple', 'Banana', 'cherry', '', 'émoji😀', 'zeta', 'a\u{10000}', 'a\uffff', "o'neil"];
  const rows: Value[][] = [];
  for (let i = 0; i < n; i++) {
    rows.push([
      i,
      maybe(Math.floor(r() * 20) - 5),
      maybe(strs[Math.floor(r() * strs.length)]!),
      maybe(18000 + Math.floor(r() * 5)),
      maybe(r() < 0.5),
      maybe(Math.floor(r() * 7) * 125 - 300),
      maybe(Math.floor(r() * 4) * 2 ** 40 - 2 ** 41),
      maybe([0, -0, 1.5, -2.25, 1e300][Math.floor(r() * 5)]!),
      maybe(Math.floor(r() * 2000) - 1000, 0.2),
      maybe(Math.floor(r() * 2 ** 45) - 2 ** 44),
      maybe(Math.floor(r() * 2000000) - 1000000),
      maybe(r() * 100 - 50),
      maybe(strs[Math.floor(r() * strs.length)]!),
      maybe(1_600_000_000_000_000 + Math.floor(r() * 1e12)),
      maybe(r() < 0.3),
      maybe(17000 + Math.floor(r() * 1000)),
    ]);
  }
  return rows;
}

const ROWS = makeRows(5000, 42);
const col = (name: string) => cols(false).findIndex((c) => c.name === name);

/** An aggregate call for both engines: our spec and DuckDB's SQL. */
interface Call {
  fn: AggregateSpec['fn'];
  arg: string | null;
}

const duckFn: Record<AggregateSpec['fn'], (a: string) => string> = {
  count: (a) => `count(${a})`,
  count_distinct: (a) => `count(DISTINCT ${a})`,
  sum: (a) => `sum(${a})`,
  avg: (a) => `avg(${a})`,
  min: (a) => `min(${a})`,
  max: (a) => `max(${a})`,
  stddev: (a) => `stddev_samp(${a})`,
  variance: (a) => `var_samp(${a})`,
  first: (a) => `first(${a} ORDER BY rid)`,
  last: (a) => `last(${a} ORDER BY rid)`,
};

const CALLS: Call[] = [
  { fn: 'count', arg: null },
  { fn: 'count', arg: 'v_int' },
  { fn: 'count_distinct', arg: 'v_str' },
  { fn: 'count_distinct', arg: 'v_int' },
  ...(['sum', 'avg', 'min', 'max', 'stddev', 'variance'] as const).flatMap((fn) =>
    ['v_int', 'v_big', 'v_dec', 'v_flt'].map((arg) => ({ fn, arg })),
  ),
  ...(['min', 'max', 'first', 'last'] as const).flatMap((fn) => ['v_str', 'v_ts', 'v_bool', 'v_date'].map((arg) => ({ fn, arg }))),
  { fn: 'first', arg: 'v_int' },
  { fn: 'last', arg: 'v_dec' },
  { fn: 'first', arg: 'v_flt' },
];

function specs(calls: Call[]): AggregateSpec[] {
  return calls.map((c, i) => ({ fn: c.fn, input: c.arg === null ? null : col(c.arg), name: `a${i}` }));
}

function duckSql(keys: string[], calls: Call[], table = 't'): string {
  const aggs = calls.map((c) => (c.arg === null ? 'count(*)' : duckFn[c.fn](c.arg)));
  const select = [...keys, ...aggs].join(', ');
  return `SELECT ${select} FROM ${table}${keys.length ? ` GROUP BY ${keys.join(', ')}` : ''}`;
}

const KEY_SETS: string[][] = [
  [],
  ['k_int'],
  ['k_str'],
  ['k_date'],
  ['k_bool'],
  ['k_dec'],
  ['k_big'],
  ['k_flt'],
  ['k_int', 'k_str'],
  ['k_str', 'k_bool', 'k_date', 'k_dec'],
];

describe('HashAggregateExec', () => {
  beforeAll(async () => {
    await loadTable('t', cols(false), ROWS);
    await loadTable('empty_t', cols(false), []);
  });

  for (const dictionary of [false, true]) {
    for (const keys of KEY_SETS) {
      it(`matches DuckDB grouping by [${keys.join(', ')}]${dictionary ? ' (dictionary strings)' : ''}`, async () => {
        const op = new HashAggregateExec(scan(cols(dictionary), ROWS, 700), keys.map(col), specs(CALLS), 'single');
        const actual = await run(op);
        const expected = await query(duckSql(keys, CALLS));
        expectSameRows(actual, expected, { rel: 1e-9 });
      });
    }
  }

  it('emits exactly one row for a global aggregate over empty input, and none when grouped', async () => {
    const global = await run(new HashAggregateExec(scan(cols(false), []), [], specs(CALLS), 'single'));
    expectSameRows(global, await query(duckSql([], CALLS, 'empty_t')));
    expect(global).toHaveLength(1);
    const grouped = await run(new HashAggregateExec(scan(cols(false), []), [col('k_int')], specs(CALLS), 'single'));
    expect(grouped).toEqual([]);
  });

  it('treats NaN as one group, -0 as 0, and NaN as the largest value', async () => {
    const c: ColSpec[] = [
      { name: 'k', type: DataTypes.float64 },
      { name: 'v', type: DataTypes.float64 },
    ];
    const rows: Value[][] = [
      [NaN, 1],
      [0, NaN],
      [-0, 2],
      [NaN, -1],
      [null, 3],
      [1, NaN],
      [1, NaN],
    ];
    await loadTable('nan_t', c, rows);
    const calls: Call[] = [
      { fn: 'min', arg: 'v' },
      { fn: 'max', arg: 'v' },
      { fn: 'count', arg: null },
    ];
    const op = new HashAggregateExec(scan(c, rows, 3), [0], calls.map((x, i) => ({ fn: x.fn, input: x.arg ? 1 : null, name: `a${i}` })));
    // Ordered by the text of the key, as the shared row sorter cannot order NaN keys.
    const byText = (rows: unknown[][]) => [...rows].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
    const actual = byText(await run(op));
    expect(actual).toHaveLength(4);
    expectSameRows(actual as never, byText(await query(duckSql(['k'], calls, 'nan_t'))) as never, { ordered: true });
  });

  it('groups many distinct keys across many batches (table growth)', async () => {
    const c: ColSpec[] = [
      { name: 'k', type: DataTypes.int64 },
      { name: 's', type: DataTypes.utf8 },
      { name: 'v', type: DataTypes.int32 },
    ];
    const rows: Value[][] = [];
    for (let i = 0; i < 30000; i++) rows.push([(i * 7919) % 20011, `s${(i * 31) % 9973}`, i % 13]);
    await loadTable('many_t', c, rows);
    const calls: Call[] = [
      { fn: 'sum', arg: 'v' },
      { fn: 'count', arg: null },
    ];
    const sp = calls.map((x, i) => ({ fn: x.fn, input: x.arg ? 2 : null, name: `a${i}` }));
    expectSameRows(await run(new HashAggregateExec(scan(c, rows, 4096), [0], sp)), await query(duckSql(['k'], calls, 'many_t')));
    expectSameRows(await run(new HashAggregateExec(scan(c, rows, 4096), [1, 0], sp)), await query(duckSql(['s', 'k'], calls, 'many_t')));
  });

  it('partial then final equals single, with the documented state layout', async () => {
    const calls = CALLS.filter((c) => c.fn !== 'count_distinct');
    const sp = specs(calls);
    for (const keys of [[], ['k_int'], ['k_str', 'k_bool']]) {
      const keyIdx = keys.map(col);
      const single = await run(new HashAggregateExec(scan(cols(true), ROWS, 900), keyIdx, sp, 'single'));
      // Three partial aggregations over disjoint slices (one of them empty), as three map tasks would do.
      const parts = [ROWS.slice(0, 1234), [], ROWS.slice(1234)];
      const partialOps = parts.map((rows) => new HashAggregateExec(scan(cols(true), rows, 500), keyIdx, sp, 'partial'));
      const partialSchema = partialOps[0]!.schema;
      const inputSchema = scan(cols(true), []).schema;
      const expectedFields = [
        ...keys.map((k) => k),
        ...sp.flatMap((s) => partialStateFields(s, s.input === null ? null : inputSchema.fields[s.input]!.type).map((f) => f.name)),
      ];
      expect(partialSchema.fields.map((f) => f.name)).toEqual(expectedFields);
      const batches = (await Promise.all(partialOps.map((op) => collectBatches(op, { batchSize: 333 })))).flat();
      // The final aggregate's inputs: keys first, then each aggregate's first state column.
      let at = keys.length;
      const finalSpecs: AggregateSpec[] = sp.map((s) => {
        const spec = { fn: s.fn, input: at, name: s.name };
        at += partialStateFields(s, s.input === null ? null : inputSchema.fields[s.input]!.type).length;
        return spec;
      });
      const final = new HashAggregateExec(new MemoryScanExec(partialSchema, batches), keys.map((_, i) => i), finalSpecs, 'final');
      const finalRows = await run(final);
      expectSameRows(finalRows, single, { rel: 1e-9 });
      expect(final.schema.fields.map((f) => f.type)).toEqual(
        new HashAggregateExec(scan(cols(true), []), keyIdx, sp, 'single').schema.fields.map((f) => f.type),
      );
    }
  });

  it('uses the result types of the type checker', () => {
    const op = new HashAggregateExec(scan(cols(false), []), [], specs(CALLS));
    const types = Object.fromEntries(op.schema.fields.map((f, i) => [`${CALLS[i]!.fn}(${CALLS[i]!.arg ?? '*'})`, f.type]));
    expect(types['sum(v_int)']).toEqual(DataTypes.int64);
    expect(types['sum(v_big)']).toEqual(DataTypes.int64);
    expect(types['sum(v_dec)']).toEqual(DataTypes.decimal(18, 3));
    expect(types['sum(v_flt)']).toEqual(DataTypes.float64);
    expect(types['avg(v_dec)']).toEqual(DataTypes.float64);
    expect(types['min(v_str)']).toEqual(DataTypes.utf8);
    expect(types['max(v_ts)']).toEqual(DataTypes.timestamp);
    expect(types['first(v_date)']).toEqual(DataTypes.date32);
    expect(types['count(*)']).toEqual(DataTypes.int64);
    expect(op.schema.fields[0]!.nullable).toBe(false);
  });

  it('rejects count_distinct outside single mode', () => {
    const sp: AggregateSpec[] = [{ fn: 'count_distinct', input: col('v_int'), name: 'd' }];
    expect(() => new HashAggregateExec(scan(cols(false), []), [], sp, 'partial')).toThrow(UnsupportedError);
    expect(() => new HashAggregateExec(scan(cols(false), []), [], sp, 'final')).toThrow(UnsupportedError);
  });

  it('emits output in batches of ctx.batchSize', async () => {
    const c: ColSpec[] = [{ name: 'k', type: DataTypes.int32 }];
    const rows: Value[][] = Array.from({ length: 2500 }, (_, i) => [i]);
    const batches = await collectBatches(new HashAggregateExec(scan(c, rows), [0], []), { batchSize: 1000 });
    expect(batches.map((b) => b.numRows)).toEqual([1000, 1000, 500]);
  });
});
