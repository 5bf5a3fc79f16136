// The HTTP API Lambda (API Gateway HTTP API, payload format 2.0): core/api/routes.ts with this environment's
// S3 store, API keys (SQUALL_API_KEYS) and the coordinator function (SQUALL_COORDINATOR_FUNCTION), which it
// starts with an asynchronous invocation per submitted job.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type ApiKeys, apiKeysFromEnv } from '../core/api/auth.ts';
import type { HttpApiEvent, HttpApiResponse } from '../core/api/http.ts';
import { handleApiRequest } from '../core/api/routes.ts';
import { DEFAULT_BUCKET, ENV, endpointsFromEnv, lambdaClientConfig } from '../core/io/object-store/aws-config.ts';
import { ObjectStores } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';

let stores: ObjectStores | undefined;
let lambda: LambdaClient | undefined;
let keys: ApiKeys | undefined;

export async function handler(event: HttpApiEvent): Promise<HttpApiResponse> {
  if (!stores) {
    stores = new ObjectStores();
    setS3Store(stores.s3);
  }
  lambda ??= new LambdaClient(lambdaClientConfig(endpointsFromEnv()));
  keys ??= apiKeysFromEnv();
  const bucket = process.env[ENV.bucket] || DEFAULT_BUCKET;
  const jobsRoot = process.env.SQUALL_JOBS_ROOT || `s3://${bucket}/jobs`;
  const coordinator = process.env.SQUALL_COORDINATOR_FUNCTION || 'coordinator';
  const client = lambda;
  return handleApiRequest(event, {
    store: stores.for(jobsRoot),
    jobsRoot,
    keys,
    executorMemoryMb: Number(process.env.SQUALL_EXECUTOR_MEMORY_MB) || undefined,
    async startCoordinator(jobId) {
      await client.send(
        new InvokeCommand({ FunctionName: coordinator, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ action: 'resume', jobId })) }),
      );
    },
  });
}
