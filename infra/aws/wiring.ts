// What the SST app (sst.config.ts) declares, as plain data and pure functions: the deploy-time settings, the
// handler paths, the HTTP routes, the bucket's key layout and lifecycle rules, the environment each function
// reads and the IAM statements each one gets. sst.config.ts only turns these into SST components, so this
// module is type-checked with the rest of the project and tested without SST (test/infra/sst-config.test.ts).
import { ENV } from '../../core/io/object-store/aws-config.ts';

/** Deploy-time settings, read from the environment of the machine that runs `sst deploy`. */
export const SETTINGS_ENV = {
  /** Executor memory in MB (128..10240); Lambda's vCPUs scale with it (1769 MB = 1 vCPU, 10240 MB = 6). */
  executorMemoryMb: 'SQUALL_EXECUTOR_MEMORY_MB',
  /** Coordinator memory in MB: it compiles plans and reads Parquet footers, it does not move data. */
  coordinatorMemoryMb: 'SQUALL_COORDINATOR_MEMORY_MB',
  /** Days after which everything under `jobs/` (job state, shuffle data, default result folders) expires. */
  jobRetentionDays: 'SQUALL_JOB_RETENTION_DAYS',
  /**
   * Days after which cache entries (`cache/`: persisted DataFrames of remote sessions) expire; clients stop
   * serving an entry after their own TTL (a week by default), so this matches it.
   */
  cacheRetentionDays: 'SQUALL_CACHE_RETENTION_DAYS',
  /** The key prefix whose new objects go to the trigger function. */
  triggerPrefix: 'SQUALL_TRIGGER_PREFIX',
  /** A local JSON file of trigger rules (core/runtime/trigger-rules.ts) given to the trigger inline. */
  triggerRulesFile: 'SQUALL_TRIGGER_RULES_FILE',
  /** Other buckets jobs may read input from (comma-separated names): read-only for executor, coordinator and API. */
  dataBuckets: 'SQUALL_DATA_BUCKETS',
} as const;

export interface DeploySettings {
  readonly executorMemoryMb: number;
  readonly coordinatorMemoryMb: number;
  readonly jobRetentionDays: number;
  readonly cacheRetentionDays: number;
  readonly triggerPrefix: string;
  /** Unset: the trigger reads its rules from the bucket (`config/trigger-rules.json`). */
  readonly triggerRulesFile?: string;
  readonly dataBuckets: readonly string[];
}

export const DEFAULT_SETTINGS: DeploySettings = Object.freeze({
  executorMemoryMb: 3008,
  coordinatorMemoryMb: 1024,
  jobRetentionDays: 2,
  cacheRetentionDays: 7,
  triggerPrefix: 'incoming/',
  dataBuckets: Object.freeze([]) as readonly string[],
});

/** Key prefixes inside the project's bucket. `jobs/` is the coordinator's jobs root (SQUALL_JOBS_ROOT). */
export const BUCKET_LAYOUT = {
  jobs: 'jobs/',
  /** The trigger's claim markers (inside the jobs root, so they expire with it). */
  triggerClaims: 'jobs/_triggers/',
  /** Where functions/trigger.ts looks for its rules when no other location is configured. */
  triggerRules: 'config/trigger-rules.json',
  data: 'data/',
  results: 'results/',
  /** S3 cache entries (core/cache/s3-cache.ts: the SDK's default root is s3://<bucket>/cache). */
  cache: 'cache/',
} as const;

/** Handler paths as SST wants them (`{file without extension}.{export}`), relative to sst.config.ts. */
export const HANDLERS = {
  executor: 'functions/executor.handler',
  coordinator: 'functions/coordinator.handler',
  api: 'functions/api.handler',
  trigger: 'functions/trigger.handler',
} as const;

/** The HTTP API's routes (API Gateway HTTP API, payload format 2.0), all served by `functions/api.ts`. */
export const API_ROUTES = [
  'POST /jobs',
  'GET /jobs',
  'GET /jobs/{id}',
  'GET /jobs/{id}/result',
  'GET /jobs/{id}/events',
  'DELETE /jobs/{id}',
] as const;

/** Environment variables the functions read (the object-store ones come from core/io/object-store/aws-config.ts). */
export const FUNCTION_ENV = {
  bucket: ENV.bucket,
  jobsRoot: 'SQUALL_JOBS_ROOT',
  executorFunction: 'SQUALL_EXECUTOR_FUNCTION',
  coordinatorFunction: 'SQUALL_COORDINATOR_FUNCTION',
  apiKeys: 'SQUALL_API_KEYS',
  /** Read by the API for its cost figures (GB-seconds of executor time). */
  executorMemoryMb: 'SQUALL_EXECUTOR_MEMORY_MB',
  /** Where the trigger keeps its claim markers against duplicate notifications (functions/trigger.ts). */
  triggerStateRoot: 'SQUALL_TRIGGER_STATE_ROOT',
  /** The notification's prefix; the trigger logs rules it can never see. */
  triggerPrefix: 'SQUALL_TRIGGER_PREFIX',
  /** Trigger rules inline (JSON), from SQUALL_TRIGGER_RULES_FILE at deploy time. */
  triggerRulesJson: 'SQUALL_TRIGGER_RULES_JSON',
  parquetThreads: 'SQUALL_PARQUET_THREADS',
  /** The Parquet decoder's worker-thread bundle (core/io/parquet/decode-pool.ts). */
  parquetWorker: 'SQUALL_PARQUET_WORKER',
} as const;

/** Where deploys build the worker-thread bundles (infra/build/worker-bundles.ts), relative to the project. */
export const WORKER_BUNDLE_DIR = '.build/workers';
/** Lambda unpacks a function's code here. */
export const LAMBDA_TASK_ROOT = '/var/task';
/** The decoder bundle's name inside the executor's code. */
export const LAMBDA_PARQUET_WORKER = 'parquet-decode-worker.mjs';

const MB_MIN = 128;
const MB_MAX = 10_240;

function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number between ${min} and ${max}, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** An S3 bucket name as AWS allows it (3..63 lowercase letters, digits, dots, hyphens). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The settings from the environment, defaults for what is unset; a bad value throws naming the variable. */
export function deploySettings(env: NodeJS.ProcessEnv = process.env): DeploySettings {
  const prefix = env[SETTINGS_ENV.triggerPrefix]?.trim() || DEFAULT_SETTINGS.triggerPrefix;
  if (!prefix.endsWith('/') || prefix.startsWith('/'))
    throw new Error(`${SETTINGS_ENV.triggerPrefix} must be a key prefix ending in '/' (like 'incoming/'), got '${prefix}'`);
  // The functions write under jobs/; a trigger there would start a job for every object a job writes.
  if (prefix.startsWith(BUCKET_LAYOUT.jobs) || BUCKET_LAYOUT.jobs.startsWith(prefix))
    throw new Error(`${SETTINGS_ENV.triggerPrefix} must not overlap '${BUCKET_LAYOUT.jobs}', where jobs write their state`);
  const dataBuckets = (env[SETTINGS_ENV.dataBuckets] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const b of dataBuckets) {
    if (!BUCKET_NAME.test(b)) throw new Error(`${SETTINGS_ENV.dataBuckets}: '${b}' is not an S3 bucket name`);
  }
  return Object.freeze({
    executorMemoryMb: intSetting(env, SETTINGS_ENV.executorMemoryMb, DEFAULT_SETTINGS.executorMemoryMb, MB_MIN, MB_MAX),
    coordinatorMemoryMb: intSetting(env, SETTINGS_ENV.coordinatorMemoryMb, DEFAULT_SETTINGS.coordinatorMemoryMb, MB_MIN, MB_MAX),
    jobRetentionDays: intSetting(env, SETTINGS_ENV.jobRetentionDays, DEFAULT_SETTINGS.jobRetentionDays, 1, 3650),
    cacheRetentionDays: intSetting(env, SETTINGS_ENV.cacheRetentionDays, DEFAULT_SETTINGS.cacheRetentionDays, 1, 3650),
    triggerPrefix: prefix,
    ...(env[SETTINGS_ENV.triggerRulesFile]?.trim() ? { triggerRulesFile: env[SETTINGS_ENV.triggerRulesFile]!.trim() } : {}),
    dataBuckets: Object.freeze(dataBuckets),
  });
}

/** Rules in the shape of sst.aws.Bucket's `lifecycle` argument. */
export interface LifecycleRule {
  readonly id: string;
  readonly prefix: string;
  readonly expiresIn: `${number} days`;
}

/**
 * S3 lifecycle filters match a literal key prefix, so `jobs/<id>/shuffle/` cannot be selected for every job by
 * itself: the rule covers the whole jobs root, i.e. each job's shuffle objects, task payloads, run markers,
 * status and events, and its result folder when the job did not name one (`resultUri`). Results meant to be
 * kept go to `results/` or another location, which no rule touches.
 */
export function lifecycleRules(s: DeploySettings): LifecycleRule[] {
  return [
    { id: 'expire-job-scratch', prefix: BUCKET_LAYOUT.jobs, expiresIn: `${s.jobRetentionDays} days` },
    // Entries also carry their expiry in their manifest, checked on read (for stores without lifecycle rules).
    { id: 'expire-cache-entries', prefix: BUCKET_LAYOUT.cache, expiresIn: `${s.cacheRetentionDays} days` },
  ];
}

/** A rule in the shape of aws.s3.BucketLifecycleConfiguration's `rules`, added through the bucket's transform. */
export const ABORT_INCOMPLETE_UPLOADS_RULE = Object.freeze({
  id: 'abort-incomplete-multipart-uploads',
  status: 'Enabled',
  filter: Object.freeze({ prefix: '' }),
  abortIncompleteMultipartUpload: Object.freeze({ daysAfterInitiation: 1 }),
});

/** An IAM statement in the shape of sst.aws.Function's `permissions` entries; `R` is a string or a deploy-time output. */
export interface Statement<R> {
  readonly actions: string[];
  readonly resources: R[];
}

/** List the bucket and read its objects. */
export function s3Read<R>(bucketArn: R, objectsArn: R): Statement<R>[] {
  return [
    { actions: ['s3:ListBucket'], resources: [bucketArn] },
    { actions: ['s3:GetObject'], resources: [objectsArn] },
  ];
}

/** Write and delete objects (multipart uploads included) under `objectsArn`. */
export function s3Write<R>(objectsArn: R): Statement<R> {
  return { actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: [objectsArn] };
}

/** Invoke these functions (synchronously or asynchronously). */
export function lambdaInvoke<R>(...functionArns: R[]): Statement<R> {
  return { actions: ['lambda:InvokeFunction'], resources: functionArns };
}

/** Lambda allows 4 KB for all of a function's environment variables together; the rules get most of it. */
export const MAX_INLINE_RULES_BYTES = 3072;

/**
 * Trigger rules from a file, checked for what the deploy can know (JSON, version 1, each rule's id and prefix,
 * the prefix under the watched one, the size Lambda's environment allows) and minified. functions/trigger.ts
 * validates the jobs themselves when it loads the rules.
 */
export function inlineTriggerRules(text: string, watchedPrefix: string, source: string = SETTINGS_ENV.triggerRulesFile): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON: ${(e as Error).message}`);
  }
  const doc = parsed as { version?: unknown; rules?: unknown };
  if (typeof doc !== 'object' || doc === null || doc.version !== 1 || !Array.isArray(doc.rules))
    throw new Error(`${source}: expected {"version": 1, "rules": [...]}`);
  doc.rules.forEach((r: unknown, i: number) => {
    const rule = r as { id?: unknown; prefix?: unknown; job?: unknown };
    if (typeof rule !== 'object' || rule === null || typeof rule.id !== 'string' || typeof rule.prefix !== 'string' || typeof rule.job !== 'object')
      throw new Error(`${source}: rules[${i}] needs an id, a prefix and a job`);
    if (!rule.prefix.startsWith(watchedPrefix))
      throw new Error(`${source}: rule '${rule.id}' watches '${rule.prefix}', outside the notified prefix '${watchedPrefix}' (${SETTINGS_ENV.triggerPrefix})`);
  });
  const out = JSON.stringify(parsed);
  const bytes = Buffer.byteLength(out);
  if (bytes > MAX_INLINE_RULES_BYTES)
    throw new Error(`${source}: the rules take ${bytes} bytes, more than the ${MAX_INLINE_RULES_BYTES} a Lambda environment leaves them; upload them to s3://<bucket>/${BUCKET_LAYOUT.triggerRules} instead`);
  return out;
}
