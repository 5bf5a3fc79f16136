// The table window-function tests share (DataFrame and SQL): 400 rows with NULL and repeated partition keys,
// ties and NULLs in the order keys, and NULL arguments, written by DuckDB as Parquet with several row groups.
import type { DuckDBConnection } from '@duckdb/node-api';

/** Writes `${dir}/w.parquet`, registers it as DuckDB view `w`, and returns the file's path. */
export async function writeWindowTable(duck: DuckDBConnection, dir: string): Promise<string> {
  const path = `${dir}/w.parquet`;
  await duck.run(`COPY (
    SELECT
      i::INTEGER AS id,
      CASE WHEN i % 17 = 0 THEN NULL ELSE ['a','b','c','d','e'][(i % 5) + 1] END AS p,
      CASE WHEN i % 23 = 0 THEN NULL ELSE (i % 4)::INTEGER END AS q,
      CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 7 % 10)::INTEGER END AS o,
      CASE WHEN i % 6 = 0 THEN NULL ELSE ((i * 37 % 101) / 4.0)::DOUBLE END AS x,
      CASE WHEN i % 10 = 0 THEN NULL ELSE ((i * 53 % 1000) / 100.0)::DECIMAL(12,2) END AS m,
      CASE WHEN i % 9 = 0 THEN NULL ELSE (i * 1000 - 50000)::BIGINT END AS l,
      CASE WHEN i % 12 = 0 THEN NULL ELSE DATE '1995-01-15' + (i * 17 % 900)::INTEGER END AS d,
      'item-' || (i % 7) AS s
    FROM range(400) r(i)
  ) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 128)`);
  await duck.run(`CREATE VIEW w AS SELECT * FROM '${path}'`);
  return path;
}
