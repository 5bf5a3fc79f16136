// WindowExec against DuckDB's window functions on the same rows: partitions with NULL keys, ties in the order
// keys (peers), NULL arguments, several frames, small output batches.
import { beforeAll, describe, expect, it } from 'vitest';
import { WindowExec, type WindowFunctionSpec } from '../../core/exec/window.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { UnsupportedError } from '../../core/types/errors.ts';
import { expectSameRows } from '../support/compare.ts';
import { type ColSpec, type Value, loadTable, query, run, scan } from './support.ts';

const cols: ColSpec[] = [
  { name: 'id', type: DataTypes.int32 },
  { name: 'p', type: DataTypes.utf8 },
  { name: 'o', type: DataTypes.int32 },
  { name: 'x', type: DataTypes.float64 },
  { name: 'm', type: DataTypes.decimal(10, 2) },
  { name: 'l', type: DataTypes.int64 },
];

const rows: Value[][] = Array.from({ length: 257 }, (_, i) => [
  i,
  i % 11 === 0 ? null : ['a', 'b', 'c', 'd'][i % 4]!,
  i % 13 === 0 ? null : (i * 7) % 10, // ties within partitions
  i % 5 === 0 ? null : ((i * 37) % 101) / 4,
  i % 6 === 0 ? null : (i * 53) % 10000,
  i % 9 === 0 ? null : i * 1000 - 50000,
]);

beforeAll(async () => {
  await loadTable('w', cols, rows);
});

const FRAMES = {
  rows_to_current: 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  range_to_current: 'RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW',
  partition: 'ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING',
} as const;

const col = (name: string) => cols.findIndex((c) => c.name === name);

async function check(functions: WindowFunctionSpec[], partition: string[], order: { name: string; desc?: boolean }[]) {
  const op = new WindowExec(
    scan(cols, rows, 50),
    partition.map(col),
    order.map((o) => ({ index: col(o.name), ascending: !o.desc, nullsFirst: false })),
    functions,
  );
  const over = `(${partition.length ? `PARTITION BY ${partition.join(', ')}` : ''} ${order.length ? `ORDER BY ${order.map((o) => `${o.name} ${o.desc ? 'DESC' : 'ASC'} NULLS LAST`).join(', ')}` : ''}`;
  const sql = functions
    .map((f) => {
      const arg = f.input === null ? (f.fn === 'count' ? '*' : '') : cols[f.input]!.name;
      const frame = f.fn === 'row_number' || f.fn === 'rank' || f.fn === 'dense_rank' ? '' : ` ${FRAMES[f.frame]}`;
      return `${f.fn}(${arg}) OVER ${over}${frame})`;
    })
    .join(', ');
  // row_number breaks ties arbitrarily: compare only functions that are deterministic under ties, plus the id.
  const expected = await query(`SELECT ${cols.map((c) => c.name).join(', ')}, ${sql} FROM w`);
  const actual = await run(op, { batchSize: 40 });
  expect(op.schema.fields.map((f) => f.name)).toEqual([...cols.map((c) => c.name), ...functions.map((f) => f.name)]);
  expectSameRows(actual, expected, { rel: 1e-9 });
}

describe('WindowExec', () => {
  it('ranks rows within partitions with ties (rank, dense_rank)', async () => {
    await check(
      [
        { fn: 'rank', input: null, frame: 'range_to_current', name: 'r' },
        { fn: 'dense_rank', input: null, frame: 'range_to_current', name: 'dr' },
      ],
      ['p'],
      [{ name: 'o', desc: true }],
    );
  });

  it('numbers rows when the order is total', async () => {
    await check([{ fn: 'row_number', input: null, frame: 'rows_to_current', name: 'rn' }], ['p'], [{ name: 'o' }, { name: 'id' }]);
  });

  it('computes running aggregates over ROWS and RANGE frames', async () => {
    const fns = (frame: WindowFunctionSpec['frame']): WindowFunctionSpec[] => [
      { fn: 'sum', input: col('x'), frame, name: `sx_${frame}` },
      { fn: 'sum', input: col('m'), frame, name: `sm_${frame}` },
      { fn: 'sum', input: col('l'), frame, name: `sl_${frame}` },
      { fn: 'avg', input: col('m'), frame, name: `am_${frame}` },
      { fn: 'min', input: col('x'), frame, name: `mn_${frame}` },
      { fn: 'max', input: col('l'), frame, name: `mx_${frame}` },
      { fn: 'count', input: col('x'), frame, name: `cx_${frame}` },
      { fn: 'count', input: null, frame, name: `c_${frame}` },
    ];
    // ROWS frames need a total order to be deterministic; RANGE frames are deterministic under ties.
    await check(fns('rows_to_current'), ['p'], [{ name: 'o' }, { name: 'id' }]);
    await check(fns('range_to_current'), ['p'], [{ name: 'o' }]);
  });

  it('computes whole-partition aggregates, and over everything without PARTITION BY', async () => {
    const fns: WindowFunctionSpec[] = [
      { fn: 'sum', input: col('m'), frame: 'partition', name: 's' },
      { fn: 'avg', input: col('x'), frame: 'partition', name: 'a' },
      { fn: 'count', input: null, frame: 'partition', name: 'c' },
    ];
    await check(fns, ['p'], []);
    await check(fns, [], []);
  });

  it('produces nothing for empty input and rejects unsupported argument types', async () => {
    const empty = new WindowExec(scan(cols, [], 10), [col('p')], [], [{ fn: 'count', input: null, frame: 'partition', name: 'c' }]);
    expect(await run(empty)).toEqual([]);
    expect(() => new WindowExec(scan(cols, rows), [], [], [{ fn: 'sum', input: col('p'), frame: 'partition', name: 's' }])).toThrow(UnsupportedError);
  });
});
