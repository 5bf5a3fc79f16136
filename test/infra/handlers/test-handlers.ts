// Handlers the local-stack tests run in Lambda workers: echo, failures, hangs, memory hogs, large responses,
// and an S3 trigger that writes a marker object through the environment-configured object store.
import { S3ObjectStore, ENV } from '../../../core/io/object-store.ts';
import type { LambdaContext } from '../../../infra/local-stack/index.ts';

export async function echo(event: unknown, context: LambdaContext) {
  return {
    event,
    functionName: context.functionName,
    requestId: context.awsRequestId,
    memory: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    pid: process.pid,
    s3Endpoint: process.env[ENV.s3Endpoint] ?? null,
  };
}

export async function fail(event: { message?: string }) {
  class ValidationError extends Error {
    override name = 'ValidationError';
  }
  throw new ValidationError(event.message ?? 'bad input');
}

export async function sleep(event: { ms: number }) {
  await new Promise((r) => setTimeout(r, event.ms));
  return { slept: event.ms, pid: process.pid };
}

export async function crash() {
  setImmediate(() => process.exit(3));
  await new Promise((r) => setTimeout(r, 10_000));
}

/** Allocates and touches `mb` megabytes outside the V8 heap (as Arrow buffers would be). */
export async function hog(event: { mb: number }) {
  const bufs: Buffer[] = [];
  for (let i = 0; i < event.mb; i++) bufs.push(Buffer.alloc(1 << 20, i & 0xff));
  await new Promise((r) => setTimeout(r, 500));
  return { allocated: bufs.length };
}

export async function big(event: { bytes: number }) {
  return 'x'.repeat(event.bytes);
}

let invocations = 0;
/** Counts invocations per worker process, to show warm reuse. */
export async function counter() {
  return { pid: process.pid, invocations: ++invocations };
}

export const notAFunction = 42;

/** The S3 trigger: records each created object by writing `seen/<key>` with the event record. */
export async function trigger(event: { Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[] }) {
  const store = S3ObjectStore.fromEnv();
  try {
    for (const r of event.Records) {
      const key = decodeURIComponent(r.s3.object.key.replace(/\+/g, ' '));
      await store.put(`s3://${r.s3.bucket.name}/seen/${key}`, JSON.stringify(r));
    }
  } finally {
    store.destroy();
  }
  return { records: event.Records.length };
}
