// Manual throughput check of the heavy operators (not a test): `npx tsx test/exec/perf.ts [rows]`.
// Prints rows/s for group-by, join and sort over synthetic columns built directly as typed arrays.
import * as arrow from 'apache-arrow';
import { makeBatch, makeColumn, type ColumnData } from '../../core/arrow/column.ts';
import { collectBatches } from '../../core/exec/collect.ts';
import { HashAggregateExec } from '../../core/exec/hash-aggregate.ts';
import { HashJoinExec } from '../../core/exec/hash-join.ts';
import { MemoryScanExec } from '../../core/exec/memory-scan.ts';
import type { PhysicalOperator } from '../../core/exec/operator.ts';
import { SortExec } from '../../core/exec/sort.ts';
import { DataTypes } from '../../core/types/data-type.ts';
import { type Field, field, schema } from '../../core/types/schema.ts';
import { makeData } from './support.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = 131072;

function table(fields: Field[], gen: (col: number, i: number) => number | string, n: number, dictionary = false): MemoryScanExec {
  const batches: arrow.RecordBatch[] = [];
  for (let start = 0; start < n; start += BATCH) {
    const len = Math.min(BATCH, n - start);
    const cols: ColumnData[] = fields.map((f, c) => {
      if (f.type.kind === 'utf8') {
        const vals = Array.from({ length: len }, (_, i) => gen(c, start + i) as string);
        return makeData({ name: f.name, type: f.type, dictionary }, vals);
      }
      if (f.type.kind === 'float64') return makeColumn(f.type, len, Float64Array.from({ length: len }, (_, i) => gen(c, start + i) as number), null);
      if (f.type.kind === 'int64') return makeColumn(f.type, len, BigInt64Array.from({ length: len }, (_, i) => BigInt(gen(c, start + i))), null);
      return makeColumn(f.type, len, Int32Array.from({ length: len }, (_, i) => gen(c, start + i) as number), null);
    });
    batches.push(makeBatch(new arrow.Schema(fields.map((f, c) => new arrow.Field(f.name, cols[c]!.type, true))), cols, len));
  }
  return new MemoryScanExec(schema(fields), batches);
}

async function time(label: string, rows: number, make: () => PhysicalOperator): Promise<void> {
  let best = Infinity;
  let out = 0;
  for (let r = 0; r < 3; r++) {
    const op = make();
    const t0 = performance.now();
    const batches = await collectBatches(op, { batchSize: 65536 });
    best = Math.min(best, performance.now() - t0);
    out = batches.reduce((s, b) => s + b.numRows, 0);
  }
  console.log(`${label.padEnd(48)} ${best.toFixed(0).padStart(6)} ms  ${((rows / best) * 1000 / 1e6).toFixed(1).padStart(6)} M rows/s  (${out} out)`);
}

const kv = [field('k', DataTypes.int32), field('v', DataTypes.float64), field('w', DataTypes.int64)];
const ints = table(kv, (c, i) => (c === 0 ? (i * 2654435761) % 1000 : c === 1 ? i * 0.5 : i), N);
const intsMany = table(kv, (c, i) => (c === 0 ? (i * 2654435761) % (N / 2) : c === 1 ? i * 0.5 : i), N);
const sv = [field('s', DataTypes.utf8), field('v', DataTypes.float64), field('w', DataTypes.int64)];
const strGen = (c: number, i: number) => (c === 0 ? `key-${(i * 7919) % 1000}` : c === 1 ? i * 0.5 : i);
const strsDict = table(sv, strGen, N, true);
const strsPlain = table(sv, strGen, N, false);
const aggs = [
  { fn: 'sum' as const, input: 1, name: 's' },
  { fn: 'count' as const, input: null, name: 'c' },
  { fn: 'avg' as const, input: 2, name: 'a' },
];

await time(`group by int (1k groups): sum,count,avg`, N, () => new HashAggregateExec(ints, [0], aggs));
await time(`group by int (${N / 2} groups): sum,count,avg`, N, () => new HashAggregateExec(intsMany, [0], aggs));
await time(`group by dict string (1k groups)`, N, () => new HashAggregateExec(strsDict, [0], aggs));
await time(`group by plain string (1k groups)`, N, () => new HashAggregateExec(strsPlain, [0], aggs));
await time(`group by (int, string) (100 groups)`, N, () => new HashAggregateExec(table([...kv, field('s', DataTypes.utf8)], (c, i) => (c === 3 ? `k${i % 10}` : c === 0 ? i % 100 : i), N, true), [0, 3], aggs));
await time(`global sum,count,avg`, N, () => new HashAggregateExec(ints, [], aggs));

const dim = table([field('id', DataTypes.int32), field('name', DataTypes.int32)], (_c, i) => i, 100_000);
const fact = table(kv, (c, i) => (c === 0 ? (i * 7919) % 100_000 : i), N);
await time(`join 1M x 100k on int (inner, build right)`, N, () => new HashJoinExec(fact, dim, { joinType: 'inner', leftKeys: [0], rightKeys: [0], buildSide: 'right' }));
await time(`join 1M x 100k on int (left, build right)`, N, () => new HashJoinExec(fact, dim, { joinType: 'left', leftKeys: [0], rightKeys: [0], buildSide: 'right' }));
const big = table(kv, (c, i) => (c === 0 ? i : i), N);
await time(`join 1M x 1M on int (inner, build right)`, N, () => new HashJoinExec(fact, big, { joinType: 'inner', leftKeys: [0], rightKeys: [0], buildSide: 'right' }));

const rnd = table(kv, (c, i) => (c === 0 ? (i * 2654435761) % 1000003 : c === 1 ? Math.sin(i) * 1000 : i), N);
await time(`sort by float64`, N, () => new SortExec(rnd, [{ index: 1, ascending: true, nullsFirst: true }]));
await time(`sort by int, float64 desc`, N, () => new SortExec(rnd, [{ index: 0, ascending: true, nullsFirst: true }, { index: 1, ascending: false, nullsFirst: false }]));
await time(`top-100 by float64`, N, () => new SortExec(rnd, [{ index: 1, ascending: true, nullsFirst: true }], 100));
await time(`sort by dict string`, N, () => new SortExec(strsDict, [{ index: 0, ascending: true, nullsFirst: true }]));
