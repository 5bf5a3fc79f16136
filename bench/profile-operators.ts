// Operator-only timing of TPC-H Q1 and Q6 (everything above the scan): the scan's batches are collected once
// and replayed from memory, then the filter/project/aggregate pipeline runs several times.
// Usage: node --import tsx bench/profile-operators.ts [q1|q6|both] [runs] [end-to-end runs]
// (add --cpu-prof before --import to profile; SQUALL_DUMP_KERNELS=1 prints the generated kernels)
import { join } from 'node:path';
import type * as arrow from 'apache-arrow';
import { Session } from '../core/sdk/index.ts';
import { q1 as tpchQ1, q6 as tpchQ6 } from './tpch/dataframe-queries.ts';
import type { PhysicalOperator } from '../core/exec/operator.ts';

const which = process.argv[2] ?? 'both';
const runs = Number(process.argv[3] ?? 5);
const session = Session.local();
const lineitem = await session.read.parquet(join(import.meta.dirname, '.data', 'tpch-sf1', 'lineitem.parquet'));

const q1 = tpchQ1(lineitem);
const q6 = tpchQ6(lineitem);

function tree(op: PhysicalOperator, depth = 0): string {
  return `${'  '.repeat(depth)}${op.name} ${op.describe()}\n${op.children.map((c) => tree(c, depth + 1)).join('')}`;
}

function leafOf(op: PhysicalOperator): PhysicalOperator {
  return op.children.length === 0 ? op : leafOf(op.children[0]!);
}

async function bench(name: string, df: typeof q1): Promise<void> {
  const root = session.operators(df.plan);
  console.log(tree(root));
  const leaf = leafOf(root) as PhysicalOperator & { execute: PhysicalOperator['execute'] };
  const real = leaf.execute.bind(leaf);
  let cached: arrow.RecordBatch[] = [];
  const scanTimes: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    cached = [];
    for await (const b of real({ batchSize: 65536 })) cached.push(b);
    scanTimes.push(performance.now() - t0);
  }
  console.log(`${name} scan alone: ${scanTimes.map((t) => t.toFixed(0)).join(' ')} ms`);
  (leaf as { execute: PhysicalOperator['execute'] }).execute = async function* () {
    for (const b of cached) yield b;
  };
  console.log(`${name}: ${cached.length} scan batches, ${cached.reduce((s, b) => s + b.numRows, 0)} rows`);
  const times: number[] = [];
  const cpu: number[] = [];
  let result: arrow.RecordBatch[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    result = [];
    for await (const b of root.execute({ batchSize: 65536 })) result.push(b);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const best = Math.min(...times.slice(1));
  console.log(`${name} operators: best ${best.toFixed(1)} ms, all ${times.map((t) => t.toFixed(0)).join(' ')}; cpu ms ${cpu.map((t) => t.toFixed(0)).join(' ')}`);
  for (const b of result) for (const row of b.toArray().slice(0, 4)) console.log('  ', JSON.stringify(row.toJSON(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

if (which !== 'q6') await bench('Q1', q1);
if (which !== 'q1') await bench('Q6', q6);

const e2eRuns = Number(process.argv[4] ?? 0);
for (const [name, df] of [['Q1', q1], ['Q6', q6]] as const) {
  if (which !== 'both' && which !== name.toLowerCase()) continue;
  const times: number[] = [];
  for (let r = 0; r < e2eRuns; r++) {
    const t0 = performance.now();
    await session.execute(df.plan);
    times.push(performance.now() - t0);
  }
  if (e2eRuns) console.log(`${name} end to end: ${times.map((t) => t.toFixed(0)).join(' ')} ms`);
}
