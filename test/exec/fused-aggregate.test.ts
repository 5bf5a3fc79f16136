// The fused path of HashAggregate (it absorbs the Project and Filter below it and folds rows through one
// generated kernel) must give exactly what the unfused pipeline gives: same groups in the same order, same
// exact sums, bit-identical float sums, the same errors; rows beyond ±2^53 go through the exact path.
import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeBatch, makeStringColumn } from '../../core/arrow/column.ts';
import { collectBatches } from '../../core/exec/collect.ts';
import { FilterExec } from '../../core/exec/filter.ts';
import { type AggregateSpec, HashAggregateExec } from '../../core/exec/hash-aggregate.ts';
import { MemoryScanExec } from '../../core/exec/memory-scan.ts';
import type { ExecContext, PhysicalOperator } from '../../core/exec/operator.ts';
import { ProjectExec } from '../../core/exec/project.ts';
import { type Expr, alias, binary, caseWhen, column, literal } from '../../core/expr/expr.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { DataError } from '../../core/types/errors.ts';
import { type ColSpec, type Value, makeBatches, rowsOf, schemaOf } from './support.ts';
import { seededRandom as rng } from '../../core/util/seeded-random.ts';


/** Passes batches through: placed between operators, it keeps the aggregate from fusing them. */
class Opaque implements PhysicalOperator {
  readonly name = 'Opaque';
  readonly children: readonly PhysicalOperator[];
  constructor(readonly input: PhysicalOperator) {
    this.children = [input];
  }
  get schema() {
    return this.input.schema;
  }
  describe(): string {
    return '';
  }
  execute(ctx: ExecContext): AsyncIterable<arrow.RecordBatch> {
    return this.input.execute(ctx);
  }
}

const COLS = (dictionary: boolean): ColSpec[] => [
  { name: 'k1', type: DataTypes.utf8, dictionary },
  { name: 'k2', type: DataTypes.utf8, dictionary },
  { name: 'kb', type: DataTypes.bool },
  { name: 'ki', type: DataTypes.int32 },
  { name: 'd', type: DataTypes.date32 },
  { name: 'vi', type: DataTypes.int32 },
  { name: 'vb', type: DataTypes.int64 },
  { name: 'vd', type: DataTypes.decimal(15, 2) },
  { name: 'vf', type: DataTypes.float64 },
  { name: 'big', type: DataTypes.decimal(18, 2) },
];

function makeRows(n: number, seed: number, nullP = 0.1): Value[][] {
  const r = rng(seed);
  const maybe = (v: Value): Value => (r() < nullP ? null : v);
  const rows: Value[][] = [];
  for (let i = 0; i < n; i++) {
    rows.push([
      maybe(['A', 'N', 'R'][Math.floor(r() * 3)]!),
      maybe(['F', 'O'][Math.floor(r() * 2)]!),
      maybe(r() < 0.5),
      maybe(Math.floor(r() * 50)),
      maybe(9000 + Math.floor(r() * 100)),
      maybe(Math.floor(r() * 2000) - 1000),
      maybe(Math.floor(r() * 2 ** 40) - 2 ** 39),
      maybe(Math.floor(r() * 1e6)),
      maybe(r() * 1000 - 500),
      maybe(Math.floor(r() * 1e14)),
    ]);
  }
  return rows;
}

const c = (name: string): Expr => column(name);
const lit = (v: number, t: import('../../core/types/data-type.ts').DataType = DataTypes.int32): Expr => literal(v, t);

/** Aggregate(Project(Filter(scan))) fused, and the same with Opaque operators in between. */
function pipelines(
  batches: arrow.RecordBatch[],
  dictionary: boolean,
  condition: Expr | null,
  keys: Expr[],
  inputs: Expr[],
  fns: AggregateSpec['fn'][],
): [HashAggregateExec, HashAggregateExec] {
  const build = (opaque: boolean) => {
    let op: PhysicalOperator = new MemoryScanExec(schemaOf(COLS(dictionary)), batches);
    if (condition) op = new FilterExec(op, condition);
    if (opaque) op = new Opaque(op);
    const exprs = [...keys.map((k, i) => alias(k, `g${i}`)), ...inputs.map((e, i) => alias(e, `a${i}`))];
    op = new ProjectExec(op, exprs);
    if (opaque) op = new Opaque(op);
    const specs: AggregateSpec[] = fns.map((fn, j) => ({ fn, input: fn === 'count' && j >= inputs.length ? null : keys.length + Math.min(j, inputs.length - 1), name: `x${j}` }));
    return new HashAggregateExec(op, keys.map((_, i) => i), specs, 'single');
  };
  const fused = build(false);
  expect((fused as unknown as { fusion: unknown }).fusion).not.toBeNull();
  return [fused, build(true)];
}

async function rows(op: PhysicalOperator) {
  return rowsOf(await collectBatches(op, { batchSize: 1000 }), op.schema);
}

/** The raw result batches' values, so that float sums are compared bit for bit and decimals as BigInts. */
async function exact(op: PhysicalOperator): Promise<unknown[][]> {
  const batches = await collectBatches(op, { batchSize: 1000 });
  return batches.flatMap((b) => b.toArray().map((r) => Object.values(r.toJSON()).map((v) => (v instanceof Uint32Array ? Array.from(v) : v))));
}

describe('fused aggregation', () => {
  for (const dictionary of [true, false]) {
    it(`matches the unfused pipeline: keys, nulls, filters, sums, avgs, counts${dictionary ? ' (dictionary keys)' : ''}`, async () => {
      const batches = makeBatches(COLS(dictionary), makeRows(5000, 7), 700);
      const condition = binary('and', binary('<=', c('d'), lit(9080, DataTypes.date32)), binary('>', c('vi'), lit(-900)));
      const inputs = [
        c('vi'),
        c('vb'),
        c('vd'),
        c('vf'),
        binary('*', c('vd'), binary('-', lit(1), c('vd'))),
        binary('*', binary('+', c('vi'), lit(3)), binary('+', lit(1), c('vd'))),
        binary('+', c('vf'), c('vi')),
        // A dictionary-evaluated subexpression (k1 = 'A') inside an aggregate input.
        caseWhen([{ when: binary('=', c('k1'), literal('A', DataTypes.utf8)), then: c('vd') }], lit(0)),
      ];
      for (const keys of [[c('k1'), c('k2')], [c('kb')], [c('k1'), c('kb'), c('k2')], [c('ki')], [c('vb')], []]) {
        // Including sum and avg of the same values (they share a run sum), with and without NULLs.
        const fns: AggregateSpec['fn'][] = ['sum', 'avg', 'sum', 'sum', 'sum', 'avg', 'avg', 'sum', 'avg', 'avg', 'count', 'count'];
        const specInputs = [inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, inputs[4]!, inputs[5]!, inputs[6]!, inputs[7]!, inputs[0]!, inputs[7]!, inputs[3]!];
        const [fused, plain] = pipelines(batches, dictionary, condition, keys, specInputs, fns);
        expect(await exact(fused)).toEqual(await exact(plain));
      }
    });
  }

  it('sums beyond 2^53 exactly, and hands rows beyond ±2^53 to the exact path mid-batch', async () => {
    const rowsIn = makeRows(3000, 11, 0);
    // A few huge decimal(18,2) values in the middle of batches.
    for (const i of [5, 777, 1500, 2999]) {
      rowsIn[i]![9] = 2e16 + i;
      rowsIn[Math.min(i + 1, 2999)]![7] = 2e8 + i; // vd * vd beyond 2^53
    }
    const batches = makeBatches(COLS(true), rowsIn, 1000);
    const inputs = [c('big'), binary('*', c('vd'), c('vd')), c('vd'), binary('-', c('vd'), c('vb'))];
    for (const keys of [[c('k1')], [c('vb')], []]) {
      const [fused, plain] = pipelines(batches, true, null, keys, [...inputs, c('big')], ['sum', 'sum', 'avg', 'sum', 'avg']);
      const got = await exact(fused);
      expect(got).toEqual(await exact(plain));
      if (keys.length === 0) expect(got.length).toBe(1);
    }
  });

  it('raises the same errors', async () => {
    const rowsIn = makeRows(2000, 5, 0);
    rowsIn[1234]![5] = 2 ** 31 - 1;
    const batches = makeBatches(COLS(true), rowsIn, 1000);
    const [fused, plain] = pipelines(batches, true, null, [c('k1')], [binary('+', c('vi'), lit(1))], ['sum']);
    await expect(rows(plain)).rejects.toThrow(DataError);
    await expect(rows(fused)).rejects.toThrow(/int32 overflow/);
  });

  it('groups dictionaries with repeated entries and NULL entries as the unfused path does', async () => {
    const dictVector = arrow.makeVector(makeStringColumn(['x', 'y', 'x', null]));
    const type = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
    const codes = Int32Array.from([0, 1, 2, 3, 0, 2, 2, 1, 3, 0]);
    const validity = new Uint8Array(8).fill(0xff);
    validity[0] = 0b11111110; // row 0 is NULL, as are rows 3 and 8 through the dictionary's NULL
    const keyData = arrow.makeData({ type: type as arrow.Dictionary, length: 10, nullCount: 1, nullBitmap: validity, data: codes, dictionary: dictVector });
    const valueData = arrow.makeData({ type: new arrow.Float64(), length: 10, data: Float64Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) });
    const s = new arrow.Schema([new arrow.Field('k', type, true), new arrow.Field('v', new arrow.Float64(), true)]);
    const batch = makeBatch(s, [keyData, valueData], 10);
    const sch = { fields: [{ name: 'k', type: DataTypes.utf8, nullable: true }, { name: 'v', type: DataTypes.float64, nullable: true }] } as never;
    const build = (opaque: boolean) => {
      let op: PhysicalOperator = new FilterExec(new MemoryScanExec(sch, [batch, batch]), binary('>', c('v'), literal(0, DataTypes.float64)));
      if (opaque) op = new Opaque(op);
      return new HashAggregateExec(op, [0], [{ fn: 'sum', input: 1, name: 's' }, { fn: 'count', input: null, name: 'n' }], 'single');
    };
    const got = await exact(build(false));
    expect(got).toEqual(await exact(build(true)));
    expect(got.length).toBe(4); // NULL, 'y', 'x', and the dictionary's NULL entry (read as '')
  });
});
