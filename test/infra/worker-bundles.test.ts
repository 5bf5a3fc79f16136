// The decoder's worker-thread bundle, as a deployed executor runs it: code bundled by esbuild (as SST bundles a
// function), started with plain `node` (no tsx, no TypeScript beside it). With SQUALL_PARQUET_WORKER naming the
// bundle, the row groups are decoded on worker threads and every value equals DuckDB's; without it the bundled
// code finds no worker script and decodes on its one thread (the state deployments were in before).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildWorkerBundles } from '../../infra/build/worker-bundles.ts';
import { duck, duckRows } from '../io/helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// Inside the project, so the bundle's external packages (parquet-wasm, the AWS SDK) resolve from node_modules.
const dir = fs.mkdtempSync(path.join(ROOT, 'node_modules', '.squall-bundle-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let worker: string;
let entry: string;
const file = path.join(dir, 't.parquet');

beforeAll(async () => {
  const db = await duck();
  try {
    await db.c.run(`COPY (SELECT i::BIGINT AS id, ((i % 1000) / 8)::DECIMAL(12,2) AS d, 'k' || (i % 37) AS s
      FROM range(0, 300000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 25000, COMPRESSION zstd)`);
  } finally {
    db.close();
  }
  worker = (await buildWorkerBundles(path.join(dir, 'workers')))['parquet-decode-worker.mjs'];
  fs.writeFileSync(
    path.join(dir, 'scan.ts'),
    `import { scanParquet } from ${JSON.stringify(path.join(ROOT, 'core/io/parquet-reader.ts'))};
import { decoderPool } from ${JSON.stringify(path.join(ROOT, 'core/io/parquet/decode-pool.ts'))};
import { columnValues } from ${JSON.stringify(path.join(ROOT, 'core/sdk/rows.ts'))};
import { DataTypes } from ${JSON.stringify(path.join(ROOT, 'core/types/data-type.ts'))};
let rows = 0, id = 0, d = 0, s = 0;
for await (const b of scanParquet([process.argv[2]!], { columns: ['id', 'd', 's'] })) {
  rows += b.numRows;
  for (const v of columnValues(b.getChildAt(0)!.data[0]!, DataTypes.int64)) id += Number(v);
  for (const v of columnValues(b.getChildAt(1)!.data[0]!, DataTypes.decimal(12, 2))) d += Math.round((v as number) * 100);
  for (const v of columnValues(b.getChildAt(2)!.data[0]!, DataTypes.utf8)) s += (v as string).length;
}
console.log(JSON.stringify({ rows, id, d, s, threads: decoderPool().threads, onThreads: decoderPool().decodedOnThreads }));
`,
  );
  entry = path.join(dir, 'scan.mjs');
  await build({ entryPoints: [path.join(dir, 'scan.ts')], outfile: entry, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent' });
}, 60_000);

async function runBundled(env: Record<string, string>): Promise<{ rows: number; id: number; d: number; s: number; threads: number; onThreads: number }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SQUALL_') && k !== 'NODE_OPTIONS'));
  const { stdout } = await promisify(execFile)(process.execPath, [entry, file], { env: { ...clean, ...env }, timeout: 60_000 });
  return JSON.parse(stdout);
}

describe('worker bundles', () => {
  test('a bundled executor decodes on worker threads from SQUALL_PARQUET_WORKER, with every value as DuckDB reads it', async () => {
    const db = await duck();
    let want: Record<string, unknown> | undefined;
    try {
      [want] = await duckRows(db.c, `SELECT count(*)::DOUBLE AS rows, sum(id)::DOUBLE AS id, (sum(d) * 100)::DOUBLE AS d, sum(length(s))::DOUBLE AS s FROM '${file}'`);
    } finally {
      db.close();
    }
    const got = await runBundled({ SQUALL_PARQUET_THREADS: '2', SQUALL_PARQUET_WORKER: worker });
    expect({ rows: got.rows, id: got.id, d: got.d, s: got.s }).toEqual({ rows: Number(want!.rows), id: Number(want!.id), d: Number(want!.d), s: Number(want!.s) });
    expect(got.threads).toBe(2);
    expect(got.onThreads, 'row groups decoded by worker threads').toBeGreaterThanOrEqual(12);
  }, 60_000);

  test('without it, the bundled code has no worker script and decodes everything on its own thread', async () => {
    const got = await runBundled({ SQUALL_PARQUET_THREADS: '2' });
    expect(got.rows).toBe(300000);
    expect(got.onThreads).toBe(0);
  }, 60_000);
});
