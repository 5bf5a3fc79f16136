// S3 triggers: S3 `ObjectCreated` notifications in, coordinator jobs out (functions/trigger.ts is the Lambda). For every created object the
// first matching rule (core/runtime/trigger-rules.ts) gives a job; the job id is derived from the rule, the bucket,
// the key and the object's version (versionId, else eTag, else sequencer), so a notification delivered twice
// (S3 delivers at least once) names the same job and the second delivery is skipped. See functions/README.md.
//
// Environment:
//   SQUALL_TRIGGER_RULES          s3:// URI (or local path) of the rules JSON; re-read when its ETag changes
//   SQUALL_TRIGGER_RULES_JSON     the rules inline (sst.config.ts can declare them); not both. With neither,
//                                 s3://<SQUALL_BUCKET>/config/trigger-rules.json if it exists, else no rules
//   SQUALL_COORDINATOR_FUNCTION   the coordinator's function name ('coordinator')
//   SQUALL_JOBS_ROOT              where jobs live (s3://<SQUALL_BUCKET>/jobs), as for the coordinator
//   SQUALL_TRIGGER_STATE_ROOT     where claim markers go (<SQUALL_JOBS_ROOT>/_triggers); the function needs
//                                 s3:PutObject and s3:DeleteObject there (without, dedup uses job records only)
//   SQUALL_TRIGGER_CLAIM_TTL_S    how long a claim without a job record keeps duplicates away (900)
//   SQUALL_TRIGGER_PREFIX         the notification's prefix (set by sst.config.ts): rules outside it are logged once
import { createHash, randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { DEFAULT_BUCKET, ENV } from '../io/object-store/aws-config.ts';
import { type ObjectStore, ObjectStoreError, ObjectStores, S3ObjectStore, parseObjectUri } from '../io/object-store.ts';
import { checkJobId, pathsForJob } from './coordinator.ts';
import type { JobSpec } from './job-spec.ts';
import { type JobPaths, committedResultUri, readJobRecord, resultAttemptUri } from './job-store.ts';
import { OUTPUT_MARKERS } from '../io/output-manifest.ts';
import { type TriggerRule, type TriggerRules, instantiateJob, matchRule, parseTriggerRules, placeholderValues } from './trigger-rules.ts';
import { AnalysisError } from '../types/errors.ts';

/** What one invocation did: jobs started, duplicates skipped, records no rule wanted, records refused. */
export interface TriggerSummary {
  readonly submitted: string[];
  readonly skipped: string[];
  readonly ignored: number;
  readonly rejected: { readonly uri: string; readonly reason: string }[];
}

const recordSchema = z.object({
  eventName: z.string(),
  eventTime: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      versionId: z.string().optional(),
      eTag: z.string().optional(),
      sequencer: z.union([z.string(), z.number()]).optional(),
    }),
  }),
});
export type TriggerRecord = z.infer<typeof recordSchema>;

const eventSchema = z.object({ Records: z.array(z.unknown()).optional() });

/** Keys in notifications are form-encoded ('+' for a space). */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * The job id for an object version under a rule: `trg-<rule>-<32 hex digits of sha256>`. Deterministic, so
 * duplicate notifications of one object version name one job; a new version (new eTag) is a new job.
 */
export function triggerJobId(ruleId: string, bucket: string, key: string, version: string): string {
  const h = createHash('sha256').update([ruleId, bucket, key, version].join('\0')).digest('hex').slice(0, 32);
  return checkJobId(`trg-${ruleId}-${h}`);
}

/** The object's version as the notification names it: versionId (versioned buckets), else eTag, else sequencer. */
export function recordVersion(r: TriggerRecord): string {
  const o = r.s3.object;
  if (o.versionId) return `v:${o.versionId}`;
  if (o.eTag) return `e:${o.eTag.replace(/"/g, '')}`;
  if (o.sequencer !== undefined) return `s:${String(o.sequencer)}`;
  return '';
}

export interface TriggerDeps {
  readonly rules: TriggerRules;
  /** The store holding the jobs root and the claims root. */
  readonly store: ObjectStore;
  readonly jobsRoot: string;
  readonly claimsRoot: string;
  readonly claimTtlMs: number;
  /** Starts the coordinator asynchronously with `{ action: 'run', jobId, job }`. */
  readonly submit: (jobId: string, job: JobSpec) => Promise<void>;
  readonly log?: (entry: Record<string, unknown>) => void;
  readonly now?: () => number;
}

/** `s3://bucket/some/prefix` → { bucket, prefix: 'some/prefix/' }. */
function rootOf(uri: string): { bucket: string; prefix: string } | null {
  const p = parseObjectUri(uri);
  if (p.scheme !== 's3') return null;
  return { bucket: p.bucket, prefix: p.key.replace(/\/*$/, '/') };
}

function under(root: { bucket: string; prefix: string } | null, bucket: string, key: string): boolean {
  return root !== null && root.bucket === bucket && (key + '/').startsWith(root.prefix);
}

/** The objects a job writes into its result folder (what would re-trigger a rule watching that folder). */
function resultObjectKeys(paths: JobPaths, jobId: string): { bucket: string; key: string }[] {
  const uris = [committedResultUri(paths, jobId, 0), resultAttemptUri(paths.resultRoot, 0, 0), `${paths.resultRoot}/${OUTPUT_MARKERS.success}`];
  return uris.flatMap((uri) => {
    const p = parseObjectUri(uri);
    return p.scheme === 's3' ? [{ bucket: p.bucket, key: p.key }] : [];
  });
}

/** Handles one S3 notification event (any number of records); throws only on errors a retry can fix. */
export async function processS3Event(event: unknown, deps: TriggerDeps): Promise<TriggerSummary> {
  const log = deps.log ?? ((e) => console.log(JSON.stringify(e)));
  const now = deps.now ?? Date.now;
  const summary: { -readonly [K in keyof TriggerSummary]: TriggerSummary[K] } = { submitted: [], skipped: [], ignored: 0, rejected: [] };
  const parsed = eventSchema.safeParse(event);
  // S3's s3:TestEvent (sent when a notification is configured) and other shapes carry no records.
  if (!parsed.success || !parsed.data.Records) {
    log({ trigger: 'no_records' });
    return summary;
  }
  const jobsRoot = rootOf(deps.jobsRoot);
  const claimsRoot = rootOf(deps.claimsRoot);
  for (const raw of parsed.data.Records) {
    const rec = recordSchema.safeParse(raw);
    if (!rec.success || !rec.data.eventName.startsWith('ObjectCreated:')) {
      summary.ignored++;
      log({ trigger: 'ignored', reason: rec.success ? `event ${rec.data.eventName}` : 'not an S3 record' });
      continue;
    }
    const r = rec.data;
    const bucket = r.s3.bucket.name;
    let key: string;
    try {
      key = decodeEventKey(r.s3.object.key);
    } catch {
      summary.rejected.push({ uri: `s3://${bucket}/${r.s3.object.key}`, reason: 'malformed key encoding' });
      log({ trigger: 'rejected', bucket, key: r.s3.object.key, reason: 'malformed key encoding' });
      continue;
    }
    const uri = `s3://${bucket}/${key}`;
    // Job state and claim markers never start jobs, whatever the rules say (that would loop).
    if (under(jobsRoot, bucket, key) || under(claimsRoot, bucket, key)) {
      summary.ignored++;
      log({ trigger: 'ignored', uri, reason: 'job state' });
      continue;
    }
    const rule = matchRule(deps.rules, bucket, key);
    if (!rule) {
      summary.ignored++;
      log({ trigger: 'ignored', uri, reason: 'no rule matches' });
      continue;
    }
    let job: JobSpec;
    let jobId: string;
    try {
      job = instantiateJob(rule, placeholderValues(bucket, key, r.eventTime));
      jobId = triggerJobId(rule.id, bucket, key, recordVersion(r));
      checkNoLoop(rule, job, deps.rules, deps.jobsRoot, jobId);
    } catch (e) {
      const reason = (e as Error).message;
      summary.rejected.push({ uri, reason });
      log({ trigger: 'rejected', uri, rule: rule.id, reason });
      continue;
    }
    // Dedup: a job record means the job started (or ran); a fresh claim means another delivery is starting it.
    const paths = pathsForJob(deps.jobsRoot, jobId, job.options?.resultUri);
    if (await readJobRecord(deps.store, paths)) {
      summary.skipped.push(jobId);
      log({ trigger: 'skipped', uri, rule: rule.id, jobId, reason: 'job exists' });
      continue;
    }
    const claimUri = `${deps.claimsRoot.replace(/\/+$/, '')}/${jobId}.json`;
    const claim = await deps.store.head(claimUri);
    if (claim && now() - claim.lastModified.getTime() < deps.claimTtlMs) {
      summary.skipped.push(jobId);
      log({ trigger: 'skipped', uri, rule: rule.id, jobId, reason: 'claimed' });
      continue;
    }
    const nonce = randomUUID();
    const body = JSON.stringify({ jobId, rule: rule.id, uri, version: recordVersion(r), claimedAt: new Date(now()).toISOString(), nonce });
    // Where the store can, the claim is created only if absent (S3's If-None-Match: *); a stale claim is
    // replaced. Reading the claim back keeps only the last writer when the store ignores the condition.
    const put = await putClaim(deps.store, claimUri, body, claim === null);
    if (put === 'taken') {
      summary.skipped.push(jobId);
      log({ trigger: 'skipped', uri, rule: rule.id, jobId, reason: 'claimed concurrently' });
      continue;
    }
    // Without permission to write claims, dedup rests on the job record alone (logged, so it gets fixed).
    if (put === 'denied') log({ trigger: 'claim_unavailable', uri, rule: rule.id, jobId, claim: claimUri, reason: 'AccessDenied writing the claim' });
    try {
      if (put === 'claimed' && !(await ownsClaim(deps.store, claimUri, nonce))) {
        summary.skipped.push(jobId);
        log({ trigger: 'skipped', uri, rule: rule.id, jobId, reason: 'claimed concurrently' });
        continue;
      }
      await deps.submit(jobId, job);
    } catch (e) {
      // Without the claim the retried notification submits again.
      if (put === 'claimed') await deps.store.delete([claimUri]).catch(() => {});
      throw e;
    }
    summary.submitted.push(jobId);
    log({ trigger: 'submitted', uri, rule: rule.id, jobId });
  }
  return summary;
}

const statusOf = (e: unknown) => (e instanceof ObjectStoreError ? e.status : (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode);
const deniedError = (e: unknown) => statusOf(e) === 403 || (e instanceof ObjectStoreError && e.code === 'AccessDenied');

/**
 * Writes a claim: 'taken' when `exclusive` and the object already exists (only S3 stores check this), 'denied'
 * when the function may not write there.
 */
async function putClaim(store: ObjectStore, uri: string, body: string, exclusive: boolean): Promise<'claimed' | 'taken' | 'denied'> {
  const p = parseObjectUri(uri);
  try {
    if (exclusive && store instanceof S3ObjectStore && p.scheme === 's3') {
      try {
        await store.client.send(new PutObjectCommand({ Bucket: p.bucket, Key: p.key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
      } catch (e) {
        // 412: the claim exists; 409: a concurrent conditional write to the same key is in flight.
        if (statusOf(e) === 412 || statusOf(e) === 409) return 'taken';
        throw e;
      }
    } else await store.put(uri, body, { contentType: 'application/json' });
    return 'claimed';
  } catch (e) {
    if (deniedError(e)) return 'denied';
    throw e;
  }
}

/** Whether the claim read back is this invocation's (a concurrent writer's replaced it, or it was released). */
async function ownsClaim(store: ObjectStore, uri: string, nonce: string): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(uri);
  } catch (e) {
    if (e instanceof ObjectStoreError && e.notFound) return false;
    throw e;
  }
  try {
    return (JSON.parse(new TextDecoder().decode(bytes)) as { nonce?: string }).nonce === nonce;
  } catch {
    return false;
  }
}

/** Refuses a job whose own output would match a rule (each result would start another job). */
function checkNoLoop(rule: TriggerRule, job: JobSpec, rules: TriggerRules, jobsRoot: string, jobId: string): void {
  const jobs = rootOf(jobsRoot);
  for (const o of resultObjectKeys(pathsForJob(jobsRoot, jobId, job.options?.resultUri), jobId)) {
    if (under(jobs, o.bucket, o.key)) continue;
    const hit = matchRule(rules, o.bucket, o.key);
    if (hit) throw new AnalysisError(`rule '${rule.id}': the job's result s3://${o.bucket}/${o.key} would match rule '${hit.id}' and start another job`);
  }
}

// --- configuration ----------------------------------------------------------------------------------------------

/** Where the rules are read from when neither variable is set. */
export const DEFAULT_RULES_KEY = 'config/trigger-rules.json';

let cached: { source: string; etag: string | null; rules: TriggerRules } | undefined;

/**
 * The rules from SQUALL_TRIGGER_RULES (re-read when the object's ETag changes), SQUALL_TRIGGER_RULES_JSON, or
 * else s3://<SQUALL_BUCKET>/config/trigger-rules.json when it exists (no rules when it does not).
 */
export async function loadRules(stores: ObjectStores, env: NodeJS.ProcessEnv = process.env): Promise<TriggerRules> {
  const uri = env.SQUALL_TRIGGER_RULES;
  const inline = env.SQUALL_TRIGGER_RULES_JSON;
  if (uri && inline) throw new AnalysisError('set one of SQUALL_TRIGGER_RULES (an object URI) and SQUALL_TRIGGER_RULES_JSON, not both');
  if (inline) {
    if (cached?.source !== `inline:${inline}`) cached = { source: `inline:${inline}`, etag: null, rules: parseTriggerRules(inline, 'SQUALL_TRIGGER_RULES_JSON') };
    return cached.rules;
  }
  const source = uri || `s3://${env[ENV.bucket] || DEFAULT_BUCKET}/${DEFAULT_RULES_KEY}`;
  const store = stores.for(source);
  const info = await store.head(source);
  if (!info) {
    // An explicitly named rules object must exist; without configuration there are simply no rules yet.
    if (uri) throw new AnalysisError(`trigger rules ${uri} (SQUALL_TRIGGER_RULES) do not exist`);
    console.log(JSON.stringify({ trigger: 'no_rules', reason: `no ${source}; set SQUALL_TRIGGER_RULES or SQUALL_TRIGGER_RULES_JSON` }));
    return { version: 1, rules: [] };
  }
  if (cached?.source === source && cached.etag === info.etag) return cached.rules;
  const rules = parseTriggerRules(new TextDecoder().decode(await store.get(source)), source);
  cached = { source, etag: info.etag, rules };
  return rules;
}

let warned: TriggerRules | undefined;

/** Logs (once per rules) the rules the notification prefix (SQUALL_TRIGGER_PREFIX, from sst.config.ts) never reaches. */
export function warnUnreachable(rules: TriggerRules, notified: string | undefined): void {
  if (!notified || warned === rules) return;
  warned = rules;
  for (const r of rules.rules) {
    if (!r.prefix.startsWith(notified) && !notified.startsWith(r.prefix)) {
      console.log(JSON.stringify({ trigger: 'unreachable_rule', rule: r.id, prefix: r.prefix, notified, reason: `S3 notifies this function only for keys under '${notified}'` }));
    }
  }
}

