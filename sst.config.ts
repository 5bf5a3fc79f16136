/// <reference path="./.sst/platform/config.d.ts" />
// The SST app: Squall on AWS. `npx sst deploy --stage dev` (infra/README.md, "Deploying to AWS").
//
//   bucket SquallData      data/, results/, incoming/, cache/ (S3 cache entries, expire after SQUALL_CACHE_RETENTION_DAYS, 7)
//                          and the jobs root jobs/ (job state, shuffle data, default
//                          result folders), which expires after SQUALL_JOB_RETENTION_DAYS (2)
//   function Executor      functions/executor.ts: one task of one stage; arm64, SQUALL_EXECUTOR_MEMORY_MB (3008)
//   function Coordinator   functions/coordinator.ts: runs a job by invoking the executor, re-invokes itself to
//                          continue past 15 minutes
//   api SquallApi          HTTP API → functions/api.ts, which answers the routes and starts the coordinator
//   notification           ObjectCreated under SQUALL_TRIGGER_PREFIX (incoming/) → functions/trigger.ts, with
//                          the rules of SQUALL_TRIGGER_RULES_FILE inline, else those in the bucket
//
// Each function gets IAM statements for exactly what it does (no `link`: linking a bucket grants s3:*). What is
// declared comes from infra/aws/wiring.ts; test/infra/sst-config.test.ts loads this file with stand-ins for
// SST's globals and checks the resources and their wiring.
//
// TODO(issue 6): the GPU inference workers (container tasks on sst.aws.Cluster) are declared with that work.

export default $config({
  app(input) {
    return {
      name: 'squall',
      home: 'aws',
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
    };
  },
  async run() {
    const w = await import('./infra/aws/wiring.ts');
    const settings = w.deploySettings(process.env);

    const partition = aws.getPartitionOutput({}).partition;
    const region = aws.getRegionOutput({}).id;
    const account = aws.getCallerIdentityOutput({}).accountId;

    const bucket = new sst.aws.Bucket('SquallData', {
      lifecycle: w.lifecycleRules(settings),
      transform: {
        // Executors killed mid-upload leave multipart parts behind, billed until aborted.
        lifecycle: (args) => {
          args.rules = [...((args.rules ?? []) as unknown[]), w.ABORT_INCOMPLETE_UPLOADS_RULE] as typeof args.rules;
        },
      },
    });
    const objects = $interpolate`${bucket.arn}/*`;
    const dataBucketReads = settings.dataBuckets.flatMap((name) =>
      w.s3Read($interpolate`arn:${partition}:s3:::${name}`, $interpolate`arn:${partition}:s3:::${name}/*`),
    );

    const apiKeys = new sst.Secret('SquallApiKeys');

    const common = {
      runtime: 'nodejs22.x' as const,
      architecture: 'arm64' as const,
      // parquet-wasm loads its .wasm file from its package folder, so it is installed rather than bundled.
      nodejs: { install: ['parquet-wasm'] },
    };
    const env = {
      [w.FUNCTION_ENV.bucket]: bucket.name,
      [w.FUNCTION_ENV.jobsRoot]: $interpolate`s3://${bucket.name}/${w.BUCKET_LAYOUT.jobs.replace(/\/$/, '')}`,
    };

    const executor = new sst.aws.Function('Executor', {
      ...common,
      handler: w.HANDLERS.executor,
      description: 'Squall executor: one task of one stage',
      memory: `${settings.executorMemoryMb} MB`,
      timeout: '15 minutes',
      environment: {
        ...env,
        // The decoder's worker threads load a file next to the module, which the bundle does not carry.
        [w.FUNCTION_ENV.parquetThreads]: '0',
      },
      permissions: [...w.s3Read(bucket.arn, objects), w.s3Write(objects), ...dataBucketReads],
    });

    // A fixed name, so the coordinator's policy can name the coordinator itself (continuations) without a cycle.
    const coordinatorName = `${$app.name}-${$app.stage}-coordinator`;
    const coordinatorArn = $interpolate`arn:${partition}:lambda:${region}:${account}:function:${coordinatorName}`;
    const coordinator = new sst.aws.Function('Coordinator', {
      ...common,
      name: coordinatorName,
      handler: w.HANDLERS.coordinator,
      description: 'Squall coordinator: runs a job by invoking executors',
      memory: `${settings.coordinatorMemoryMb} MB`,
      timeout: '15 minutes',
      environment: { ...env, [w.FUNCTION_ENV.executorFunction]: executor.name },
      permissions: [
        ...w.s3Read(bucket.arn, objects),
        w.s3Write(objects),
        ...dataBucketReads,
        w.lambdaInvoke(executor.arn, coordinatorArn),
      ],
    });

    const apiHandler = new sst.aws.Function('Api', {
      ...common,
      handler: w.HANDLERS.api,
      description: 'Squall HTTP API',
      memory: '1024 MB',
      // API Gateway answers 503 after 30 s whatever the function's timeout.
      timeout: '30 seconds',
      environment: {
        ...env,
        [w.FUNCTION_ENV.coordinatorFunction]: coordinator.name,
        [w.FUNCTION_ENV.apiKeys]: apiKeys.value,
        [w.FUNCTION_ENV.executorMemoryMb]: String(settings.executorMemoryMb),
      },
      permissions: [
        // Submitting compiles the job (Parquet footers of its inputs), then writes the job record, its queued
        // status and the owner index; cancelling writes the job's cancel marker: all under the jobs root.
        ...w.s3Read(bucket.arn, objects),
        ...dataBucketReads,
        w.s3Write($interpolate`${bucket.arn}/${w.BUCKET_LAYOUT.jobs}*`),
        w.lambdaInvoke(coordinator.arn),
      ],
    });
    const api = new sst.aws.ApiGatewayV2('SquallApi');
    for (const route of w.API_ROUTES) api.route(route, apiHandler.arn);

    const rulesFile = settings.triggerRulesFile;
    const inlineRules = rulesFile
      ? w.inlineTriggerRules((await import('node:fs')).readFileSync(rulesFile, 'utf8'), settings.triggerPrefix, rulesFile)
      : undefined;
    const trigger = new sst.aws.Function('Trigger', {
      ...common,
      handler: w.HANDLERS.trigger,
      description: 'Squall S3 trigger: starts the job a new object calls for',
      memory: '512 MB',
      timeout: '1 minute',
      environment: {
        ...env,
        [w.FUNCTION_ENV.coordinatorFunction]: coordinator.name,
        [w.FUNCTION_ENV.triggerStateRoot]: $interpolate`s3://${bucket.name}/${w.BUCKET_LAYOUT.triggerClaims.replace(/\/$/, '')}`,
        [w.FUNCTION_ENV.triggerPrefix]: settings.triggerPrefix,
        ...(inlineRules !== undefined ? { [w.FUNCTION_ENV.triggerRulesJson]: inlineRules } : {}),
      },
      // Reads its rules (inline, else s3://<bucket>/config/trigger-rules.json) and job records; writes only claim
      // markers.
      permissions: [
        ...w.s3Read(bucket.arn, objects),
        w.s3Write($interpolate`${bucket.arn}/${w.BUCKET_LAYOUT.triggerClaims}*`),
        w.lambdaInvoke(coordinator.arn),
      ],
    });
    bucket.notify({
      notifications: [
        { name: 'Incoming', function: trigger.arn, events: ['s3:ObjectCreated:*'], filterPrefix: settings.triggerPrefix },
      ],
    });

    return {
      api: api.url,
      bucket: bucket.name,
      coordinator: coordinator.name,
      executor: executor.name,
    };
  },
});
