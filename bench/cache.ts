// The second-action speedup from df.cache(): a TPC-H join and aggregate is cached, then two different actions
// run on top of it. Without the cache each action scans and joins again; with it, the second action reads the
// materialized relation. Prints both timings and their ratio (in-process; the S3 cache prefix is not built yet).
// Usage: npx tsx bench/cache.ts [scale factor, default 0.1]
import { join } from 'node:path';
import { cacheStats } from '../core/cache/plan-cache.ts';
import { Session, col, functions as F } from '../core/sdk/index.ts';
import { generateTpch } from './tpch/generate.ts';

const sf = Number(process.argv[2] ?? 0.1);
const dir = join(import.meta.dirname, '.data', `tpch-sf${sf}`);
const files = await generateTpch({ scaleFactor: sf, outDir: dir, tables: ['lineitem', 'orders', 'customer', 'nation'] });

async function build(session: Session) {
  const lineitem = await session.read.parquet(files.lineitem!.path);
  const orders = await session.read.parquet(files.orders!.path);
  const customer = await session.read.parquet(files.customer!.path);
  const nation = await session.read.parquet(files.nation!.path);
  // Revenue per order line with its customer's nation: the expensive part both actions share.
  return lineitem
    .join(orders, col('l_orderkey').eq(col('o_orderkey')))
    .join(customer, col('o_custkey').eq(col('c_custkey')))
    .join(nation, col('c_nationkey').eq(col('n_nationkey')))
    .select(col('n_name'), col('o_orderdate'), col('l_extendedprice').multiply(col('l_discount').minus(1).negate()).alias('revenue'));
}

async function secondAction(cached: boolean): Promise<{ first: number; second: number }> {
  const session = Session.local();
  let base = await build(session);
  if (cached) base = base.cache();
  let t0 = performance.now();
  await base.groupBy('n_name').agg(F.sum('revenue').alias('revenue')).collect();
  const first = performance.now() - t0;
  t0 = performance.now();
  await base.filter(col('o_orderdate').geq(F.date('1995-01-01'))).agg(F.count().alias('n'), F.sum('revenue').alias('r')).collect();
  const second = performance.now() - t0;
  if (cached) {
    const stats = cacheStats(session);
    if (stats.hits < 1) throw new Error('the second action did not read the cached relation');
  }
  return { first, second };
}

// Warm up the decoder and kernels once so neither side pays for compilation.
await secondAction(false);
const plain = await secondAction(false);
const cached = await secondAction(true);
console.log(`TPC-H SF ${sf}: lineitem ⋈ orders ⋈ customer ⋈ nation, then two aggregates over it`);
console.log(`without cache: first action ${plain.first.toFixed(0)} ms, second ${plain.second.toFixed(0)} ms`);
console.log(`with cache():  first action ${cached.first.toFixed(0)} ms (materializes), second ${cached.second.toFixed(0)} ms`);
console.log(`second-action speedup from cache: ${(plain.second / cached.second).toFixed(1)}×`);
