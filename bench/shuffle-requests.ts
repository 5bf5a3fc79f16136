// S3 requests per shuffle, counted at a local s3rver: M map tasks each write one object (round-robin
// partitioned, so every (map, reduce) pair holds rows), the coordinator commits them into the stage manifest,
// and R reduce tasks each read their partition from every map object; then the same with a combining step
// (√M combiners). Prints PUTs, GETs and wall time per M×R.
// Usage: npx tsx bench/shuffle-requests.ts [MxR ...]   (default 10x10 100x100 400x400; the last takes minutes)
import { performance } from 'node:perf_hooks';
import { S3ObjectStore, mapBounded } from '../core/io/object-store.ts';
import { makeBatch, makeColumn, makeStringColumn } from '../core/arrow/column.ts';
import { toArrowSchema } from '../core/types/arrow-types.ts';
import { DataTypes } from '../core/types/data-type.ts';
import { field, schema } from '../core/types/schema.ts';
import { combineMapOutputs, planCombinerGroups } from '../core/shuffle/combiner.ts';
import { commitMapOutputs, emptyManifest, loadManifest } from '../core/shuffle/manifest.ts';
import { readShufflePartition } from '../core/shuffle/shuffle-reader.ts';
import { writeMapOutput } from '../core/shuffle/shuffle-writer.ts';
import { LocalS3Server, S3RVER_CREDENTIALS } from '../infra/local-stack/index.ts';

const BUCKET = 'bench';
const SCHEMA = schema([field('id', DataTypes.int32, false), field('s', DataTypes.utf8)]);

function mapBatch(task: number, rows: number) {
  const ids = Int32Array.from({ length: rows }, (_, i) => task * rows + i);
  const s = Array.from(ids, (id) => `row-${id}`);
  return makeBatch(toArrowSchema(SCHEMA), [makeColumn(DataTypes.int32, rows, ids, null), makeStringColumn(s)], rows);
}

async function run(server: LocalS3Server, store: S3ObjectStore, M: number, R: number): Promise<void> {
  const root = `s3://${BUCKET}/jobs/bench-${M}x${R}/shuffle`;
  const rowsPerMap = 2 * R;
  server.resetCounts();
  const t0 = performance.now();
  const outputs = await mapBounded(
    Array.from({ length: M }, (_, t) => t),
    32,
    (t) =>
      writeMapOutput(store, { shuffleRoot: root, stage: 1, task: t, attempt: 0, partitioning: { kind: 'round_robin', partitions: R }, schema: SCHEMA }, [mapBatch(t, rowsPerMap)]),
  );
  const mapPuts = server.requestCount('PutObject', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload');
  await commitMapOutputs(store, root, emptyManifest(1, M, R), outputs);
  const t1 = performance.now();
  server.resetCounts();
  const manifest = (await loadManifest(store, root, 1))!;
  let rows = 0;
  // Reducers run 8 at a time, as concurrent Lambda tasks would (each with its own bounded fetches).
  await mapBounded(
    Array.from({ length: R }, (_, p) => p),
    8,
    async (p) => {
      for (const b of await readShufflePartition(store, manifest.outputs, p)) rows += b.numRows;
    },
  );
  const t2 = performance.now();
  const gets = server.requestCount('GetObject');
  const lists = server.requestCount('ListObjects');
  if (rows !== M * rowsPerMap) throw new Error(`read ${rows} rows, wrote ${M * rowsPerMap}`);
  const bytes = outputs.reduce((s, o) => s + o.bytes, 0);
  console.log(
    `M×R ${`${M}×${R}`.padEnd(8)} direct:   map PUTs ${String(mapPuts).padStart(4)} (+1 manifest)  reduce GETs ${String(gets).padStart(7)} (M×R = ${M * R}, incl. 1 manifest GET; ${lists} LIST)  ` +
      `${(bytes / 1024).toFixed(0)} KiB  map ${((t1 - t0) / 1000).toFixed(2)} s, reduce ${((t2 - t1) / 1000).toFixed(2)} s`,
  );

  // The same shuffle with a combining step: C ≈ √M combiners, then reducers read C objects.
  server.resetCounts();
  const groups = planCombinerGroups(manifest.outputs);
  const combined = await mapBounded(groups, 8, (g, c) => combineMapOutputs(store, g, { shuffleRoot: root, stage: 1, combiner: c, attempt: 0 }));
  await commitMapOutputs(store, root, emptyManifest(1, groups.length, R), combined, 'combined');
  const combineGets = server.requestCount('GetObject');
  const combinePuts = server.requestCount('PutObject');
  const t3 = performance.now();
  server.resetCounts();
  const cm = (await loadManifest(store, root, 1, 'combined'))!;
  let crows = 0;
  await mapBounded(
    Array.from({ length: R }, (_, p) => p),
    8,
    async (p) => {
      for (const b of await readShufflePartition(store, cm.outputs, p)) crows += b.numRows;
    },
  );
  const t4 = performance.now();
  if (crows !== M * rowsPerMap) throw new Error(`combined: read ${crows} rows, wrote ${M * rowsPerMap}`);
  console.log(
    `M×R ${`${M}×${R}`.padEnd(8)} combined: C = ${groups.length}, combine GETs ${combineGets} PUTs ${combinePuts} (incl. 1 manifest)  reduce GETs ${server.requestCount('GetObject')} (C×R = ${groups.length * R}, incl. 1 manifest GET)  ` +
      `combine ${((t3 - t2) / 1000).toFixed(2)} s, reduce ${((t4 - t3) / 1000).toFixed(2)} s`,
  );
}

async function main(): Promise<void> {
  const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ['10x10', '100x100', '400x400']).map((a) => {
    const m = /^(\d+)x(\d+)$/i.exec(a);
    if (!m) throw new Error(`expected MxR, got '${a}'`);
    return [Number(m[1]), Number(m[2])] as const;
  });
  const server = await LocalS3Server.start({ buckets: [BUCKET] });
  const store = S3ObjectStore.fromEndpoints({ region: 'us-east-1', s3Endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS });
  try {
    for (const [M, R] of sizes) await run(server, store, M, R);
  } finally {
    store.destroy();
    await server.stop();
  }
}

await main();
