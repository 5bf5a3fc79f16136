// The executor function in the local stack: requests sent with the real @aws-sdk/client-lambda to the Invoke
// endpoint, whose workers run functions/executor.ts#handler against s3rver using only their environment. One
// scan + partial-aggregate task's map output is checked partition by partition against the same task run in
// this process; a whole multi-stage job (shuffle, range sort with its sample pass) runs through the endpoint;
// injected faults surface as Lambda function errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3ObjectStore, lambdaClientConfig } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { Session, col, functions as F, type DataFrame } from '../../core/sdk/index.ts';
import { describeTask } from '../../core/physical/task.ts';
import { physicalSchema } from '../../core/physical/physical-plan.ts';
import { readShufflePartition } from '../../core/shuffle/shuffle-reader.ts';
import { batchesToRows } from '../../core/sdk/rows.ts';
import { EXECUTOR_PROTOCOL_VERSION, type ExecutorRequest, type ExecutorResponse, parseExecutorResponse } from '../../core/runtime/protocol.ts';
import { runTask } from '../../core/runtime/task-runner.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';
import { expectSameRows, plainRows } from '../support/compare.ts';
import { graphFor, removeDir, runOnExecutors, writeTestTables } from './executor-support.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let stack: LocalStack;
let s3: S3ObjectStore;
let client: LambdaClient;
let dir: string;
let facts: DataFrame;
let previousS3: ReturnType<typeof setS3Store>;
const logs: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack({
    logs: (fn, line) => logs.push(`${fn}: ${line}`),
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 60, memoryMb: 1024, environment: { SQUALL_ALLOW_FAULTS: '1' } },
      executorShort: { handler: 'functions/executor.ts#handler', timeoutSeconds: 2, environment: { SQUALL_ALLOW_FAULTS: '1' } },
    },
  });
  s3 = S3ObjectStore.fromEndpoints(stack.endpoints());
  previousS3 = setS3Store(s3);
  client = new LambdaClient(lambdaClientConfig(stack.endpoints()));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squall-executor-lambda-'));
  const tables = await writeTestTables(dir);
  const part = fs.readdirSync(tables.facts).find((f) => f.endsWith('.parquet'))!;
  await s3.put(`s3://${stack.bucket}/data/facts.parquet`, new Uint8Array(fs.readFileSync(path.join(tables.facts, part))));
  facts = await Session.local().read.parquet(`s3://${stack.bucket}/data/facts.parquet`);
}, 60_000);

afterAll(async () => {
  setS3Store(previousS3);
  client?.destroy();
  s3?.destroy();
  await stack?.stop();
  removeDir(dir);
});

class FunctionError extends Error {}

async function invoke(request: ExecutorRequest, functionName = 'executor'): Promise<ExecutorResponse> {
  const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: JSON.stringify(request) }));
  const body = JSON.parse(new TextDecoder().decode(out.Payload)) as unknown;
  if (out.FunctionError) {
    const e = body as { errorType: string; errorMessage: string };
    throw Object.assign(new FunctionError(e.errorMessage), { errorType: e.errorType });
  }
  return parseExecutorResponse(body);
}

let jobSeq = 0;

describe('executor function through the Lambda endpoint', () => {
  test('one scan + partial-aggregate task writes the same map output as the task run in-process', async () => {
    const df = facts.groupBy('g').agg(F.sum('v').alias('sv'), F.count().alias('n'));
    const graph = await graphFor(df);
    const stage = graph.stages[0]!;
    expect(stage.output.kind).toBe('hash');
    expect(stage.plan.kind).toBe('hash_aggregate');
    expect(stage.splits![0]!.every((s) => s.path.startsWith('s3://'))).toBe(true);
    const job = `lambda-${++jobSeq}`;
    const request = (attempt: number): ExecutorRequest => ({
      version: EXECUTOR_PROTOCOL_VERSION,
      mode: 'run',
      task: describeTask(graph, job, 0, 0, attempt),
      taskUri: null,
      shuffleRoot: `s3://${stack.bucket}/jobs/${job}/shuffle`,
      resultRoot: `s3://${stack.bucket}/jobs/${job}/result`,
      inputs: [],
      rangeBoundaries: null,
      sampleSize: 0,
      inlineResultBytes: 0,
    });
    const remote = await invoke(request(0));
    const local = await runTask(request(1), { stores: () => s3 });
    expect(remote).toMatchObject({ job, stage: 0, task: 0, attempt: 0 });
    if (remote.output.kind !== 'shuffle' || local.output.kind !== 'shuffle') throw new Error('expected shuffle outputs');
    const out = remote.output.mapOutput;
    expect(out.uri).toMatch(new RegExp(`^s3://${stack.bucket}/jobs/${job}/shuffle/stage-0/part-[0-9a-f]{2}/map-0-attempt-0\\.arrow$`));
    expect(remote.keys).toEqual([out.uri]);
    expect((await s3.head(out.uri))!.size).toBe(out.bytes);
    expect(out.rows).toBe(local.output.mapOutput.rows);
    expect(out.rows).toBeGreaterThan(0);
    expect(out.partitions.map((p) => p.rows)).toEqual(local.output.mapOutput.partitions.map((p) => p.rows));
    const schema = physicalSchema(stage.plan);
    for (let p = 0; p < out.partitions.length; p++) {
      const a = plainRows(batchesToRows(schema, await readShufflePartition(s3, [out], p)));
      const b = plainRows(batchesToRows(schema, await readShufflePartition(s3, [local.output.mapOutput], p)));
      expectSameRows(a, b);
    }
    // Metrics from the worker: its split's bytes read, the object written, its own memory.
    expect(remote.metrics.bytesRead).toBe(stage.splits![0]!.reduce((s, f) => s + f.length, 0));
    expect(remote.metrics.bytesWritten).toBe(out.bytes);
    expect(remote.metrics.rows).toBe(out.rows);
    expect(remote.metrics.peakMemoryBytes).toBeGreaterThan(20 << 20);
  }, 60_000);

  test('a multi-stage job (aggregate, shuffle, range sort) through the endpoint equals the in-process result', async () => {
    const df = facts.filter(col('id').lt(5000)).groupBy('k').agg(F.sum('v').alias('sv'), F.count().alias('n')).orderBy(col('sv').desc(), col('k'));
    const graph = await graphFor(df);
    expect(graph.stages.some((s) => s.output.kind === 'range')).toBe(true);
    const job = `lambda-${++jobSeq}`;
    // Tasks travel by reference here (taskUri on S3), as large tasks do.
    const run = await runOnExecutors(graph, { store: s3, root: `s3://${stack.bucket}/jobs/${job}`, job, execute: (r) => invoke(r), sampleSize: 20, taskByUri: true });
    const want = plainRows(await df.collect());
    expectSameRows(run.parquetRows, want, { ordered: true });
    expectSameRows(run.inlineRows!, want, { ordered: true });
    for (const r of run.responses) for (const k of r.keys) expect(k.startsWith(`s3://${stack.bucket}/jobs/${job}/`)).toBe(true);
  }, 120_000);

  test('injected faults: throw fails the invocation naming the fault; crash ends the environment; hang times out', async () => {
    const graph = await graphFor(facts.groupBy('g').agg(F.count().alias('n')));
    const job = `lambda-${++jobSeq}`;
    const request = (kind: 'throw' | 'crash' | 'hang', attempt: number): ExecutorRequest => ({
      version: EXECUTOR_PROTOCOL_VERSION,
      mode: 'run',
      task: describeTask(graph, job, 0, 0, attempt),
      taskUri: null,
      shuffleRoot: `s3://${stack.bucket}/jobs/${job}/shuffle`,
      resultRoot: `s3://${stack.bucket}/jobs/${job}/result`,
      inputs: [],
      rangeBoundaries: null,
      sampleSize: 0,
      inlineResultBytes: 0,
      faults: [{ attempts: [0], kind }],
    });
    const thrown = await invoke(request('throw', 0)).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(FunctionError);
    expect((thrown as Error).message).toBe(`job ${job} stage 0 task 0 attempt 0: injected fault 'throw' at job ${job} stage 0 task 0 attempt 0`);
    const crashed = await invoke(request('crash', 0)).catch((e: unknown) => e);
    expect((crashed as { errorType: string }).errorType).toBe('Runtime.ExitError');
    // The next attempt runs normally (in a fresh environment).
    const ok = await invoke(request('crash', 1));
    expect(ok.output.kind).toBe('shuffle');
    const hung = await invoke(request('hang', 0), 'executorShort').catch((e: unknown) => e);
    expect((hung as { errorType: string }).errorType).toBe('Sandbox.Timedout');
    expect((await invoke(request('hang', 1), 'executorShort')).output.kind).toBe('shuffle');
  }, 60_000);
});
