import type * as arrow from 'apache-arrow';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { columnData } from '../../core/arrow/column.ts';
import { collectBatches } from '../../core/exec/collect.ts';
import { HashJoinExec, type JoinType } from '../../core/exec/hash-join.ts';
import type { BatchPredicate } from '../../core/exec/operator.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { ExecutionError } from '../../core/types/errors.ts';
import { expectSameRows } from '../support/compare.ts';
import { type ColSpec, type Value, loadTable, query, run, scan } from './support.ts';
import { seededRandom as rng } from '../../core/util/seeded-random.ts';


const leftCols = (dictionary: boolean): ColSpec[] => [
  { name: 'lid', type: DataTypes.int32 },
  { name: 'k1', type: DataTypes.int32 },
  { name: 'k2', type: DataTypes.utf8, dictionary },
  { name: 'kd', type: DataTypes.decimal(10, 2) },
  { name: 'x', type: DataTypes.int64 },
  { name: 'ls', type: DataTypes.utf8, dictionary },
];
const rightCols = (dictionary: boolean): ColSpec[] => [
  { name: 'rid', type: DataTypes.int32 },
  { name: 'k1', type: DataTypes.int32 },
  { name: 'k2', type: DataTypes.utf8, dictionary },
  { name: 'kd', type: DataTypes.decimal(10, 2) },
  { name: 'y', type: DataTypes.int64 },
  { name: 'rd', type: DataTypes.date32 },
];

function makeRows(n: number, seed: number, left: boolean): Value[][] {
  const r = rng(seed);
  const maybe = (v: Value): Value => (r() < 0.1 ? null : v);
  const strs = ['a', 'b', 'c', 'dd', 'é', '😀', 'x', 'yy', 'zzz', 'A', 'B', 'C'];
  return Array.from({ length: n }, (_, i) => [
    i,
    maybe(Math.floor(r() * 30)),
    maybe(strs[Math.floor(r() * strs.length)]!),
    maybe(Math.floor(r() * 12) * 150 - 450),
    maybe(Math.floor(r() * 100)),
    left ? maybe(`s${i % 7}`) : maybe(19000 + (i % 11)),
  ]);
}

const L = makeRows(300, 1, true);
const R = makeRows(200, 2, false);

/** x < y over the combined batch (left x at column 4, right y at 6 + 4). */
const xLessThanY: BatchPredicate = {
  select(batch: arrow.RecordBatch): Int32Array {
    const x = columnData(batch, 4);
    const y = columnData(batch, 10);
    const xv = x.values as BigInt64Array;
    const yv = y.values as BigInt64Array;
    const ok = (d: typeof x, i: number) => d.nullCount === 0 || ((d.nullBitmap![i >> 3]! >> (i & 7)) & 1) === 1;
    const out: number[] = [];
    for (let i = 0; i < batch.numRows; i++) if (ok(x, i) && ok(y, i) && xv[i]! < yv[i]!) out.push(i);
    return Int32Array.from(out);
  },
};

const SQL_JOIN: Record<JoinType, string> = {
  inner: 'JOIN',
  left: 'LEFT JOIN',
  right: 'RIGHT JOIN',
  full: 'FULL JOIN',
  semi: 'SEMI JOIN',
  anti: 'ANTI JOIN',
  cross: 'CROSS JOIN',
};

function joinSql(type: JoinType, keys: string[], residual: boolean, l = 'l', r = 'r'): string {
  const conds = [...keys.map((k) => `${l}.${k} = ${r}.${k}`), ...(residual ? [`${l}.x < ${r}.y`] : [])];
  const cols = type === 'semi' || type === 'anti' ? `${l}.*` : `${l}.*, ${r}.*`;
  if (type === 'cross') return `SELECT ${cols} FROM ${l} CROSS JOIN ${r}${residual ? ` WHERE ${l}.x < ${r}.y` : ''}`;
  return `SELECT ${cols} FROM ${l} ${SQL_JOIN[type]} ${r} ON ${conds.length ? conds.join(' AND ') : 'TRUE'}`;
}

const keyIndex = (names: string[]) => names.map((n) => leftCols(false).findIndex((c) => c.name === n));
const TYPES: JoinType[] = ['inner', 'left', 'right', 'full', 'semi', 'anti'];

describe('HashJoinExec', () => {
  beforeAll(async () => {
    await loadTable('l', leftCols(false), L);
    await loadTable('r', rightCols(false), R);
    await loadTable('l0', leftCols(false), []);
    await loadTable('r0', rightCols(false), []);
  });

  for (const keys of [['k1'], ['k2'], ['kd'], ['k1', 'k2']]) {
    for (const type of TYPES) {
      for (const residual of [false, true]) {
        it(`${type} join on [${keys}]${residual ? ' with a residual' : ''} matches DuckDB for both build sides`, async () => {
          const expected = await query(joinSql(type, keys, residual));
          for (const buildSide of ['left', 'right'] as const) {
            for (const dictionary of [false, true]) {
              const op = new HashJoinExec(scan(leftCols(dictionary), L, 128), scan(rightCols(!dictionary), R, 100), {
                joinType: type,
                leftKeys: keyIndex(keys),
                rightKeys: keyIndex(keys),
                residual: residual ? xLessThanY : undefined,
                buildSide,
              });
              expectSameRows(await run(op, { batchSize: 97 }), expected);
            }
          }
        });
      }
    }
  }

  for (const type of [...TYPES, 'cross'] as JoinType[]) {
    it(`${type} join handles empty inputs on either side`, async () => {
      const keys = type === 'cross' ? [] : ['k1'];
      for (const [lt, rt, lrows, rrows] of [
        ['l0', 'r', [], R],
        ['l', 'r0', L, []],
        ['l0', 'r0', [], []],
      ] as const) {
        const expected = await query(joinSql(type, keys, false, lt, rt));
        for (const buildSide of ['left', 'right'] as const) {
          const op = new HashJoinExec(scan(leftCols(false), lrows), scan(rightCols(false), rrows), {
            joinType: type,
            leftKeys: keyIndex(keys),
            rightKeys: keyIndex(keys),
            buildSide,
          });
          expectSameRows(await run(op), expected);
        }
      }
    });
  }

  it('cross joins every pair, in output batches of ctx.batchSize, and applies a residual', async () => {
    const l = L.slice(0, 30);
    const r = R.slice(0, 40);
    await loadTable('lc', leftCols(false), l);
    await loadTable('rc', rightCols(false), r);
    for (const residual of [false, true]) {
      const op = new HashJoinExec(scan(leftCols(false), l, 7), scan(rightCols(true), r, 9), {
        joinType: 'cross',
        leftKeys: [],
        rightKeys: [],
        residual: residual ? xLessThanY : undefined,
        buildSide: 'right',
      });
      const batches = await collectBatches(op, { batchSize: 100 });
      expect(batches.every((b) => b.numRows <= 100)).toBe(true);
      expectSameRows(await run(op, { batchSize: 100 }), await query(joinSql('cross', [], residual, 'lc', 'rc')));
    }
    const plain = await collectBatches(
      new HashJoinExec(scan(leftCols(false), l, 7), scan(rightCols(true), r, 9), { joinType: 'cross', leftKeys: [], rightKeys: [], buildSide: 'right' }),
    );
    expect(plain.reduce((s, b) => s + b.numRows, 0)).toBe(1200);
  });

  it('handles a skewed key on the probe and on the build side', async () => {
    const c: ColSpec[] = [
      { name: 'k', type: DataTypes.int64 },
      { name: 'v', type: DataTypes.int32 },
    ];
    const big: Value[][] = Array.from({ length: 100_000 }, (_, i) => [i % 50 === 0 ? i : 7, i]);
    const small: Value[][] = [[7, 1], [7, 2], [3, 3], [null, 4], [50, 5]];
    await loadTable('big', c, big);
    await loadTable('small', c, small);
    // The skewed side once streams (probe) and once is the hash table (build).
    for (const [lrows, rrows, lt, rt, buildSide] of [
      [big, small, 'big', 'small', 'right'],
      [small, big, 'small', 'big', 'right'],
    ] as const) {
      {
        for (const type of ['inner', 'full', 'anti'] as JoinType[]) {
          const op = new HashJoinExec(scan(c, lrows, 8192), scan(c, rrows, 8192), { joinType: type, leftKeys: [0], rightKeys: [0], buildSide });
          const cols = type === 'anti' ? 'a.*' : 'a.*, b.*';
          const kw = type === 'inner' ? 'JOIN' : type === 'full' ? 'FULL JOIN' : 'ANTI JOIN';
          const expected = await query(`SELECT ${cols} FROM ${lt} a ${kw} ${rt} b ON a.k = b.k`);
          expectSameRows(await run(op, { batchSize: 65536 }), expected);
        }
      }
    }
  });

  it('marks outer sides nullable and keeps only left columns for semi/anti', () => {
    const mk = (joinType: JoinType) =>
      new HashJoinExec(scan(leftCols(false), []), scan(rightCols(false), []), { joinType, leftKeys: [1], rightKeys: [1], buildSide: 'right' });
    expect(mk('semi').schema.fields.map((f) => f.name)).toEqual(leftCols(false).map((c) => c.name));
    expect(mk('inner').schema.fields).toHaveLength(12);
    expect(() => new HashJoinExec(scan(leftCols(false), []), scan(rightCols(false), []), { joinType: 'inner', leftKeys: [1], rightKeys: [2], buildSide: 'right' })).toThrow(
      ExecutionError,
    );
  });

  it('property: random tables join like DuckDB', async () => {
    const cols: ColSpec[] = [
      { name: 'a', type: DataTypes.int32 },
      { name: 's', type: DataTypes.utf8 },
    ];
    const row = fc.tuple(fc.option(fc.integer({ min: 0, max: 5 })), fc.option(fc.constantFrom('p', 'q', 'r')));
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 40 }),
        fc.array(row, { maxLength: 40 }),
        fc.constantFrom<JoinType>('inner', 'left', 'right', 'full', 'semi', 'anti'),
        fc.constantFrom<'left' | 'right'>('left', 'right'),
        fc.constantFrom([0], [1], [0, 1]),
        fc.integer({ min: 1, max: 16 }),
        async (lrows, rrows, joinType, buildSide, keys, batchRows) => {
          await loadTable('pl', cols, lrows as Value[][]);
          await loadTable('pr', cols, rrows as Value[][]);
          const names = keys.map((k) => cols[k]!.name);
          const on = names.map((n) => `pl.${n} = pr.${n}`).join(' AND ');
          const sel = joinType === 'semi' || joinType === 'anti' ? 'pl.*' : 'pl.*, pr.*';
          const expected = await query(`SELECT ${sel} FROM pl ${SQL_JOIN[joinType]} pr ON ${on}`);
          const op = new HashJoinExec(scan(cols, lrows as Value[][], batchRows), scan(cols, rrows as Value[][], batchRows), {
            joinType,
            leftKeys: keys,
            rightKeys: keys,
            buildSide,
          });
          expectSameRows(await run(op, { batchSize: 7 }), expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
