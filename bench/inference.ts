// Inference overhead: rows per second of a model stage run through the local stack (coordinator → scan stage on
// the executor → S3 shuffle as Arrow → ApplyModel stage on the inference worker → result) versus calling
// onnxruntime-node directly on the same rows in batches of the same size, in the same run. The model is an MLP
// (64 → 128 → 10, Gemm + Relu) built from known weights with onnx-proto, applied by OnnxModel.
//
//   npx tsx bench/inference.ts [rows=4096] [batch sizes=1,4,16,64,256]      (or: npm run bench -- inference)
//
// Printed per batch size: direct rows/s (onnxruntime InferenceSession.run on Float32Array batches), ApplyModel
// rows/s (rows / the time the worker spent in ApplyModel's model calls: Arrow vectors to tensors, the runs, tensors
// back to columns; `inferenceMs` in the task metrics), the inference task's rows/s (rows / the ApplyModel task's duration on the worker: reading its shuffle input, the model calls,
// writing its output), the whole job's rows/s (submit to result, three stages), and the ratios direct / task and
// direct / job: the engine's overhead at that batch size. Models are loaded before timing (one warm-up job per
// batch size), so model loading is not in the figures.
import { readFile, readdir, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import * as ort from 'onnxruntime-node';
import { S3ObjectStore, lambdaClientConfig } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { OnnxModel } from '../core/ml/onnx/onnx-model.ts';
import { serializePlan } from '../core/plan/serialize.ts';
import { type JobResultPayload, pathsForJob } from '../core/runtime/coordinator.ts';
import { readEvents } from '../core/runtime/job-store.ts';
import type { JobEvent } from '../core/runtime/scheduler.ts';
import { Session } from '../core/sdk/session.ts';
import { DataTypes } from '../core/types/data-type.ts';
import { field, schema } from '../core/types/schema.ts';
import { rowsToBatch } from '../core/sdk/from-rows.ts';
import { startLocalStack } from '../infra/local-stack/index.ts';
import { gemmReluModel } from '../test/ml/onnx-builders.ts';
import { seededRandom } from '../core/util/seeded-random.ts';

const D = 64;
const H = 128;

/** Numbers in [-0.5, 0.5), reproducible per seed. */
function seeded(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() - 0.5;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== 'inference');
  const rows = Number(args[0] ?? 4096);
  const sizes = (args[1] ?? '1,4,16,64,256').split(',').map(Number);
  const r = seeded(7);
  const W = Array.from({ length: D }, () => Array.from({ length: H }, () => r()));
  const b = Array.from({ length: H }, () => r());
  const dir = await mkdtemp(join(tmpdir(), 'squall-bench-inference-'));
  const modelFile = join(dir, 'mlp.onnx');
  await (await import('node:fs/promises')).writeFile(modelFile, gemmReluModel(W, b));
  const features = new Float32Array(rows * D);
  for (let i = 0; i < features.length; i++) features[i] = r();

  const stack = await startLocalStack({
    concurrency: 4,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 300, memoryMb: 2048 },
      inference: { handler: 'functions/inference-worker.ts#handler', timeoutSeconds: 300, memoryMb: 2048 },
      coordinator: {
        handler: 'functions/coordinator.ts#handler',
        timeoutSeconds: 600,
        environment: { SQUALL_EXECUTOR_FUNCTION: 'executor', SQUALL_INFERENCE_FUNCTION: 'inference' },
      },
    },
  });
  const store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  const lambda = new LambdaClient({ ...lambdaClientConfig(stack.endpoints()), maxAttempts: 1 });
  try {
    // The data: one vector<float32>[64] column, as Parquet in s3rver.
    const session = Session.local();
    const s = schema([field('id', DataTypes.int64, false), field('features', DataTypes.vector(D), false)]);
    const batch = rowsToBatch(Array.from({ length: rows }, (_, i) => ({ id: i, features: features.subarray(i * D, (i + 1) * D) })), s);
    const local = join(dir, 'features.parquet');
    const arrow = await import('apache-arrow');
    await session.createDataFrame(new arrow.Table([batch])).write.parquet(local);
    const table = `s3://${stack.bucket}/bench/features`;
    for (const f of await readdir(local)) if (f.endsWith('.parquet')) await store.put(`${table}/${f}`, await readFile(join(local, f)));

    // Direct: the same model file in onnxruntime-node, the same rows in batches of each size.
    const ortSession = await ort.InferenceSession.create(modelFile, { executionProviders: ['cpu'] });
    const direct = async (size: number): Promise<number> => {
      const t0 = performance.now();
      for (let start = 0; start < rows; start += size) {
        const n = Math.min(size, rows - start);
        await ortSession.run({ x: new ort.Tensor('float32', features.subarray(start * D, (start + n) * D), [n, D]) });
      }
      return performance.now() - t0;
    };

    const coordinator = async (event: unknown): Promise<JobResultPayload> => {
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'coordinator', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
      const text = new TextDecoder().decode(out.Payload);
      if (out.FunctionError) throw new Error(`coordinator failed: ${text}`);
      return JSON.parse(text) as JobResultPayload;
    };

    console.log(`inference: MLP ${D}→${H} (Gemm+Relu) over ${rows} rows; onnxruntime-node CPU provider; local stack (s3rver + Lambda endpoint, worker processes)`);
    console.log('batch   direct rows/s   ApplyModel rows/s   task rows/s   job rows/s   direct/ApplyModel   direct/task   direct/job   provider');
    for (const size of sizes) {
      const model = new OnnxModel({ modelUri: modelFile, inputCols: ['features'], outputCols: ['y'], outputSizes: [H], batchSize: size });
      const df = await (await session.read.parquet(table)).applyModel(model, { uri: `s3://${stack.bucket}/bench/models/mlp-${size}` });
      const job = (jobId: string) => ({ action: 'run', jobId, job: { plan: JSON.parse(serializePlan(df.select('id', 'y').plan)), options: { inference: { gpu: true, partitions: 1 } } } });
      // Warm-up: workers start, the model loads into the inference worker's cache.
      await coordinator(job(`bench-warm-${size}-${Date.now()}`));
      await direct(size);
      let best = { jobMs: Infinity, taskMs: Infinity, modelMs: Infinity, provider: '' };
      for (let run = 0; run < 2; run++) {
        const jobId = `bench-${size}-${run}-${Date.now()}`;
        const t0 = performance.now();
        const result = await coordinator(job(jobId));
        const jobMs = performance.now() - t0;
        if (result.state !== 'succeeded' || result.rows !== rows) throw new Error(`job ${jobId}: ${result.state}, ${result.rows} rows`);
        const events = (await readEvents<JobEvent>(store, pathsForJob(`s3://${stack.bucket}/jobs`, jobId), null, 1_000_000)).map((l) => l.event);
        const task = events.find((e): e is Extract<JobEvent, { type: 'task_finished' }> => e.type === 'task_finished' && e.reported?.['inferenceRows'] !== undefined);
        if (!task) throw new Error('no inference task in the job events');
        if (jobMs < best.jobMs) best = { jobMs, taskMs: task.durationMs, modelMs: Number(task.reported?.['inferenceMs'] ?? NaN), provider: String(task.reported?.['provider'] ?? '?') };
      }
      const directMs = Math.min(await direct(size), await direct(size));
      const perS = (ms: number) => (rows / ms) * 1000;
      console.log(
        `${String(size).padStart(5)} ${perS(directMs).toFixed(0).padStart(15)} ${perS(best.modelMs).toFixed(0).padStart(19)} ${perS(best.taskMs).toFixed(0).padStart(13)} ${perS(best.jobMs).toFixed(0).padStart(12)} ${(
          best.modelMs / directMs
        ).toFixed(2).padStart(19)} ${(best.taskMs / directMs).toFixed(2).padStart(13)} ${(best.jobMs / directMs).toFixed(2).padStart(12)}   ${best.provider}`,
      );
    }
  } finally {
    setS3Store(null);
    lambda.destroy();
    store.destroy();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
