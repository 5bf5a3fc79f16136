// Per-task overhead of the serverless runtime on the local stack: a job of N trivial tasks (each scans one
// one-row row group of a Parquet file in s3rver and writes a partial count as its shuffle output), run by the
// coordinator's scheduler in this process through the executor function (Lambda Invoke endpoint, worker
// processes). Prints wall time, tasks per second, and per task: the executor's own time, the time the
// coordinator saw, and their difference — what invocation, payloads and commits cost.
// Usage: npx tsx bench/task-overhead.ts [tasks=1000] [concurrency=8]
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBatch, makeColumn } from '../core/arrow/column.ts';
import { S3ObjectStore, lambdaClientConfig } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { writeBatches } from '../core/io/writers.ts';
import { submitJob } from '../core/runtime/coordinator.ts';
import { LambdaInvoker } from '../core/runtime/invoker.ts';
import type { JobEvent } from '../core/runtime/scheduler.ts';
import { toArrowSchema } from '../core/types/arrow-types.ts';
import { DataTypes } from '../core/types/data-type.ts';
import { field, schema } from '../core/types/schema.ts';
import { startLocalStack } from '../infra/local-stack/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const tasks = Number(process.argv[2] ?? 1000);
const concurrency = Number(process.argv[3] ?? 8);

const dir = await mkdtemp(join(tmpdir(), 'squall-task-overhead-'));
const s = schema([field('id', DataTypes.int64, false)]);
const batches = Array.from({ length: tasks }, (_, i) =>
  makeBatch(toArrowSchema(s), [makeColumn(DataTypes.int64, 1, BigInt64Array.of(BigInt(i)), null)], 1),
);
// One row per row group, one row group per task.
async function* all() {
  yield* batches;
}
const written = await writeBatches(all(), s, join(dir, 'ids'), 'parquet', 'error', { rowGroupSize: 1, maxRowsPerFile: tasks });
const file = written.files[0] ?? join(dir, 'ids', (await readdir(join(dir, 'ids'))).find((f) => f.endsWith('.parquet'))!);

const stack = await startLocalStack({
  concurrency,
  logs: 'silent',
  functions: { executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 60 } },
});
const store = S3ObjectStore.fromEndpoints(stack.endpoints());
setS3Store(store);
const invoker = new LambdaInvoker({ functionName: 'executor', clientConfig: lambdaClientConfig(stack.endpoints()) });
try {
  const uri = `s3://${stack.bucket}/bench/ids.parquet`;
  const bytes = await readFile(file);
  await store.put(uri, bytes);
  // About one row group per task (the planner cuts files into byte ranges; a task reads the row groups whose
  // midpoints fall in its range).
  const target = Math.max(1, Math.floor(bytes.length / tasks));
  await stack.lambda.prewarm('executor', concurrency);
  const started = new Map<string, number>();
  const observed: number[] = [];
  const inside: number[] = [];
  const failures = new Map<string, number>();
  const onEvent = (e: JobEvent) => {
    if (e.type === 'task_failed') {
      const k = `${e.kind}: ${e.error.slice(0, 120)}`;
      failures.set(k, (failures.get(k) ?? 0) + 1);
    }
    if (e.type === 'task_started') started.set(`${e.stage}.${e.task}.${e.attempt}`, performance.now());
    if (e.type === 'task_finished' && e.stage === 0) {
      observed.push(performance.now() - started.get(`${e.stage}.${e.task}.${e.attempt}`)!);
      inside.push(e.durationMs);
    }
  };
  const t0 = performance.now();
  const r = await submitJob(
    { sql: 'SELECT count(*) AS n FROM ids', tables: { ids: { path: uri } }, options: { targetBytesPerTask: target, maxPartitions: 1, scheduler: { concurrency, speculation: { enabled: false } } } },
    { store, invoker, jobsRoot: `s3://${stack.bucket}/jobs`, onEvent },
  );
  const wall = performance.now() - t0;
  const n = r.status.stages[0]!.tasks;
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const overhead = observed.map((o, i) => o - inside[i]!);
  console.log(`${n} scan tasks + ${r.status.stages.length - 1} more stage(s), concurrency ${concurrency}, ${r.status.retries} retries; result rows: ${r.rows}`);
  console.log(`wall ${wall.toFixed(0)} ms → ${((n / wall) * 1000).toFixed(0)} tasks/s; ${((wall * concurrency) / n).toFixed(1)} ms of a slot per task`);
  console.log(`executor time per task     p50 ${pct(inside, 0.5).toFixed(1)} ms   p95 ${pct(inside, 0.95).toFixed(1)} ms`);
  console.log(`coordinator-observed       p50 ${pct(observed, 0.5).toFixed(1)} ms   p95 ${pct(observed, 0.95).toFixed(1)} ms`);
  for (const [k, n] of failures) console.log(`failed attempts ×${n}  ${k}`);
  console.log(`overhead (observed − exec) p50 ${pct(overhead, 0.5).toFixed(1)} ms   p95 ${pct(overhead, 0.95).toFixed(1)} ms`);
} finally {
  invoker.close();
  store.destroy();
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}
