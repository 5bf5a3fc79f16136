// Where the AWS services are: real AWS, or the local stack on loopback. Everything that makes an S3 or Lambda
// client builds its config here, from a `AwsEndpoints` value or the environment, so the same code and tests run
// against either by changing endpoints only.
import * as http from 'node:http';
import * as https from 'node:https';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { LambdaClientConfig } from '@aws-sdk/client-lambda';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface AwsEndpoints {
  readonly region: string;
  /** Unset: AWS's own endpoint. */
  readonly s3Endpoint?: string;
  readonly lambdaEndpoint?: string;
  /** Unset: the SDK's default provider chain (environment, profile, instance role…). */
  readonly credentials?: AwsCredentials;
  /** Path-style bucket addressing (`http://host/bucket/key`); defaults to true when `s3Endpoint` is set. */
  readonly forcePathStyle?: boolean;
}

/** The project's bucket: `data/`, `shuffle/` and `results/` prefixes live in it. */
export const DEFAULT_BUCKET = 'squall';

export const ENV = {
  s3Endpoint: 'SQUALL_S3_ENDPOINT',
  lambdaEndpoint: 'SQUALL_LAMBDA_ENDPOINT',
  forcePathStyle: 'SQUALL_S3_FORCE_PATH_STYLE',
  bucket: 'SQUALL_BUCKET',
} as const;

/** Endpoints from `SQUALL_S3_ENDPOINT`, `SQUALL_LAMBDA_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`… */
export function endpointsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsEndpoints {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const pathStyle = env[ENV.forcePathStyle];
  return {
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    s3Endpoint: env[ENV.s3Endpoint] || undefined,
    lambdaEndpoint: env[ENV.lambdaEndpoint] || undefined,
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
        : undefined,
    forcePathStyle: pathStyle === undefined || pathStyle === '' ? undefined : pathStyle === 'true' || pathStyle === '1',
  };
}

/** The environment variables that make `endpointsFromEnv` return `e` (for worker processes). */
export function endpointsToEnv(e: AwsEndpoints): Record<string, string> {
  const out: Record<string, string> = { AWS_REGION: e.region };
  if (e.s3Endpoint) out[ENV.s3Endpoint] = e.s3Endpoint;
  if (e.lambdaEndpoint) out[ENV.lambdaEndpoint] = e.lambdaEndpoint;
  if (e.forcePathStyle !== undefined) out[ENV.forcePathStyle] = String(e.forcePathStyle);
  if (e.credentials) {
    out.AWS_ACCESS_KEY_ID = e.credentials.accessKeyId;
    out.AWS_SECRET_ACCESS_KEY = e.credentials.secretAccessKey;
    if (e.credentials.sessionToken) out.AWS_SESSION_TOKEN = e.credentials.sessionToken;
  }
  return out;
}

export interface ClientTuning {
  /** Sockets per client; executors read with several ranged GETs in flight. */
  readonly maxSockets?: number;
  readonly connectionTimeoutMs?: number;
  /** Idle time on a socket before a request fails; not a limit on the whole transfer. */
  readonly socketTimeoutMs?: number;
}

function requestHandler(endpoint: string | undefined, t: ClientTuning) {
  const agentOptions = { keepAlive: true, maxSockets: t.maxSockets ?? 64 };
  const isHttp = endpoint?.startsWith('http://') ?? false;
  return {
    ...(isHttp ? { httpAgent: new http.Agent(agentOptions) } : { httpsAgent: new https.Agent(agentOptions) }),
    connectionTimeout: t.connectionTimeoutMs ?? 5_000,
    requestTimeout: t.socketTimeoutMs ?? 60_000,
  };
}

/**
 * An S3 client config. With a custom endpoint (s3rver or another S3-compatible server): path-style addressing
 * and checksums only where the API requires them, because the SDK's default CRC32 trailers frame streamed
 * bodies in aws-chunked encoding, which s3rver stores verbatim inside the object. Retries are left to the
 * caller (S3ObjectStore retries whole operations, body reads included).
 */
export function s3ClientConfig(e: AwsEndpoints, tuning: ClientTuning = {}): S3ClientConfig {
  const custom = e.s3Endpoint !== undefined;
  // Credentials are copied: the SDK annotates the object it is given.
  return {
    region: e.region,
    ...(custom ? { endpoint: e.s3Endpoint } : {}),
    forcePathStyle: e.forcePathStyle ?? custom,
    ...(e.credentials ? { credentials: { ...e.credentials } } : {}),
    ...(custom ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
    maxAttempts: 1,
    requestHandler: requestHandler(e.s3Endpoint, tuning),
  };
}

/** A Lambda client config; `maxAttempts` 1 leaves throttling (429) and retries to the caller, as the scheduler wants. */
export function lambdaClientConfig(e: AwsEndpoints, tuning: ClientTuning & { maxAttempts?: number } = {}): LambdaClientConfig {
  return {
    region: e.region,
    ...(e.lambdaEndpoint ? { endpoint: e.lambdaEndpoint } : {}),
    ...(e.credentials ? { credentials: { ...e.credentials } } : {}),
    maxAttempts: tuning.maxAttempts ?? 1,
    requestHandler: requestHandler(e.lambdaEndpoint, { socketTimeoutMs: 16 * 60_000, ...tuning }),
  };
}
