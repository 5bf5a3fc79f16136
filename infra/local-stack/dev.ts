// `npm run dev` (and `npx squall dev`): starts the local stack with the project's functions (executor,
// coordinator, trigger, and the HTTP API served over loopback with a generated API key), prints its endpoints
// and the environment that points clients (SDK, CLI) at it, and runs until Ctrl-C. Extra functions can be given
// as `--function name=path/to/module.ts#export`.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LocalStackOptions, PROJECT_ROOT, startLocalStack, type FunctionDefinition, type LocalStack } from './index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The project's functions and their settings, registered once their handler files exist. */
const PROJECT_FUNCTIONS: Record<string, FunctionDefinition> = {
  executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 900, memoryMb: 3008 },
  // The inference worker: the GPU container of AWS, here a worker process like the others (CPU provider).
  inference: { handler: 'functions/inference-worker.ts#handler', timeoutSeconds: 900, memoryMb: 3008 },
  coordinator: {
    handler: 'functions/coordinator.ts#handler',
    timeoutSeconds: 900,
    memoryMb: 1024,
    environment: { SQUALL_EXECUTOR_FUNCTION: 'executor', SQUALL_INFERENCE_FUNCTION: 'inference' },
  },
  trigger: { handler: 'functions/trigger.ts#handler', timeoutSeconds: 60, memoryMb: 512 },
  api: { handler: 'functions/api.ts#handler', timeoutSeconds: 30, memoryMb: 1024 },
};

export interface DevStackOptions {
  readonly functions?: Readonly<Record<string, FunctionDefinition>>;
  readonly s3Port?: number;
  readonly lambdaPort?: number;
  readonly apiPort?: number;
  /** Where s3rver keeps objects (kept after stop); a temporary folder by default. */
  readonly dir?: string;
  /** The API key of the `dev` caller; generated when not given. */
  readonly apiKey?: string;
  /** Function output: 'inherit' (stderr, prefixed by function name), 'silent', or a sink of your own. */
  readonly logs?: LocalStackOptions['logs'];
}

export interface DevStack {
  readonly stack: LocalStack;
  readonly functions: readonly string[];
  /** The HTTP API's base URL (null when functions/api.ts does not exist). */
  readonly endpoint: string | null;
  readonly apiKey: string;
  /** Everything a client needs: SQUALL_ENDPOINT, SQUALL_API_KEY, S3 endpoint, region, credentials. */
  readonly env: Record<string, string>;
  /** The banner `npm run dev` prints. */
  describe(): string;
}

/** Starts the local stack as `npm run dev` does. */
export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const apiKey = options.apiKey ?? `sq_dev_${randomBytes(16).toString('hex')}`;
  const functions: Record<string, FunctionDefinition> = {};
  for (const [name, def] of Object.entries(PROJECT_FUNCTIONS)) {
    if (existsSync(path.join(PROJECT_ROOT, def.handler.split('#')[0]!))) functions[name] = def;
  }
  if (functions.api) {
    functions.api = {
      ...functions.api,
      environment: { ...functions.api.environment, SQUALL_API_KEYS: `dev:${apiKey}`, SQUALL_COORDINATOR_FUNCTION: 'coordinator' },
    };
  }
  Object.assign(functions, options.functions ?? {});
  const stack = await startLocalStack({
    functions,
    s3Port: options.s3Port,
    lambdaPort: options.lambdaPort,
    s3Directory: options.dir,
    // Objects landing under incoming/ go to the trigger, whose rules pick the job (never jobs/: the coordinator
    // writes job state there). As in sst.config.ts.
    notifications: functions.trigger ? [{ bucket: 'squall', prefix: 'incoming/', function: 'trigger' }] : [],
    ...(functions.api ? { httpApi: { function: 'api', ...(options.apiPort !== undefined ? { port: options.apiPort } : {}) } } : {}),
    logs: options.logs ?? 'inherit',
  });
  const endpoint = stack.apiEndpoint;
  const env: Record<string, string> = { ...(endpoint ? { SQUALL_ENDPOINT: endpoint, SQUALL_API_KEY: apiKey } : {}), ...stack.env() };
  return {
    stack,
    functions: Object.keys(functions),
    endpoint,
    apiKey,
    env,
    describe() {
      return [
        'Squall local stack',
        `  S3 (s3rver)       ${stack.s3Endpoint}   bucket: ${stack.bucket}   data: ${stack.s3.directory}`,
        `  Lambda Invoke     ${stack.lambdaEndpoint}`,
        `  HTTP API          ${endpoint ?? '(none: functions/api.ts is missing)'}`,
        `  API key           ${endpoint ? `${apiKey}   (caller 'dev')` : '-'}`,
        `  functions         ${Object.keys(functions).join(', ') || '(none yet: add --function name=file.ts#export)'}`,
        '',
        'Point clients (the SDK, `npx squall`) at it with:',
        ...Object.entries(env).map(([k, v]) => `  export ${k}=${v}`),
        '',
        'Ctrl-C stops it.',
      ].join('\n');
    },
  };
}

function parseArgs(argv: string[]): DevStackOptions {
  const functions: Record<string, FunctionDefinition> = {};
  const out: { -readonly [K in keyof DevStackOptions]: DevStackOptions[K] } = { functions };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--function') {
      const [name, handler] = value().split('=');
      if (!name || !handler) throw new Error('--function takes name=path/to/module.ts#export');
      functions[name] = { handler };
    } else if (a === '--s3-port') out.s3Port = Number(value());
    else if (a === '--lambda-port') out.lambdaPort = Number(value());
    else if (a === '--api-port') out.apiPort = Number(value());
    else if (a === '--api-key') out.apiKey = value();
    else if (a === '--data') out.dir = path.resolve(value());
    else throw new Error(`unknown argument '${a}' (use --function name=file#export, --s3-port N, --lambda-port N, --api-port N, --api-key KEY, --data DIR)`);
  }
  return out;
}

/** Stops `dev` on Ctrl-C / SIGTERM. */
export function stopOnSignals(dev: DevStack, log: (line: string) => void = console.log): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('\nstopping…');
    await dev.stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dev = await startDevStack(parseArgs(process.argv.slice(2)));
  console.log(dev.describe());
  dev.stack.s3.onEvent((r) => console.log(`[s3] ${r.eventName} s3://${r.s3.bucket.name}/${r.s3.object.key}`));
  stopOnSignals(dev);
}
