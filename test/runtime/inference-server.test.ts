// The GPU worker's container entry point (infra/inference/server.ts): the inference worker behind the Lambda
// Invoke API over plain HTTP. A coordinator pointed at it with SQUALL_INFERENCE_FUNCTION/SQUALL_INFERENCE_ENDPOINT
// (as sst.config.ts wires the GPU service) runs a job's model stage there, and the result equals in-process.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import * as arrow from 'apache-arrow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3ObjectStore, endpointsToEnv, lambdaClientConfig } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { serializePlan } from '../../core/plan/serialize.ts';
import type { JobResultPayload } from '../../core/runtime/coordinator.ts';
import { LambdaInvoker } from '../../core/runtime/invoker.ts';
import { fromBase64 } from '../../core/runtime/protocol.ts';
import { Session } from '../../core/sdk/session.ts';
import { batchesToRows } from '../../core/sdk/rows.ts';
import { decodeStream } from '../../core/shuffle/shuffle-reader.ts';
import { fromArrowSchema } from '../../core/types/arrow-types.ts';
import { type LocalStack, PROJECT_ROOT, startLocalStack } from '../../infra/local-stack/index.ts';
import { ScaleModel, TEST_MODELS_MODULE } from './support/test-models.ts';
import '../infra/support.ts';

let stack: LocalStack;
let server: ChildProcess;
let port: number;
let store: S3ObjectStore;
let lambda: LambdaClient;
let local: string;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), 'squall-inference-server-'));
  port = await freePort();
  stack = await startLocalStack({
    concurrency: 4,
    logs: 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 30, memoryMb: 1024 },
      coordinator: {
        handler: 'functions/coordinator.ts#handler',
        timeoutSeconds: 120,
        environment: { SQUALL_EXECUTOR_FUNCTION: 'executor', SQUALL_INFERENCE_FUNCTION: 'squall-inference-gpu', SQUALL_INFERENCE_ENDPOINT: `http://127.0.0.1:${port}` },
      },
    },
  });
  server = spawn(process.execPath, ['--import', 'tsx', 'infra/inference/server.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...endpointsToEnv(stack.endpoints()), SQUALL_INFERENCE_PORT: String(port), SQUALL_INFERENCE_DEVICE: 'cpu' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    server.on('exit', (code) => reject(new Error(`the inference server exited with ${code}`)));
  });
  store = S3ObjectStore.fromEndpoints(stack.endpoints());
  setS3Store(store);
  lambda = new LambdaClient({ ...lambdaClientConfig(stack.endpoints()), maxAttempts: 1 });
}, 120_000);

afterAll(async () => {
  server?.kill();
  setS3Store(null);
  lambda?.destroy();
  store?.destroy();
  await stack?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

it('answers the Invoke API: a bad request is a function error the invoker classifies as fatal; /health is 200', async () => {
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  const invoker = new LambdaInvoker({ functionName: 'squall-inference-gpu', clientConfig: lambdaClientConfig({ ...stack.endpoints(), lambdaEndpoint: `http://127.0.0.1:${port}` }) });
  await expect(invoker.invoke({ version: 1 } as never)).rejects.toMatchObject({ kind: 'fatal', errorType: 'AnalysisError' });
  invoker.close();
});

it("runs a GPU job's model stage in the container server; the result equals in-process", async () => {
  const session = Session.local();
  const rows = Array.from({ length: 120 }, (_, i) => ({ path: `p${i}`, x: i }));
  const file = join(local, 't.parquet');
  await session.createDataFrame(rows, { path: 'string', x: 'double' }).write.parquet(file);
  const table = `s3://${stack.bucket}/data/server-t`;
  for (const f of await readdir(file)) if (f.endsWith('.parquet')) await store.put(`${table}/${f}`, await readFile(join(file, f)));
  const df = await (await session.read.parquet(table)).applyModel(new ScaleModel({ inputCol: 'x', outputCol: 'y', factor: 5 }), {
    uri: `s3://${stack.bucket}/models/server-scale`,
    modules: [TEST_MODELS_MODULE],
  });
  const expected = await df.orderBy('path').collect();
  const out = await lambda.send(
    new InvokeCommand({
      FunctionName: 'coordinator',
      Payload: new TextEncoder().encode(JSON.stringify({ action: 'run', job: { plan: JSON.parse(serializePlan(df.plan)), options: { inference: { gpu: true, partitions: 2 } } } })),
    }),
  );
  const r = JSON.parse(new TextDecoder().decode(out.Payload)) as JobResultPayload;
  expect(out.FunctionError, JSON.stringify(r)).toBeUndefined();
  expect(r.state).toBe('succeeded');
  const t = arrow.tableFromIPC(fromBase64(r.inline!));
  const got = batchesToRows(fromArrowSchema(t.schema), decodeStream(fromBase64(r.inline!))).sort((a, b) => String(a['path']).localeCompare(String(b['path'])));
  expect(got).toEqual(expected);
  expect(r.status.stages.map((s) => s.tasks)).toEqual([1, 2, 2]);
}, 90_000);

it('a service scaled to zero (HTTP 503 from its load balancer) counts as throttling for the inference invoker only', async () => {
  const { createServer: http } = await import('node:http');
  const lb = http((_req, res) => res.writeHead(503, { 'content-type': 'text/html' }).end('<html>503 Service Temporarily Unavailable</html>'));
  await new Promise<void>((r) => lb.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(lb.address() as { port: number }).port}`;
  const config = lambdaClientConfig({ ...stack.endpoints(), lambdaEndpoint: url });
  const cold = new LambdaInvoker({ functionName: 'squall-inference-gpu', unavailableIsThrottled: true, clientConfig: { ...config, maxAttempts: 1 } });
  const plain = new LambdaInvoker({ functionName: 'executor', clientConfig: { ...config, maxAttempts: 1 } });
  try {
    await expect(cold.invoke({ version: 1 } as never)).rejects.toMatchObject({ kind: 'throttled' });
    await expect(plain.invoke({ version: 1 } as never)).rejects.toMatchObject({ kind: 'crash' });
  } finally {
    cold.close();
    plain.close();
    lb.close();
  }
});
