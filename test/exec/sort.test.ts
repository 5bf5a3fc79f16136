import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectBatches } from '../../core/exec/collect.ts';
import { SortExec, type SortKey } from '../../core/exec/sort.ts';
import { compareCodePoints } from '../../core/exec/sort-keys.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { expectSameRows } from '../support/compare.ts';
import { type ColSpec, type Value, loadTable, query, run, scan } from './support.ts';
import { seededRandom as rng } from '../../core/util/seeded-random.ts';


const cols = (dictionary: boolean): ColSpec[] => [
  { name: 'rid', type: DataTypes.int32 },
  { name: 'i', type: DataTypes.int32 },
  { name: 'f', type: DataTypes.float64 },
  { name: 's', type: DataTypes.utf8, dictionary },
  { name: 'd', type: DataTypes.date32 },
  { name: 'm', type: DataTypes.decimal(12, 3) },
  { name: 'b', type: DataTypes.bool },
  { name: 'l', type: DataTypes.int64 },
  { name: 't', type: DataTypes.timestamp },
];
const idx = (name: string) => cols(false).findIndex((c) => c.name === name);

function makeRows(n: number, seed: number): Value[][] {
  const r = rng(seed);
  const maybe = (v: Value): Value => (r() < 0.12 ? null : v);
  const strs = ['b', 'a', 'ab', '', 'B', 'é', 'a\u{10000}', 'a\uffff', 'a\ue000', '😀', 'zz'];
  const floats = [0, -0, 1.5, -1.5, Infinity, -Infinity, NaN, 1e-300, -1e300];
  return Array.from({ length: n }, (_, k) => [
    k,
    maybe(Math.floor(r() * 50) - 25),
    maybe(r() < 0.5 ? floats[Math.floor(r() * floats.length)]! : r() * 10 - 5),
    maybe(strs[Math.floor(r() * strs.length)]!),
    maybe(18000 + Math.floor(r() * 30)),
    maybe(Math.floor(r() * 2000) - 1000),
    maybe(r() < 0.5),
    maybe(Math.floor(r() * 2 ** 50) - 2 ** 49),
    maybe(1_600_000_000_000_000 + Math.floor(r() * 1000) * 1000),
  ]);
}

const ROWS = makeRows(3000, 7);

function orderSql(keys: SortKey[]): string {
  const names = cols(false).map((c) => c.name);
  // rid last: our sort is stable and the input is in rid order; DuckDB's sort is not stable.
  return [...keys.map((k) => `${names[k.index]} ${k.ascending ? 'ASC' : 'DESC'} NULLS ${k.nullsFirst ? 'FIRST' : 'LAST'}`), 'rid'].join(', ');
}

const KEY_SETS: SortKey[][] = [
  [{ index: idx('i'), ascending: true, nullsFirst: true }],
  [{ index: idx('i'), ascending: false, nullsFirst: false }],
  [{ index: idx('f'), ascending: true, nullsFirst: false }],
  [{ index: idx('f'), ascending: false, nullsFirst: true }],
  [{ index: idx('s'), ascending: true, nullsFirst: true }],
  [{ index: idx('s'), ascending: false, nullsFirst: false }],
  [{ index: idx('d'), ascending: false, nullsFirst: true }],
  [{ index: idx('m'), ascending: true, nullsFirst: false }],
  [{ index: idx('l'), ascending: false, nullsFirst: true }],
  [{ index: idx('t'), ascending: true, nullsFirst: true }],
  [
    { index: idx('b'), ascending: true, nullsFirst: false },
    { index: idx('s'), ascending: false, nullsFirst: true },
    { index: idx('f'), ascending: true, nullsFirst: true },
  ],
  [
    { index: idx('s'), ascending: true, nullsFirst: false },
    { index: idx('i'), ascending: false, nullsFirst: false },
  ],
];

describe('SortExec', () => {
  beforeAll(async () => {
    await loadTable('st', cols(false), ROWS);
  });

  it('orders strings by code point, not UTF-16 unit', () => {
    expect(compareCodePoints('a\uffff', 'a\u{10000}')).toBeLessThan(0);
    expect('a\uffff' < 'a\u{10000}').toBe(false);
    expect(compareCodePoints('a\ue000', 'a\ud7ff')).toBeGreaterThan(0);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('x', 'x')).toBe(0);
  });

  for (const dictionary of [false, true]) {
    KEY_SETS.forEach((keys) => {
      it(`sorts by ${orderSql(keys)}${dictionary ? ' (dictionary strings)' : ''} like DuckDB, stably`, async () => {
        const expected = await query(`SELECT * FROM st ORDER BY ${orderSql(keys)}`);
        // 3000 rows reach the radix path; 700 rows and single-batch variants take the comparison path.
        for (const n of [3000, 700]) {
          const actual = await run(new SortExec(scan(cols(dictionary), ROWS.slice(0, n), 256), keys), { batchSize: 500 });
          const exp = n === 3000 ? expected : await query(`SELECT * FROM st WHERE rid < ${n} ORDER BY ${orderSql(keys)}`);
          expectSameRows(actual, exp, { ordered: true });
        }
      });
    });
  }

  it('top-k equals the full sort cut at k, for k around the batch size and beyond the input', async () => {
    for (const keys of KEY_SETS) {
      const full = await run(new SortExec(scan(cols(true), ROWS, 300), keys));
      for (const k of [0, 1, 5, 299, 300, 301, 2999, 3000, 5000]) {
        const top = await run(new SortExec(scan(cols(true), ROWS, 300), keys, k));
        expect(top.length).toBe(Math.min(k, ROWS.length));
        expectSameRows(top, full.slice(0, k), { ordered: true });
      }
      const limited = await query(`SELECT * FROM st ORDER BY ${orderSql(keys)} LIMIT 17`);
      expectSameRows(await run(new SortExec(scan(cols(false), ROWS, 256), keys, 17)), limited, { ordered: true });
    }
  });

  it('emits batches of ctx.batchSize and handles empty input', async () => {
    const keys = KEY_SETS[0]!;
    const batches = await collectBatches(new SortExec(scan(cols(false), ROWS, 256), keys), { batchSize: 1000 });
    expect(batches.map((b) => b.numRows)).toEqual([1000, 1000, 1000]);
    expect(await run(new SortExec(scan(cols(false), []), keys))).toEqual([]);
    expect(await run(new SortExec(scan(cols(false), []), keys, 10))).toEqual([]);
  });

  it('property: random int/string tables sort like DuckDB and top-k is a prefix of the sort', async () => {
    const c: ColSpec[] = [
      { name: 'rid', type: DataTypes.int32 },
      { name: 'a', type: DataTypes.int32 },
      { name: 's', type: DataTypes.utf8, dictionary: true },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.option(fc.integer({ min: -3, max: 3 })), fc.option(fc.string({ maxLength: 3 }))), { maxLength: 60 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 70 }),
        async (raw, asc, nullsFirst, stringFirst, k) => {
          const rows: Value[][] = raw.map(([a, s], i) => [i, a, s]);
          await loadTable('ps', c, rows);
          const keys: SortKey[] = [
            { index: stringFirst ? 2 : 1, ascending: asc, nullsFirst },
            { index: stringFirst ? 1 : 2, ascending: !asc, nullsFirst: !nullsFirst },
          ];
          const dir = (key: SortKey) => `${c[key.index]!.name} ${key.ascending ? 'ASC' : 'DESC'} NULLS ${key.nullsFirst ? 'FIRST' : 'LAST'}`;
          const expected = await query(`SELECT * FROM ps ORDER BY ${keys.map(dir).join(', ')}, rid`);
          const full = await run(new SortExec(scan(c, rows, 8), keys));
          expectSameRows(full, expected, { ordered: true });
          expectSameRows(await run(new SortExec(scan(c, rows, 8), keys, k)), expected.slice(0, k), { ordered: true });
        },
      ),
      { numRuns: 60 },
    );
  });
});
