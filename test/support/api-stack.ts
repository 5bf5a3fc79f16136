// The local stack as remote-session tests use it: executor, coordinator and API functions behind the HTTP API
// (caller `tester` with `apiKey`), warm workers, and this process's s3:// store pointed at its S3 server.
import { S3ObjectStore } from '../../core/io/object-store.ts';
import { setS3Store } from '../../core/io/s3-file-store.ts';
import { type LocalStack, startLocalStack } from '../../infra/local-stack/index.ts';

export async function startApiStack(apiKey: string, warm: { api?: number } = {}): Promise<{ stack: LocalStack; store: S3ObjectStore }> {
  const stack = await startLocalStack({
    concurrency: 6,
    logs: process.env.SQUALL_TEST_LOGS ? 'inherit' : 'silent',
    functions: {
      executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 60 },
      coordinator: { handler: 'functions/coordinator.ts#handler', timeoutSeconds: 300, environment: { SQUALL_EXECUTOR_FUNCTION: 'executor' } },
      api: { handler: 'functions/api.ts#handler', timeoutSeconds: 60, environment: { SQUALL_API_KEYS: `tester:${apiKey}`, SQUALL_COORDINATOR_FUNCTION: 'coordinator' } },
    },
    httpApi: { function: 'api' },
  });
  // Warm workers: on a loaded machine a cold start can outlast a request.
  await Promise.all([stack.lambda.prewarm('api', warm.api ?? 1), stack.lambda.prewarm('coordinator', 1), stack.lambda.prewarm('executor', 2)]);
  const store = S3ObjectStore.fromEndpoints(stack.endpoints());
  // The client reads Parquet footers (schemas, statistics) of s3:// tables through this store.
  setS3Store(store);
  return { stack, store };
}

/** Undoes startApiStack (what of it started): the s3:// store unset and closed, the stack stopped. */
export async function stopApiStack(stack: LocalStack | undefined, store: S3ObjectStore | undefined): Promise<void> {
  setS3Store(null);
  store?.destroy();
  await stack?.stop();
}
