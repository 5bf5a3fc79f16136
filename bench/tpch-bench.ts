// `npm run bench -- tpch [--sf 1]`: the 22 TPC-H queries through session.sql() and through DuckDB on the same
// Parquet files, in this process: each query's best time after a warm-up, the ratio, and the geometric mean.
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Session } from '../core/sdk/index.ts';
import { TPCH_TABLES, generateTpch } from './tpch/generate.ts';
import { TPCH_QUERY_NUMBERS, duckdbTpchViews, tpchQuery } from './tpch/queries.ts';
import { defaultTaskThreads } from '../core/runtime/thread-pool.ts';

async function best(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn(); // warm-up: file cache, JIT, compiled kernels
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

export async function runTpchBenchmark(sf: number, runs = 2, only?: readonly number[]): Promise<void> {
  const dir = join(import.meta.dirname, '.data', `tpch-sf${sf}`);
  await generateTpch({ scaleFactor: sf, outDir: dir });
  const session = Session.local();
  for (const t of TPCH_TABLES) session.registerTable(t, await session.read.parquet(join(dir, `${t}.parquet`)));
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const duck = await instance.connect();
  for (const v of duckdbTpchViews(dir)) await duck.run(v);
  console.log(`TPC-H SF${sf}: Squall in-process (Session.local(): scan/filter/aggregate plans as tasks on ${defaultTaskThreads()} threads, joins as one pipeline with Parquet decoding on worker threads) vs DuckDB (2 threads).`);
  console.log(`Best of ${runs} after a warm-up.\n`);
  console.log(`${'query'.padEnd(6)} ${'squall ms'.padStart(10)} ${'duckdb ms'.padStart(10)} ${'ratio'.padStart(7)}`);
  const ratios: number[] = [];
  for (const n of only ?? TPCH_QUERY_NUMBERS) {
    const sql = tpchQuery(n);
    const squallMs = await best(() => session.execute(session.sql(sql).plan), runs);
    const duckMs = await best(() => duck.run(sql), runs);
    const ratio = squallMs / duckMs;
    ratios.push(ratio);
    console.log(`${`Q${n}`.padEnd(6)} ${squallMs.toFixed(0).padStart(10)} ${duckMs.toFixed(0).padStart(10)} ${ratio.toFixed(1).padStart(6)}x`);
  }
  const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  console.log(`\ngeometric mean of the ratios: ${geomean.toFixed(2)}x`);
  duck.closeSync();
  instance.closeSync();
}
