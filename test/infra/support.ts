// Shared set-up for the object-store and local-stack tests: an S3 target (s3rver started here, or AWS/another
// stack when SQUALL_TEST_S3=env, using SQUALL_S3_ENDPOINT, AWS_REGION, credentials and SQUALL_BUCKET), and
// small helpers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3ObjectStore, endpointsFromEnv, DEFAULT_BUCKET, ENV, type AwsEndpoints, type RetryPolicy } from '../../core/io/object-store.ts';
import { LocalS3Server, S3RVER_CREDENTIALS } from '../../infra/local-stack/index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3Target {
  readonly endpoints: AwsEndpoints;
  readonly bucket: string;
  /** The local server when the target is s3rver; null against AWS (server-side counts are unavailable). */
  readonly server: LocalS3Server | null;
  store(options?: { retry?: RetryPolicy; partSize?: number }): S3ObjectStore;
  stop(): Promise<void>;
}

export async function startS3Target(): Promise<S3Target> {
  const stores: S3ObjectStore[] = [];
  const make = (endpoints: AwsEndpoints) => (options: { retry?: RetryPolicy; partSize?: number } = {}) => {
    const s = S3ObjectStore.fromEndpoints(endpoints, options);
    stores.push(s);
    return s;
  };
  if (process.env.SQUALL_TEST_S3 === 'env') {
    const endpoints = endpointsFromEnv();
    return { endpoints, bucket: process.env[ENV.bucket] ?? DEFAULT_BUCKET, server: null, store: make(endpoints), stop: async () => stores.forEach((s) => s.destroy()) };
  }
  const server = await LocalS3Server.start({ buckets: [DEFAULT_BUCKET] });
  const endpoints: AwsEndpoints = { region: 'us-east-1', s3Endpoint: server.endpoint, credentials: S3RVER_CREDENTIALS };
  return {
    endpoints,
    bucket: DEFAULT_BUCKET,
    server,
    store: make(endpoints),
    async stop() {
      stores.forEach((s) => s.destroy());
      await server.stop();
    },
  };
}

export function tempDir(prefix = 'squall-os-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Deterministic pseudo-random bytes (xorshift), so a corrupted or reordered part cannot go unnoticed. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Byte equality without vitest's element-by-element diff (slow on megabytes); reports the first difference. */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))) {
    return 'same';
  }
  let i = 0;
  while (i < Math.min(actual.length, expected.length) && actual[i] === expected[i]) i++;
  return `lengths ${actual.length} vs ${expected.length}, first difference at byte ${i}`;
}
