// TPC-H Q1 and Q6 written with the DataFrame API (the SQL forms are in ./queries.ts), shared by the workload
// benchmark (bench/run.ts) and the operator profile (bench/profile-operators.ts).
import { type DataFrame, col, functions as F } from '../../core/sdk/index.ts';

/** Q1, the pricing summary report: scan, filter, eight aggregates over two dictionary keys, sort. */
export function q1(lineitem: DataFrame): DataFrame {
  return lineitem
    .filter(col('l_shipdate').leq(F.date('1998-09-02')))
    .groupBy('l_returnflag', 'l_linestatus')
    .agg(
      F.sum('l_quantity').alias('sum_qty'),
      F.sum('l_extendedprice').alias('sum_base_price'),
      F.sum(col('l_extendedprice').multiply(col('l_discount').minus(1).negate())).alias('sum_disc_price'),
      F.sum(col('l_extendedprice').multiply(col('l_discount').minus(1).negate()).multiply(col('l_tax').plus(1))).alias('sum_charge'),
      F.avg('l_quantity').alias('avg_qty'),
      F.avg('l_extendedprice').alias('avg_price'),
      F.avg('l_discount').alias('avg_disc'),
      F.count().alias('count_order'),
    )
    .orderBy('l_returnflag', 'l_linestatus');
}

/** Q6, forecasting revenue change: a selective conjunctive range filter and one sum. */
export function q6(lineitem: DataFrame): DataFrame {
  return lineitem
    .filter(
      col('l_shipdate').geq(F.date('1994-01-01'))
        .and(col('l_shipdate').lt(F.date('1995-01-01')))
        .and(col('l_discount').between(0.05, 0.07))
        .and(col('l_quantity').lt(24)),
    )
    .agg(F.sum(col('l_extendedprice').multiply(col('l_discount'))).alias('revenue'));
}
