// The coordinator Lambda: runs a job by invoking the executor function for every task (core/runtime). Events:
//   { action: 'run', job: JobSpec, jobId? }   compile and run a job (continue it if that id already exists)
//   { action: 'resume', jobId }                continue a job from what its earlier runs committed
// Near its own time limit it stops launching tasks, lets the running ones commit, and re-invokes itself
// asynchronously with 'resume', so jobs longer than 15 minutes finish.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import { DEFAULT_BUCKET, ENV, endpointsFromEnv, lambdaClientConfig } from '../core/io/object-store/aws-config.ts';
import { ObjectStores } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { LambdaInvoker, type TaskInvoker } from '../core/runtime/invoker.ts';
import type { WorkerKind } from '../core/physical/physical-plan.ts';
import { type JobResultPayload, resultPayload, resumeJob, submitJob } from '../core/runtime/coordinator.ts';
import { parseJobSpec } from '../core/runtime/job-spec.ts';
import type { FaultPlan } from '../core/runtime/protocol.ts';
import { AnalysisError } from '../core/types/errors.ts';

interface Context {
  readonly functionName?: string;
  getRemainingTimeInMillis?(): number;
}

const eventSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('run'), job: z.unknown(), jobId: z.string().optional(), faults: z.array(z.unknown()).optional() }),
  z.object({ action: z.literal('resume'), jobId: z.string(), faults: z.array(z.unknown()).optional() }),
]);

/** Time kept back at the end of an invocation to commit running tasks and hand over. */
const HANDOVER_MS = 30_000;

let stores: ObjectStores | undefined;
let lambda: LambdaClient | undefined;

function clients(): { stores: ObjectStores; lambda: LambdaClient } {
  const endpoints = endpointsFromEnv();
  if (!stores) {
    stores = new ObjectStores();
    // Parquet footers and sizes are read through the same S3 client when the job is compiled.
    setS3Store(stores.s3);
  }
  lambda ??= new LambdaClient({ ...lambdaClientConfig(endpoints), maxAttempts: 1 });
  return { stores, lambda };
}

/**
 * Invokers of the inference workers, from the environment: SQUALL_INFERENCE_FUNCTION names the function that runs
 * model stages ('container' and 'container-gpu' kinds), SQUALL_INFERENCE_ENDPOINT (optional) is where it answers
 * the Lambda Invoke API when that is not the Lambda service (the GPU service's own endpoint). Without them, model
 * stages run on the executor function.
 */
function workerInvokers(lambda: LambdaClient): Partial<Record<WorkerKind, TaskInvoker>> {
  const name = process.env.SQUALL_INFERENCE_FUNCTION;
  if (!name) return {};
  const endpoint = process.env.SQUALL_INFERENCE_ENDPOINT;
  const inference = endpoint
    ? new LambdaInvoker({ functionName: name, unavailableIsThrottled: true, clientConfig: { ...lambdaClientConfig({ ...endpointsFromEnv(), lambdaEndpoint: endpoint }), maxAttempts: 1 } })
    : new LambdaInvoker({ functionName: name, client: lambda });
  return { container: inference, 'container-gpu': inference };
}

export async function handler(event: unknown, context: Context = {}): Promise<JobResultPayload> {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) throw new AnalysisError(`invalid coordinator event: ${parsed.error.issues[0]?.message ?? 'unknown shape'}; expected {action: 'run', job} or {action: 'resume', jobId}`);
  const e = parsed.data;
  const { stores, lambda } = clients();
  const bucket = process.env[ENV.bucket] || DEFAULT_BUCKET;
  const jobsRoot = process.env.SQUALL_JOBS_ROOT || `s3://${bucket}/jobs`;
  const executor = process.env.SQUALL_EXECUTOR_FUNCTION || 'executor';
  const invoker = new LambdaInvoker({ functionName: executor, client: lambda });
  const invokers = workerInvokers(lambda);
  const remaining = context.getRemainingTimeInMillis?.();
  const deadline = remaining !== undefined ? Date.now() + Math.max(0, remaining - Math.min(HANDOVER_MS, remaining / 4)) : undefined;
  // Fault plans pass through only where executors accept them (tests).
  const faults = process.env.SQUALL_ALLOW_FAULTS === '1' && e.faults ? (e.faults as FaultPlan[]) : undefined;
  const deps = {
    store: stores.for(jobsRoot),
    invoker,
    invokers,
    jobsRoot,
    deadline,
    scheduler: faults ? { faults } : undefined,
    onEvent: (ev: unknown) => console.log(JSON.stringify(ev)),
  };
  const result = e.action === 'run' ? await submitJob(parseJobSpec(e.job), deps, e.jobId) : await resumeJob(e.jobId, deps);
  if (result.state === 'suspended' && context.functionName) {
    await lambda.send(
      new InvokeCommand({
        FunctionName: context.functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify({ action: 'resume', jobId: result.jobId, ...(faults ? { faults } : {}) })),
      }),
    );
  }
  return resultPayload(result);
}
