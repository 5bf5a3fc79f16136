// What sst.config.ts declares for the inference workers, as plain data (tested by test/infra/sst-config.test.ts):
//
//   function InferenceWorker   functions/inference-worker.ts on Lambda: model stages of kind 'container' (CPU),
//                              and the fallback when GPU workers are turned off
//   ECS cluster SquallInference, EC2 GPU instances (SQUALL_GPU_INSTANCE_TYPE, g4dn.xlarge) in an auto scaling group
//                              of 0..SQUALL_GPU_MAX_INSTANCES, behind an ECS capacity provider with managed scaling
//                              (instances start when tasks are pending and stop when none run: scale to zero);
//                              a service of the image infra/inference/Dockerfile (GPU build) answering the Lambda
//                              Invoke API on :8080 behind an internal load balancer, its desired count scaled
//                              between 0 and the instance count by alarms on the load balancer's requests: the
//                              first request of an inference stage starts a task, 15 minutes without one stop it
//
// The coordinator reaches the service with the LambdaInvoker it uses for Lambda (SQUALL_INFERENCE_FUNCTION and
// SQUALL_INFERENCE_ENDPOINT = the load balancer). While no task runs the load balancer answers 503, which that
// invoker counts as throttling (backed off without using up the task's attempts; give GPU jobs a
// `scheduler.maxThrottles`/`retryMaxMs` that cover an instance start, a few minutes). Fargate has no GPUs, so this is ECS on EC2; SST has no component for it and the resources
// are Pulumi's `aws.*`.
//
// Not declared yet: the load balancer is internal (in the default VPC), and the coordinator Lambda runs outside
// any VPC, so a deployment must give the coordinator a VPC attachment (with S3 and Lambda endpoints or a NAT)
// before it can reach the GPU service; without GPU instances (SQUALL_GPU_MAX_INSTANCES=0) model stages run on the
// Lambda inference worker and nothing of this is needed. Nothing here has been deployed: it is checked only by
// test/infra/sst-config.test.ts.

/** Deploy-time settings of the GPU workers. */
export const INFERENCE_SETTINGS_ENV = {
  /** Most GPU instances (and tasks); 0 declares no GPU workers (model stages then run on the Lambda inference worker). */
  gpuMaxInstances: 'SQUALL_GPU_MAX_INSTANCES',
  gpuInstanceType: 'SQUALL_GPU_INSTANCE_TYPE',
  /** Memory of the Lambda inference worker in MB. */
  workerMemoryMb: 'SQUALL_INFERENCE_MEMORY_MB',
} as const;

export interface InferenceSettings {
  readonly gpuMaxInstances: number;
  readonly gpuInstanceType: string;
  readonly workerMemoryMb: number;
}

export const DEFAULT_INFERENCE_SETTINGS: InferenceSettings = Object.freeze({ gpuMaxInstances: 2, gpuInstanceType: 'g4dn.xlarge', workerMemoryMb: 4096 });

export function inferenceSettings(env: NodeJS.ProcessEnv = process.env): InferenceSettings {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new Error(`${name} must be a whole number between ${min} and ${max}, got '${raw}'`);
    return Number(raw);
  };
  const type = env[INFERENCE_SETTINGS_ENV.gpuInstanceType]?.trim() || DEFAULT_INFERENCE_SETTINGS.gpuInstanceType;
  // GPU instance families: g4dn, g5, g6, p3, p4d, p5…
  if (!/^(g\d[a-z]*|p\d[a-z]*)\.[a-z0-9]+$/.test(type)) throw new Error(`${INFERENCE_SETTINGS_ENV.gpuInstanceType} must be a GPU instance type (g4dn.xlarge, g5.2xlarge…), got '${type}'`);
  return {
    gpuMaxInstances: int(INFERENCE_SETTINGS_ENV.gpuMaxInstances, DEFAULT_INFERENCE_SETTINGS.gpuMaxInstances, 0, 100),
    gpuInstanceType: type,
    workerMemoryMb: int(INFERENCE_SETTINGS_ENV.workerMemoryMb, DEFAULT_INFERENCE_SETTINGS.workerMemoryMb, 1024, 10_240),
  };
}

export const INFERENCE_HANDLER = 'functions/inference-worker.handler';
export const INFERENCE_PORT = 8080;
/** The function name the service answers to in the Invoke path (any name works; this one shows in logs). */
export const GPU_FUNCTION_NAME = 'squall-inference-gpu';

/** The environment the coordinator reads (functions/coordinator.ts workerInvokers). */
export const INFERENCE_ENV = {
  function: 'SQUALL_INFERENCE_FUNCTION',
  endpoint: 'SQUALL_INFERENCE_ENDPOINT',
  device: 'SQUALL_INFERENCE_DEVICE',
} as const;

/** The ECS-optimized GPU AMI (Amazon Linux 2), as an SSM public parameter. */
export const GPU_AMI_PARAMETER = '/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended/image_id';

/** User data that joins an instance to the cluster with GPU support on. */
export function gpuUserData(clusterName: string): string {
  return Buffer.from(`#!/bin/bash\necho ECS_CLUSTER=${clusterName} >> /etc/ecs/ecs.config\necho ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config\n`).toString('base64');
}

/** The container of the GPU task: one GPU, the worker on INFERENCE_PORT, the job bucket's environment. */
export function gpuContainerDefinition(image: string, environment: Readonly<Record<string, string>>, region: string, logGroup: string): string {
  return JSON.stringify([
    {
      name: 'inference',
      image,
      essential: true,
      portMappings: [{ containerPort: INFERENCE_PORT, hostPort: INFERENCE_PORT, protocol: 'tcp' }],
      resourceRequirements: [{ type: 'GPU', value: '1' }],
      memoryReservation: 12_288,
      environment: Object.entries({ ...environment, [INFERENCE_ENV.device]: 'auto', SQUALL_INFERENCE_PORT: String(INFERENCE_PORT) }).map(([name, value]) => ({ name, value })),
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup, 'awslogs-region': region, 'awslogs-stream-prefix': 'inference' } },
    },
  ]);
}

/** Scale-out and scale-in alarms on the load balancer's request count (the service's only signal of demand). */
export const SCALE_OUT_ALARM = Object.freeze({ metricName: 'RequestCount', namespace: 'AWS/ApplicationELB', statistic: 'Sum', period: 60, evaluationPeriods: 1, threshold: 0, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'notBreaching' });
export const SCALE_IN_ALARM = Object.freeze({ metricName: 'RequestCount', namespace: 'AWS/ApplicationELB', statistic: 'Sum', period: 300, evaluationPeriods: 3, threshold: 1, comparisonOperator: 'LessThanThreshold', treatMissingData: 'breaching' });
