// The S3 trigger Lambda: S3 `ObjectCreated` notifications in, coordinator jobs out. The work is
// core/runtime/s3-trigger.ts (rules, deterministic job ids per object version, dedup); this builds its clients
// from the environment (variables listed there) and starts jobs with asynchronous coordinator invocations.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DEFAULT_BUCKET, ENV, endpointsFromEnv, lambdaClientConfig } from '../core/io/object-store/aws-config.ts';
import { ObjectStores } from '../core/io/object-store.ts';
import { type TriggerSummary, loadRules, processS3Event, warnUnreachable } from '../core/runtime/s3-trigger.ts';

let stores: ObjectStores | undefined;
let lambda: LambdaClient | undefined;

export async function handler(event: unknown): Promise<TriggerSummary> {
  stores ??= new ObjectStores();
  lambda ??= new LambdaClient(lambdaClientConfig(endpointsFromEnv()));
  const client = lambda;
  const env = process.env;
  const bucket = env[ENV.bucket] || DEFAULT_BUCKET;
  const jobsRoot = env.SQUALL_JOBS_ROOT || `s3://${bucket}/jobs`;
  // Under the jobs root: ignored as trigger input, and expired with job state by the bucket's lifecycle rule.
  const claimsRoot = env.SQUALL_TRIGGER_STATE_ROOT || `${jobsRoot.replace(/\/+$/, '')}/_triggers`;
  const coordinator = env.SQUALL_COORDINATOR_FUNCTION || 'coordinator';
  const ttl = Number(env.SQUALL_TRIGGER_CLAIM_TTL_S || 900);
  const rules = await loadRules(stores);
  warnUnreachable(rules, env.SQUALL_TRIGGER_PREFIX);
  const summary = await processS3Event(event, {
    rules,
    store: stores.for(jobsRoot),
    jobsRoot,
    claimsRoot,
    claimTtlMs: (Number.isFinite(ttl) && ttl >= 0 ? ttl : 900) * 1000,
    submit: async (jobId, job) => {
      const out = await client.send(
        new InvokeCommand({
          FunctionName: coordinator,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify({ action: 'run', jobId, job })),
        }),
      );
      if (out.StatusCode !== 202) throw new Error(`invoking ${coordinator} for ${jobId} answered ${out.StatusCode}`);
    },
  });
  console.log(JSON.stringify({ trigger: 'summary', ...summary }));
  return summary;
}
