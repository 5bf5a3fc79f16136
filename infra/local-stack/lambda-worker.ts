// A Lambda execution environment in one process: loads the handler named by SQUALL_LAMBDA_HANDLER
// (`path/to/module.ts#exportName`), then runs one invocation at a time as the parent sends them over IPC,
// staying warm in between as Lambda's environments do. Forked by worker-pool.ts with tsx loaded.
import { pathToFileURL } from 'node:url';
import type { LambdaContext, WorkerReply, WorkerRequest, FunctionErrorBody } from './protocol.ts';

type Handler = (event: unknown, context: LambdaContext, callback?: (err: unknown, result?: unknown) => void) => unknown;

function errorBody(e: unknown): FunctionErrorBody {
  if (e instanceof Error) {
    return { errorType: e.name || 'Error', errorMessage: e.message, trace: (e.stack ?? '').split('\n').filter((l) => l !== '') };
  }
  return { errorType: typeof e, errorMessage: String(e), trace: [] };
}

function send(msg: WorkerReply): void {
  process.send!(msg);
}

async function load(spec: string): Promise<Handler> {
  const hash = spec.lastIndexOf('#');
  const file = hash < 0 ? spec : spec.slice(0, hash);
  const name = hash < 0 ? 'handler' : spec.slice(hash + 1);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const body = errorBody(e);
    throw Object.assign(new Error(`Error: Cannot load handler module '${file}': ${body.errorMessage}`), { name: 'Runtime.ImportModuleError' });
  }
  const fn = mod[name];
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(`${file}.${name} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
  }
  return fn as Handler;
}

let current: string | null = null;

async function invoke(handler: Handler, req: Extract<WorkerRequest, { type: 'invoke' }>): Promise<void> {
  current = req.id;
  const deadline = req.deadlineMs;
  const context: LambdaContext = {
    ...req.context,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: true,
  };
  let reply: WorkerReply;
  try {
    const event = JSON.parse(req.payload) as unknown;
    const result =
      handler.length >= 3
        ? await new Promise((resolve, reject) => {
            const r = handler(event, context, (err, value) => (err ? reject(err) : resolve(value)));
            if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(resolve, reject);
          })
        : await handler(event, context);
    reply = { type: 'result', id: req.id, ok: true, payload: result === undefined ? 'null' : JSON.stringify(result) };
  } catch (e) {
    reply = { type: 'result', id: req.id, ok: false, error: errorBody(e) };
  }
  current = null;
  send(reply);
}

async function main(): Promise<void> {
  const spec = process.env.SQUALL_LAMBDA_HANDLER;
  if (!spec) throw new Error('SQUALL_LAMBDA_HANDLER is not set');
  let handler: Handler;
  try {
    handler = await load(spec);
  } catch (e) {
    send({ type: 'init-error', error: errorBody(e) });
    return;
  }
  process.on('message', (msg: WorkerRequest) => {
    if (msg.type === 'invoke') void invoke(handler, msg);
  });
  send({ type: 'ready' });
}

// Errors that escape the handler's promise end the environment, as Lambda's Node runtime does.
const crash = (e: unknown) => {
  const body = errorBody(e);
  send({ type: 'crash', id: current, error: { ...body, errorType: e instanceof Error ? body.errorType : 'Runtime.UnhandledPromiseRejection' } });
  process.exitCode = 129;
  setImmediate(() => process.exit(129));
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);
process.on('disconnect', () => process.exit(0));

void main();
