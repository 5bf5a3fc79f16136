// Runs the 22 TPC-H queries in DuckDB over a directory written by generate.ts and prints, per query, the row
// count, the time and the first row. Usage: npx tsx bench/tpch/duckdb-run.ts bench/.data/tpch-sf1 [queries...]
import { resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { TPCH_QUERY_NUMBERS, duckdbTpchViews, tpchQuery } from './queries.ts';

const [dirArg, ...which] = process.argv.slice(2);
if (!dirArg) {
  console.error('usage: npx tsx bench/tpch/duckdb-run.ts <data dir> [query numbers...]');
  process.exit(1);
}
const queries = which.length ? which.map(Number) : TPCH_QUERY_NUMBERS;
const inst = await DuckDBInstance.create(':memory:');
const c = await inst.connect();
for (const v of duckdbTpchViews(resolve(dirArg))) await c.run(v);
for (const n of queries) {
  const t0 = performance.now();
  const rows = (await c.runAndReadAll(tpchQuery(n))).getRowObjectsJson();
  const ms = performance.now() - t0;
  console.log(`q${n}: ${rows.length} rows, ${ms.toFixed(0)} ms  ${JSON.stringify(rows[0] ?? null).slice(0, 160)}`);
}
c.closeSync();
inst.closeSync();
