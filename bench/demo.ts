// `npm start`: generates a small TPC-H data set as Parquet (once), then runs TPC-H Q1 and a join with the
// DataFrame API in this process and prints the results.
import { join } from 'node:path';
import { Session, col, functions as F } from '../core/sdk/index.ts';
import { generateTpch } from './tpch/generate.ts';

const sf = Number(process.env['SQUALL_DEMO_SF'] ?? 0.1);
const dir = join(import.meta.dirname, '.data', `tpch-sf${sf}`);
console.log(`Squall demo: TPC-H scale factor ${sf} in ${dir}`);
const files = await generateTpch({ scaleFactor: sf, outDir: dir, tables: ['lineitem', 'orders', 'customer', 'nation'] });

const session = Session.local();
const lineitem = await session.read.parquet(files.lineitem!.path);

console.log('\nTPC-H Q1 (pricing summary report):');
const q1 = lineitem
  .filter(col('l_shipdate').leq(F.date('1998-09-02')))
  .groupBy('l_returnflag', 'l_linestatus')
  .agg(
    F.sum('l_quantity').alias('sum_qty'),
    F.sum('l_extendedprice').alias('sum_base_price'),
    F.sum(col('l_extendedprice').multiply(col('l_discount').minus(1).negate())).alias('sum_disc_price'),
    F.avg('l_quantity').alias('avg_qty'),
    F.avg('l_discount').alias('avg_disc'),
    F.count().alias('count_order'),
  )
  .orderBy('l_returnflag', 'l_linestatus');
let t0 = performance.now();
await q1.show();
console.log(`(${(performance.now() - t0).toFixed(0)} ms)`);

console.log('\nTop customers by revenue per nation (join, aggregate, sort):');
const orders = await session.read.parquet(files.orders!.path);
const customer = await session.read.parquet(files.customer!.path);
const nation = await session.read.parquet(files.nation!.path);
const top = orders
  .join(customer, col('o_custkey').eq(col('c_custkey')))
  .join(nation, col('c_nationkey').eq(col('n_nationkey')))
  .groupBy('n_name')
  .agg(F.count().alias('orders'), F.sum('o_totalprice').alias('revenue'))
  .orderBy(col('revenue').desc())
  .limit(5);
t0 = performance.now();
await top.show();
console.log(`(${(performance.now() - t0).toFixed(0)} ms)`);
await top.explain();
