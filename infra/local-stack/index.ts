// The local stand-in for AWS: s3rver with the project's bucket and a Lambda-compatible Invoke endpoint whose
// workers run the real handlers, both on 127.0.0.1 and free ports. S3 notifications invoke functions with
// Event invocations, as on AWS. Clients find the stack through `endpoints` (or the environment from `env()`),
// exactly as they would find AWS.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AwsCredentials, type AwsEndpoints, DEFAULT_BUCKET, ENV, endpointsToEnv } from '../../core/io/object-store/aws-config.ts';
import { LocalS3Server, S3RVER_CREDENTIALS, type S3EventFilter, type S3EventRecord } from './s3-server.ts';
import { LocalLambda } from './lambda-server.ts';
import { LocalHttpApi } from './http-api.ts';
import type { FunctionDefinition, LogSink } from './worker-pool.ts';

export { LocalS3Server, S3RVER_CREDENTIALS, decodeS3EventKey } from './s3-server.ts';
export type { S3EventRecord, S3EventFilter, S3Fault, S3Operation, S3RequestInfo } from './s3-server.ts';
export { LocalLambda, SYNC_PAYLOAD_LIMIT, EVENT_PAYLOAD_LIMIT } from './lambda-server.ts';
export type { EventResult } from './lambda-server.ts';
export type { FunctionDefinition, InvokeOutcome, LogSink } from './worker-pool.ts';
export type { LambdaContext, FunctionErrorBody } from './protocol.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Deliver a bucket's object events to a function, as an S3 event notification does on AWS. */
export interface S3Notification extends S3EventFilter {
  readonly bucket: string;
  readonly function: string;
}

export interface LocalStackOptions {
  readonly region?: string;
  /** Buckets created at start; the project's bucket by default. */
  readonly buckets?: readonly string[];
  /** Where s3rver keeps objects; a temporary folder, removed at stop, by default. */
  readonly s3Directory?: string;
  readonly s3Port?: number;
  readonly lambdaPort?: number;
  readonly functions?: Readonly<Record<string, FunctionDefinition>>;
  /** Invocations running at once over all functions. */
  readonly concurrency?: number;
  readonly notifications?: readonly S3Notification[];
  /** Worker output: a sink, 'inherit' (to stderr, prefixed by function name) or 'silent'. */
  readonly logs?: LogSink | 'inherit' | 'silent';
  /** Handler paths resolve from here (the project root by default). */
  readonly rootDir?: string;
  readonly eventRetries?: number;
  readonly eventRetryDelayMs?: number;
  readonly idleTimeoutMs?: number;
  readonly verboseS3?: boolean;
  /** Serve this function over HTTP as API Gateway's HTTP API would (payload format 2.0). */
  readonly httpApi?: { readonly function: string; readonly port?: number };
}

export interface LocalStack extends AwsEndpoints {
  readonly s3Endpoint: string;
  readonly lambdaEndpoint: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  readonly bucket: string;
  readonly s3: LocalS3Server;
  readonly lambda: LocalLambda;
  /** The HTTP API's base URL, when `httpApi` was given. */
  readonly apiEndpoint: string | null;
  /** The endpoints as a plain value for `s3ClientConfig` / `lambdaClientConfig`. */
  endpoints(): AwsEndpoints;
  /** Environment variables that point `endpointsFromEnv` (and so any process) at this stack. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

function sinkOf(logs: LocalStackOptions['logs']): LogSink {
  if (typeof logs === 'function') return logs;
  if (logs === 'silent') return () => {};
  return (fn, line) => process.stderr.write(`[${fn}] ${line}\n`);
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const region = options.region ?? 'us-east-1';
  const buckets = options.buckets ?? [DEFAULT_BUCKET];
  const s3 = await LocalS3Server.start({ directory: options.s3Directory, buckets, port: options.s3Port, region, verbose: options.verboseS3 });
  let lambda: LocalLambda;
  try {
    lambda = await LocalLambda.start({
      rootDir: options.rootDir ?? PROJECT_ROOT,
      port: options.lambdaPort,
      region,
      concurrency: options.concurrency,
      logs: sinkOf(options.logs),
      eventRetries: options.eventRetries,
      eventRetryDelayMs: options.eventRetryDelayMs,
      idleTimeoutMs: options.idleTimeoutMs,
    });
  } catch (e) {
    await s3.stop();
    throw e;
  }
  const endpoints: AwsEndpoints = {
    region,
    s3Endpoint: s3.endpoint,
    lambdaEndpoint: lambda.endpoint,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
  };
  const env = { ...endpointsToEnv(endpoints), [ENV.bucket]: buckets[0] ?? DEFAULT_BUCKET };
  // Workers see the stack through the same variables a deployed function would get.
  lambda.setEnvironment(env);
  for (const [name, def] of Object.entries(options.functions ?? {})) lambda.register(name, def);
  const unsubscribe: (() => void)[] = [];
  for (const n of options.notifications ?? []) {
    if (!lambda.functionNames.includes(n.function)) throw new Error(`notification for bucket '${n.bucket}' names unknown function '${n.function}'`);
    unsubscribe.push(
      s3.onEvent((record: S3EventRecord) => {
        lambda.enqueueEvent(n.function, JSON.stringify({ Records: [record] }));
      }, { events: ['ObjectCreated:*'], ...n }),
    );
  }
  let api: LocalHttpApi | null = null;
  if (options.httpApi) {
    if (!lambda.functionNames.includes(options.httpApi.function)) {
      await lambda.stop();
      await s3.stop();
      throw new Error(`httpApi names unknown function '${options.httpApi.function}'`);
    }
    api = await LocalHttpApi.start(lambda, options.httpApi.function, options.httpApi.port);
  }
  return {
    apiEndpoint: api?.endpoint ?? null,
    s3Endpoint: s3.endpoint,
    lambdaEndpoint: lambda.endpoint,
    region,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    bucket: buckets[0] ?? DEFAULT_BUCKET,
    s3,
    lambda,
    endpoints: () => endpoints,
    env: () => ({ ...env }),
    async stop() {
      for (const u of unsubscribe) u();
      await api?.stop();
      await lambda.stop();
      await s3.stop();
    },
  };
}
