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
//   function InferenceWorker  functions/inference-worker.ts: model stages of kind 'container' (CPU)
//   ECS SquallInference      GPU inference workers (model stages of kind 'container-gpu'): EC2 GPU instances
//                            that scale to zero, the image of infra/inference/Dockerfile, behind an internal
//                            load balancer the coordinator invokes (infra/aws/inference.ts says how and what
//                            is still missing)

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
    const inf = await import('./infra/aws/inference.ts');
    const settings = w.deploySettings(process.env);
    const inference = inf.inferenceSettings(process.env);
    // The Parquet decoder's worker thread as one self-contained module, shipped beside the executor's bundle.
    const workers = await (await import('./infra/build/worker-bundles.ts')).buildWorkerBundles(w.WORKER_BUNDLE_DIR);

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
      // Decoder threads, one per vCPU (the default): an executor of 1,769 MB or more has several.
      copyFiles: [{ from: workers['parquet-decode-worker.mjs'], to: w.LAMBDA_PARQUET_WORKER }],
      environment: {
        ...env,
        [w.FUNCTION_ENV.parquetWorker]: `${w.LAMBDA_TASK_ROOT}/${w.LAMBDA_PARQUET_WORKER}`,
      },
      permissions: [...w.s3Read(bucket.arn, objects), w.s3Write(objects), ...dataBucketReads],
    });

    // Model stages of kind 'container' (CPU): the inference worker's code on Lambda, with onnxruntime-node's CPU
    // provider (its native binary is installed, not bundled).
    const inferenceWorker = new sst.aws.Function('InferenceWorker', {
      ...common,
      nodejs: { install: ['parquet-wasm', 'onnxruntime-node'] },
      handler: inf.INFERENCE_HANDLER,
      description: 'Squall inference worker: tasks of model stages, models kept loaded across tasks',
      memory: `${inference.workerMemoryMb} MB`,
      timeout: '15 minutes',
      environment: { ...env, [w.FUNCTION_ENV.parquetThreads]: '0', [inf.INFERENCE_ENV.device]: 'cpu' },
      permissions: [...w.s3Read(bucket.arn, objects), w.s3Write(objects), ...dataBucketReads],
    });
    const gpu = inference.gpuMaxInstances > 0 ? gpuWorkers() : null;

    // GPU workers: ECS on EC2 GPU instances (Fargate has none) that scale to zero (infra/aws/inference.ts).
    function gpuWorkers() {
      const max = inference.gpuMaxInstances;
      const vpc = aws.ec2.getVpcOutput({ default: true });
      const subnets = aws.ec2.getSubnetsOutput({ filters: [{ name: 'vpc-id', values: [vpc.id] }] });
      const repository = new aws.ecr.Repository('InferenceImage', { forceDelete: true });
      const logs = new aws.cloudwatch.LogGroup('InferenceLogs', { retentionInDays: 14 });
      const cluster = new aws.ecs.Cluster('SquallInference', {});
      const assume = (service: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] });
      const instanceRole = new aws.iam.Role('InferenceInstanceRole', {
        assumeRolePolicy: assume('ec2.amazonaws.com'),
        managedPolicyArns: [$interpolate`arn:${partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role`],
      });
      const profile = new aws.iam.InstanceProfile('InferenceInstanceProfile', { role: instanceRole.name });
      const group = new aws.ec2.SecurityGroup('InferenceSecurityGroup', {
        vpcId: vpc.id,
        ingress: [{ protocol: 'tcp', fromPort: 80, toPort: inf.INFERENCE_PORT, cidrBlocks: [vpc.cidrBlock] }],
        egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }],
      });
      const template = new aws.ec2.LaunchTemplate('InferenceLaunchTemplate', {
        imageId: aws.ssm.getParameterOutput({ name: inf.GPU_AMI_PARAMETER }).value,
        instanceType: inference.gpuInstanceType,
        iamInstanceProfile: { arn: profile.arn },
        vpcSecurityGroupIds: [group.id],
        userData: $resolve([cluster.name]).apply(([name]: string[]) => inf.gpuUserData(name!)),
      });
      const instances = new aws.autoscaling.Group('InferenceInstances', {
        minSize: 0,
        maxSize: max,
        desiredCapacity: 0,
        vpcZoneIdentifiers: subnets.ids,
        launchTemplate: { id: template.id, version: '$Latest' },
        tags: [{ key: 'AmazonECSManaged', value: 'true', propagateAtLaunch: true }],
      });
      // Managed scaling starts instances for pending tasks and stops idle ones: no task, no instance.
      const capacity = new aws.ecs.CapacityProvider('InferenceCapacity', {
        autoScalingGroupProvider: {
          autoScalingGroupArn: instances.arn,
          managedScaling: { status: 'ENABLED', targetCapacity: 100, minimumScalingStepSize: 1, maximumScalingStepSize: max },
          managedTerminationProtection: 'DISABLED',
        },
      });
      new aws.ecs.ClusterCapacityProviders('InferenceCapacityProviders', {
        clusterName: cluster.name,
        capacityProviders: [capacity.name],
        defaultCapacityProviderStrategies: [{ capacityProvider: capacity.name, weight: 1 }],
      });
      const taskRole = new aws.iam.Role('InferenceTaskRole', { assumeRolePolicy: assume('ecs-tasks.amazonaws.com') });
      // The same S3 access as the executor: read inputs and models, write shuffle output and dead letters.
      new aws.iam.RolePolicy('InferenceTaskPolicy', {
        role: taskRole.name,
        policy: $jsonStringify({
          Version: '2012-10-17',
          Statement: [...w.s3Read(bucket.arn, objects), w.s3Write(objects), ...dataBucketReads].map((s) => ({ Effect: 'Allow', Action: s.actions, Resource: s.resources })),
        }),
      });
      const executionRole = new aws.iam.Role('InferenceExecutionRole', {
        assumeRolePolicy: assume('ecs-tasks.amazonaws.com'),
        managedPolicyArns: [$interpolate`arn:${partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`],
      });
      const task = new aws.ecs.TaskDefinition('InferenceTask', {
        family: `${$app.name}-${$app.stage}-inference`,
        requiresCompatibilities: ['EC2'],
        networkMode: 'awsvpc',
        taskRoleArn: taskRole.arn,
        executionRoleArn: executionRole.arn,
        containerDefinitions: $resolve([repository.repositoryUrl, bucket.name, env[w.FUNCTION_ENV.jobsRoot], region, logs.name]).apply(
          ([url, name, jobsRoot, r, logGroup]: string[]) =>
            inf.gpuContainerDefinition(`${url}:gpu`, { [w.FUNCTION_ENV.bucket]: name!, [w.FUNCTION_ENV.jobsRoot]: jobsRoot! }, r!, logGroup!),
        ),
      });
      const lb = new aws.lb.LoadBalancer('InferenceLoadBalancer', { internal: true, loadBalancerType: 'application', subnets: subnets.ids, securityGroups: [group.id] });
      const targets = new aws.lb.TargetGroup('InferenceTargets', {
        port: inf.INFERENCE_PORT,
        protocol: 'HTTP',
        targetType: 'ip',
        vpcId: vpc.id,
        healthCheck: { path: '/health' },
      });
      new aws.lb.Listener('InferenceListener', { loadBalancerArn: lb.arn, port: 80, protocol: 'HTTP', defaultActions: [{ type: 'forward', targetGroupArn: targets.arn }] });
      const service = new aws.ecs.Service(
        'InferenceService',
        {
          cluster: cluster.arn,
          taskDefinition: task.arn,
          desiredCount: 0,
          capacityProviderStrategies: [{ capacityProvider: capacity.name, weight: 1 }],
          networkConfiguration: { subnets: subnets.ids, securityGroups: [group.id] },
          loadBalancers: [{ targetGroupArn: targets.arn, containerName: 'inference', containerPort: inf.INFERENCE_PORT }],
        },
        // The scaling policies own the desired count.
        { ignoreChanges: ['desiredCount'] },
      );
      const resourceId = $interpolate`service/${cluster.name}/${service.name}`;
      const scalable = { resourceId, scalableDimension: 'ecs:service:DesiredCount', serviceNamespace: 'ecs' };
      new aws.appautoscaling.Target('InferenceScaling', { ...scalable, minCapacity: 0, maxCapacity: max });
      const scaleOut = new aws.appautoscaling.Policy('InferenceScaleOut', {
        ...scalable,
        policyType: 'StepScaling',
        stepScalingPolicyConfiguration: { adjustmentType: 'ExactCapacity', cooldown: 60, stepAdjustments: [{ metricIntervalLowerBound: '0', scalingAdjustment: max }] },
      });
      const scaleIn = new aws.appautoscaling.Policy('InferenceScaleIn', {
        ...scalable,
        policyType: 'StepScaling',
        stepScalingPolicyConfiguration: { adjustmentType: 'ExactCapacity', cooldown: 300, stepAdjustments: [{ metricIntervalUpperBound: '0', scalingAdjustment: 0 }] },
      });
      new aws.cloudwatch.MetricAlarm('InferenceDemand', { ...inf.SCALE_OUT_ALARM, dimensions: { LoadBalancer: lb.arnSuffix }, alarmActions: [scaleOut.arn] });
      new aws.cloudwatch.MetricAlarm('InferenceIdle', { ...inf.SCALE_IN_ALARM, dimensions: { LoadBalancer: lb.arnSuffix }, alarmActions: [scaleIn.arn] });
      return { endpoint: $interpolate`http://${lb.dnsName}`, repository: repository.repositoryUrl, cluster: cluster.name };
    }

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
      environment: {
        ...env,
        [w.FUNCTION_ENV.executorFunction]: executor.name,
        // Model stages: the GPU service where it is declared, else the Lambda inference worker.
        ...(gpu
          ? { [inf.INFERENCE_ENV.function]: inf.GPU_FUNCTION_NAME, [inf.INFERENCE_ENV.endpoint]: gpu.endpoint }
          : { [inf.INFERENCE_ENV.function]: inferenceWorker.name }),
      },
      permissions: [
        ...w.s3Read(bucket.arn, objects),
        w.s3Write(objects),
        ...dataBucketReads,
        w.lambdaInvoke(executor.arn, inferenceWorker.arn, coordinatorArn),
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
      inferenceWorker: inferenceWorker.name,
      ...(gpu ? { inferenceEndpoint: gpu.endpoint, inferenceImageRepository: gpu.repository, inferenceCluster: gpu.cluster } : {}),
    };
  },
});
