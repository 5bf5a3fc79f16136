// Worker processes for one function, as Lambda keeps execution environments: a cold invocation forks a process
// (tsx loaded, V8 heap capped by the function's memory) that imports the handler; afterwards it stays warm and
// is reused. The pool enforces the timeout (the process is killed, as Lambda discards the environment) and the
// memory size (resident memory sampled while a handler runs; over the limit the process is killed).
import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionErrorBody, SerializableContext, WorkerReply, WorkerRequest } from './protocol.ts';

export interface FunctionDefinition {
  /** `path/to/module.ts#exportName` (export defaults to `handler`); relative paths from the project root. */
  readonly handler: string;
  /** Lambda's default is 3 s; SST's 20 s. */
  readonly timeoutSeconds?: number;
  readonly memoryMb?: number;
  /** At most this many invocations of the function at once (Lambda's reserved concurrency). */
  readonly reservedConcurrency?: number;
  readonly environment?: Readonly<Record<string, string>>;
}

export const FUNCTION_DEFAULTS = { timeoutSeconds: 20, memoryMb: 1024 } as const;

/** Lambda gives init its own 10 s; a cold start that takes longer fails the invocation. */
const INIT_TIMEOUT_MS = 10_000;
const RSS_SAMPLE_MS = 50;

export interface InvokeMeta {
  readonly requestId: string;
  readonly coldStart: boolean;
  /** Fork plus handler import, for cold starts. */
  readonly initMs: number;
  /** Handler time as the parent sees it (IPC included). */
  readonly durationMs: number;
  readonly maxMemoryUsedMb: number;
}

export type InvokeOutcome =
  | ({ readonly ok: true; readonly payload: string } & InvokeMeta)
  | ({ readonly ok: false; readonly error: FunctionErrorBody } & InvokeMeta);

export type LogSink = (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;

const WORKER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lambda-worker.ts');

async function rssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

class Worker {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  #onReply: ((msg: WorkerReply) => void) | null = null;
  #onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
  exited = false;
  #stderrTail = '';

  constructor(functionName: string, handlerPath: string, memoryMb: number, env: NodeJS.ProcessEnv, cwd: string, logs: LogSink) {
    // Lambda's Node runtime sizes the old space below the function's memory, leaving room for buffers.
    const heapMb = Math.max(64, Math.floor(memoryMb * 0.85));
    this.proc = fork(WORKER_SCRIPT, [], {
      cwd,
      env: { ...env, SQUALL_LAMBDA_HANDLER: handlerPath },
      execArgv: ['--import', 'tsx', `--max-old-space-size=${heapMb}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      this.proc[stream]!.setEncoding('utf8');
      this.proc[stream]!.on('data', (chunk: string) => {
        if (stream === 'stderr') this.#stderrTail = (this.#stderrTail + chunk).slice(-4096);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) logs(functionName, line, stream);
      });
    }
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject({ errorType: 'Runtime.InitTimeout', errorMessage: `Init timed out after ${INIT_TIMEOUT_MS / 1000} seconds`, trace: [] });
      }, INIT_TIMEOUT_MS);
      this.#onReply = (msg) => {
        clearTimeout(timer);
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'init-error') {
          this.kill();
          reject(msg.error);
        }
      };
      this.#onExit = (code, signal) => {
        clearTimeout(timer);
        reject(this.exitError(code, signal));
      };
    });
    this.ready.catch(() => {});
    this.proc.on('message', (msg: WorkerReply) => this.#onReply?.(msg));
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      this.#onExit?.(code, signal);
    });
  }

  exitError(code: number | null, signal: NodeJS.Signals | null): FunctionErrorBody {
    const heap = /heap out of memory|Reached heap limit/.test(this.#stderrTail);
    return {
      errorType: heap ? 'Runtime.OutOfMemory' : 'Runtime.ExitError',
      errorMessage: `Runtime exited with error: ${signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`}`,
      trace: [],
    };
  }

  /** Runs one invocation; the worker is unusable afterwards if the outcome says `discard`. */
  run(req: WorkerRequest, timeoutMs: number, memoryMb: number): Promise<{ reply: { ok: true; payload: string } | { ok: false; error: FunctionErrorBody }; discard: boolean; maxMemoryUsedMb: number }> {
    return new Promise((resolve) => {
      let maxRss = 0;
      let settled = false;
      let sampling = false;
      const first = rssMb(this.proc.pid ?? -1).then((mb) => {
        if (mb !== null) maxRss = Math.max(maxRss, mb);
      });
      const finish = (reply: { ok: true; payload: string } | { ok: false; error: FunctionErrorBody }, discard: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(sampler);
        this.#onReply = null;
        this.#onExit = null;
        if (discard) this.kill();
        // Short handlers finish before the first periodic sample: wait for the one taken at the start.
        void first.then(() => resolve({ reply, discard, maxMemoryUsedMb: Math.round(maxRss) }));
      };
      const timer = setTimeout(() => {
        finish(
          {
            ok: false,
            error: {
              errorType: 'Sandbox.Timedout',
              errorMessage: `${new Date().toISOString()} ${req.id} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
              trace: [],
            },
          },
          true,
        );
      }, timeoutMs);
      const sampler = setInterval(() => {
        if (sampling || this.proc.pid === undefined) return;
        sampling = true;
        void rssMb(this.proc.pid).then((mb) => {
          sampling = false;
          if (mb === null) return;
          maxRss = Math.max(maxRss, mb);
          if (mb > memoryMb) {
            finish(
              {
                ok: false,
                error: {
                  errorType: 'Runtime.OutOfMemory',
                  errorMessage: `RequestId: ${req.id} Error: Runtime exited with error: signal: killed (memory used ${Math.round(mb)} MB > ${memoryMb} MB)`,
                  trace: [],
                },
              },
              true,
            );
          }
        });
      }, RSS_SAMPLE_MS);
      this.#onReply = (msg) => {
        if (msg.type === 'result' && msg.id === req.id) {
          finish(msg.ok ? { ok: true, payload: msg.payload } : { ok: false, error: msg.error }, false);
        } else if (msg.type === 'crash') {
          finish({ ok: false, error: msg.error }, true);
        }
      };
      this.#onExit = (code, signal) => finish({ ok: false, error: this.exitError(code, signal) }, true);
      this.proc.send(req, (err) => {
        if (err) finish({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: `cannot reach the worker: ${err.message}`, trace: [] } }, true);
      });

    });
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }

  /** Resolves once the process is gone. */
  async killAndWait(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}

let requestCounter = 0;

export function newRequestId(): string {
  // Lambda's request ids are UUIDs; a counter keeps logs readable and ids unique within the process.
  const n = (++requestCounter).toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${n}`;
}

export interface PoolOptions {
  readonly name: string;
  readonly definition: FunctionDefinition;
  readonly rootDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly region: string;
  readonly accountId: string;
  readonly logs: LogSink;
  /** Warm workers idle longer than this are stopped. */
  readonly idleTimeoutMs: number;
}

/** The execution environments of one function. */
export class FunctionPool {
  readonly #idle: { worker: Worker; timer: NodeJS.Timeout }[] = [];
  readonly #all = new Set<Worker>();
  active = 0;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly #handlerPath: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(private readonly o: PoolOptions) {
    this.timeoutMs = (o.definition.timeoutSeconds ?? FUNCTION_DEFAULTS.timeoutSeconds) * 1000;
    this.memoryMb = o.definition.memoryMb ?? FUNCTION_DEFAULTS.memoryMb;
    const hash = o.definition.handler.lastIndexOf('#');
    const file = hash < 0 ? o.definition.handler : o.definition.handler.slice(0, hash);
    const exportName = hash < 0 ? 'handler' : o.definition.handler.slice(hash + 1);
    this.#handlerPath = `${path.resolve(o.rootDir, file)}#${exportName}`;
    this.#env = {
      ...o.env,
      ...o.definition.environment,
      AWS_LAMBDA_FUNCTION_NAME: o.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memoryMb),
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.timeoutMs / 1000),
      AWS_REGION: o.region,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  }

  get arn(): string {
    return `arn:aws:lambda:${this.o.region}:${this.o.accountId}:function:${this.o.name}`;
  }

  get reservedConcurrency(): number | undefined {
    return this.o.definition.reservedConcurrency;
  }

  get warmWorkers(): number {
    return this.#idle.length;
  }

  get workers(): number {
    return this.#all.size;
  }

  #spawn(): Worker {
    const w = new Worker(this.o.name, this.#handlerPath, this.memoryMb, this.#env, this.o.rootDir, this.o.logs);
    this.#all.add(w);
    w.proc.once('exit', () => {
      this.#all.delete(w);
      const i = this.#idle.findIndex((e) => e.worker === w);
      if (i >= 0) clearTimeout(this.#idle.splice(i, 1)[0]!.timer);
    });
    return w;
  }

  #park(w: Worker): void {
    const timer = setTimeout(() => {
      const i = this.#idle.findIndex((e) => e.worker === w);
      if (i >= 0) this.#idle.splice(i, 1);
      w.kill();
    }, this.o.idleTimeoutMs);
    timer.unref();
    this.#idle.push({ worker: w, timer });
  }

  /** Starts `n` workers ahead of invocations (as provisioned concurrency does). */
  async prewarm(n: number): Promise<void> {
    const started = Array.from({ length: n }, () => this.#spawn());
    await Promise.all(started.map((w) => w.ready.catch(() => {})));
    for (const w of started) if (!w.exited) this.#park(w);
  }

  /** Runs one invocation on a warm worker, or a new one. The caller has already counted it in `active`. */
  async invoke(payload: string, requestId: string): Promise<InvokeOutcome> {
    let worker: Worker | undefined;
    let coldStart = false;
    let initMs = 0;
    while (this.#idle.length > 0) {
      const e = this.#idle.pop()!;
      clearTimeout(e.timer);
      if (!e.worker.exited) {
        worker = e.worker;
        break;
      }
    }
    if (worker === undefined) {
      coldStart = true;
      const t0 = performance.now();
      worker = this.#spawn();
      try {
        await worker.ready;
      } catch (error) {
        worker.kill();
        return { ok: false, error: error as FunctionErrorBody, requestId, coldStart, initMs: performance.now() - t0, durationMs: 0, maxMemoryUsedMb: 0 };
      }
      initMs = performance.now() - t0;
    }
    const context: SerializableContext = {
      functionName: this.o.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.arn,
      memoryLimitInMB: String(this.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${this.o.name}`,
      logStreamName: `local/${worker.proc.pid}`,
    };
    const t1 = performance.now();
    const { reply, discard, maxMemoryUsedMb } = await worker.run(
      { type: 'invoke', id: requestId, payload, deadlineMs: Date.now() + this.timeoutMs, context },
      this.timeoutMs,
      this.memoryMb,
    );
    const durationMs = performance.now() - t1;
    if (!discard && !worker.exited) this.#park(worker);
    const meta = { requestId, coldStart, initMs, durationMs, maxMemoryUsedMb };
    return reply.ok ? { ok: true, payload: reply.payload, ...meta } : { ok: false, error: reply.error, ...meta };
  }

  async stop(): Promise<void> {
    for (const e of this.#idle.splice(0)) clearTimeout(e.timer);
    await Promise.all([...this.#all].map((w) => w.killAndWait()));
  }
}
