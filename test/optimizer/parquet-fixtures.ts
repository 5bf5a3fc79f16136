// Parquet files for optimizer tests, written by DuckDB with small row groups so that row-group pruning and
// statistics-based estimates have something to work with.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openDuckDB, type DuckDB } from '../support/duckdb.ts';

export interface Fixtures {
  readonly dir: string;
  readonly db: DuckDB;
  /** Path of table `name`'s Parquet file. */
  file(name: string): string;
  close(): void;
}

/**
 * items (20,000 rows, sorted by id and ship date, row groups of 2,000 rows), parts (200), suppliers (20) and
 * nations (5) with foreign keys items.part → parts.id, parts.supplier → suppliers.id, suppliers.nation →
 * nations.id. The same tables are views in `db` for reference answers.
 */
export async function makeFixtures(): Promise<Fixtures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-opt-'));
  const db = await openDuckDB();
  const file = (name: string) => path.join(dir, `${name}.parquet`);
  await db.run(`CREATE TABLE items AS SELECT
      i::BIGINT AS id,
      (i % 200)::BIGINT AS part,
      CAST(((i * 37) % 100000) / 100.0 AS DECIMAL(15,2)) AS price,
      (DATE '1995-01-01' + CAST(i / 20 AS INTEGER)) AS ship,
      CAST(i % 50 AS INTEGER) AS qty,
      CASE WHEN i % 7 = 0 THEN NULL ELSE ['A', 'N', 'R'][(i % 3) + 1] END AS flag
    FROM range(20000) t(i)`);
  await db.run(`CREATE TABLE parts AS SELECT i::BIGINT AS id, (i % 20)::BIGINT AS supplier, 'part ' || i AS name,
      CAST(i * 1.5 AS DOUBLE) AS weight FROM range(200) t(i)`);
  await db.run(`CREATE TABLE suppliers AS SELECT i::BIGINT AS id, (i % 5)::BIGINT AS nation, 'sup ' || i AS name FROM range(20) t(i)`);
  await db.run(`CREATE TABLE nations AS SELECT i::BIGINT AS id, ['DE', 'FR', 'JP', 'US', 'BR'][i + 1] AS name FROM range(5) t(i)`);
  for (const t of ['items', 'parts', 'suppliers', 'nations']) {
    await db.run(`COPY ${t} TO '${file(t)}' (FORMAT PARQUET, ROW_GROUP_SIZE 2000)`);
  }
  return {
    dir,
    db,
    file,
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
