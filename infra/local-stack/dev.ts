// `npm run dev`: starts the local stack, prints its endpoints and the environment that points clients at it,
// and runs until Ctrl-C. Functions: the project's handlers under functions/ that exist, plus any given as
// `--function name=path/to/module.ts#export`.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, startLocalStack, type FunctionDefinition } from './index.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The project's functions and their settings, registered once their handler files exist. */
const PROJECT_FUNCTIONS: Record<string, FunctionDefinition> = {
  executor: { handler: 'functions/executor.ts#handler', timeoutSeconds: 900, memoryMb: 3008 },
  coordinator: { handler: 'functions/coordinator.ts#handler', timeoutSeconds: 900, memoryMb: 1024 },
  trigger: { handler: 'functions/trigger.ts#handler', timeoutSeconds: 60, memoryMb: 512 },
};

function parseArgs(argv: string[]): { functions: Record<string, FunctionDefinition>; s3Port?: number; lambdaPort?: number; dir?: string } {
  const functions: Record<string, FunctionDefinition> = {};
  const out: { functions: Record<string, FunctionDefinition>; s3Port?: number; lambdaPort?: number; dir?: string } = { functions };
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
    else if (a === '--data') out.dir = path.resolve(value());
    else throw new Error(`unknown argument '${a}' (use --function name=file#export, --s3-port N, --lambda-port N, --data DIR)`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const functions: Record<string, FunctionDefinition> = {};
for (const [name, def] of Object.entries(PROJECT_FUNCTIONS)) {
  if (existsSync(path.join(PROJECT_ROOT, def.handler.split('#')[0]!))) functions[name] = def;
}
Object.assign(functions, args.functions);

const stack = await startLocalStack({
  functions,
  s3Port: args.s3Port,
  lambdaPort: args.lambdaPort,
  s3Directory: args.dir,
  // Objects landing under incoming/ go to the trigger, whose rules pick the job (never jobs/: the coordinator
  // writes job state there). As in sst.config.ts.
  notifications: functions.trigger ? [{ bucket: 'squall', prefix: 'incoming/', function: 'trigger' }] : [],
  logs: 'inherit',
});
const lines = [
  'Squall local stack',
  `  S3 (s3rver)       ${stack.s3Endpoint}   bucket: ${stack.bucket}   data: ${stack.s3.directory}`,
  `  Lambda Invoke     ${stack.lambdaEndpoint}`,
  `  functions         ${Object.keys(functions).join(', ') || '(none yet: add --function name=file.ts#export)'}`,
  '',
  'Point clients at it with:',
  ...Object.entries(stack.env()).map(([k, v]) => `  export ${k}=${v}`),
  '',
  'Ctrl-C stops it.',
];
console.log(lines.join('\n'));
stack.s3.onEvent((r) => console.log(`[s3] ${r.eventName} s3://${r.s3.bucket.name}/${r.s3.object.key}`));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
