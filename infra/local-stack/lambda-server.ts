// A Lambda-compatible Invoke endpoint on 127.0.0.1: `POST /2015-03-31/functions/{name}/invocations` with
// RequestResponse, Event and DryRun invocation types, Lambda's limits (6 MB request and response payloads,
// 256 KB for Event, per-function timeout and memory, reserved and account concurrency) and Lambda's error
// shapes, so `@aws-sdk/client-lambda` works against it unchanged. Handlers run in worker processes
// (worker-pool.ts). Event invocations are queued and retried twice on failure, as Lambda does.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type FunctionDefinition, type InvokeOutcome, type LogSink, FunctionPool, newRequestId } from './worker-pool.ts';
import type { FunctionErrorBody } from './protocol.ts';

export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Lambda's limit for asynchronous (Event) invocation payloads. */
export const EVENT_PAYLOAD_LIMIT = 256 * 1024;
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface LambdaServerOptions {
  readonly functions?: Readonly<Record<string, FunctionDefinition>>;
  /** Invocations running at once over all functions (Lambda's account concurrency; 1,000 by default on AWS). */
  readonly concurrency?: number;
  readonly port?: number;
  readonly region?: string;
  /** Relative handler paths resolve from here. */
  readonly rootDir: string;
  /** Environment of every worker (the stack's endpoints and credentials go here). */
  readonly env?: NodeJS.ProcessEnv;
  readonly logs?: LogSink;
  readonly idleTimeoutMs?: number;
  /** Retries of a failed Event invocation (Lambda: 2) and the delay before the first (doubling). */
  readonly eventRetries?: number;
  readonly eventRetryDelayMs?: number;
}

export interface EventResult {
  readonly functionName: string;
  readonly requestId: string;
  readonly attempts: number;
  readonly outcome: InvokeOutcome;
}

interface QueuedEvent {
  readonly name: string;
  readonly payload: string;
  readonly requestId: string;
  attempts: number;
}

/** Lambda's JSON error body for a service error, with the type in `x-amzn-ErrorType` as the SDK reads it. */
function serviceError(res: http.ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ Type: 'User', message, ...extra });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-errortype': type,
    'x-amzn-requestid': newRequestId(),
  });
  res.end(body);
}

export class LocalLambda {
  readonly #pools = new Map<string, FunctionPool>();
  readonly #queue: QueuedEvent[] = [];
  readonly #eventListeners = new Set<(r: EventResult) => void>();
  readonly #idleWaiters: (() => void)[] = [];
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #active = 0;
  #eventsInFlight = 0;
  #env: NodeJS.ProcessEnv;
  #stopped = false;
  readonly concurrency: number;
  readonly region: string;

  private constructor(
    readonly endpoint: string,
    private readonly server: http.Server,
    private readonly o: LambdaServerOptions,
  ) {
    this.concurrency = o.concurrency ?? 16;
    this.region = o.region ?? 'us-east-1';
    this.#env = { ...process.env, ...o.env };
  }

  static async start(options: LambdaServerOptions): Promise<LocalLambda> {
    let self: LocalLambda | undefined;
    const server = http.createServer((req, res) => {
      self!.#handle(req, res).catch((e) => {
        if (!res.headersSent) serviceError(res, 500, 'ServiceException', String(e));
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 30_000;
    // Synchronous invocations may run for the function's whole timeout.
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new LocalLambda(`http://127.0.0.1:${port}`, server, options);
    for (const [name, def] of Object.entries(options.functions ?? {})) self.register(name, def);
    return self;
  }

  /** Adds variables to the environment of workers started from now on. */
  setEnvironment(env: Record<string, string>): void {
    this.#env = { ...this.#env, ...env };
  }

  /** Registers (or replaces) a function; replacing stops the old one's workers. */
  register(name: string, definition: FunctionDefinition): void {
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) throw new Error(`invalid function name '${name}'`);
    const old = this.#pools.get(name);
    if (old) void old.stop();
    this.#pools.set(
      name,
      new FunctionPool({
        name,
        definition,
        rootDir: this.o.rootDir,
        env: this.#env,
        region: this.region,
        accountId: LOCAL_ACCOUNT_ID,
        logs: this.o.logs ?? ((fn, line) => process.stderr.write(`[${fn}] ${line}\n`)),
        idleTimeoutMs: this.o.idleTimeoutMs ?? 5 * 60_000,
      }),
    );
  }

  get functionNames(): string[] {
    return [...this.#pools.keys()];
  }

  /** Starts `n` warm workers of a function ahead of its invocations. */
  async prewarm(name: string, n: number): Promise<void> {
    await this.#pool(name).prewarm(n);
  }

  /** Worker processes of a function (warm and busy). */
  workers(name: string): { total: number; warm: number; active: number } {
    const p = this.#pool(name);
    return { total: p.workers, warm: p.warmWorkers, active: p.active };
  }

  #pool(name: string): FunctionPool {
    const p = this.#pools.get(name);
    if (!p) throw new Error(`no function '${name}'`);
    return p;
  }

  /** Called with the final outcome of every Event invocation (after its retries). */
  onEventResult(fn: (r: EventResult) => void): () => void {
    this.#eventListeners.add(fn);
    return () => {
      this.#eventListeners.delete(fn);
    };
  }

  /** Resolves when no Event invocation is queued, waiting for a retry, or running. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#eventsInFlight === 0 && this.#retryTimers.size === 0;
  }

  #hasCapacity(pool: FunctionPool): boolean {
    const reserved = pool.reservedConcurrency;
    return this.#active < this.concurrency && (reserved === undefined || pool.active < reserved);
  }

  /** Invokes directly (no HTTP): what the endpoint does for a RequestResponse call, or null when throttled. */
  async invoke(name: string, payload: string): Promise<InvokeOutcome | null> {
    const pool = this.#pool(name);
    if (!this.#hasCapacity(pool)) return null;
    return this.#run(pool, payload, newRequestId());
  }

  async #run(pool: FunctionPool, payload: string, requestId: string): Promise<InvokeOutcome> {
    this.#active++;
    pool.active++;
    try {
      const outcome = await pool.invoke(payload, requestId);
      if (outcome.ok && Buffer.byteLength(outcome.payload) > SYNC_PAYLOAD_LIMIT) {
        return {
          ...outcome,
          ok: false,
          error: {
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_LIMIT} bytes).`,
            trace: [],
          },
        };
      }
      return outcome;
    } finally {
      this.#active--;
      pool.active--;
      this.#drain();
    }
  }

  #drain(): void {
    if (this.#stopped) return;
    for (let i = 0; i < this.#queue.length; ) {
      const ev = this.#queue[i]!;
      const pool = this.#pools.get(ev.name);
      if (!pool) {
        this.#queue.splice(i, 1);
        continue;
      }
      if (!this.#hasCapacity(pool)) {
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#eventsInFlight++;
      ev.attempts++;
      void this.#run(pool, ev.payload, ev.requestId).then((outcome) => {
        this.#eventsInFlight--;
        const retries = this.o.eventRetries ?? 2;
        if (!outcome.ok && ev.attempts <= retries && !this.#stopped) {
          const delay = (this.o.eventRetryDelayMs ?? 1000) * 2 ** (ev.attempts - 1);
          const t = setTimeout(() => {
            this.#retryTimers.delete(t);
            this.#queue.push(ev);
            this.#drain();
          }, delay);
          this.#retryTimers.add(t);
        } else {
          if (!outcome.ok) {
            this.o.logs?.(ev.name, `Event invocation ${ev.requestId} failed after ${ev.attempts} attempts: ${outcome.error.errorType}: ${outcome.error.errorMessage}`, 'stderr');
          }
          for (const l of this.#eventListeners) l({ functionName: ev.name, requestId: ev.requestId, attempts: ev.attempts, outcome });
        }
        this.#notifyIdle();
      });
    }
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Queues an Event invocation (as Lambda's asynchronous queue does); returns its request id. */
  enqueueEvent(name: string, payload: string): string {
    this.#pool(name);
    const requestId = newRequestId();
    this.#queue.push({ name, payload, requestId, attempts: 0 });
    this.#drain();
    return requestId;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/.exec(url.pathname);
    if (!m || req.method !== 'POST') {
      req.resume();
      serviceError(res, 404, 'UnknownOperationException', `Unknown operation ${req.method} ${url.pathname}`);
      return;
    }
    // FunctionName may be a name, `name:qualifier`, or an ARN.
    const raw = decodeURIComponent(m[1]!);
    const arn = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(raw);
    const name = arn ? arn[1]! : raw.split(':')[0]!;
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    const limit = type === 'Event' ? EVENT_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    }
    const pool = this.#pools.get(name);
    if (!pool) {
      serviceError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${this.region}:${LOCAL_ACCOUNT_ID}:function:${name}`);
      return;
    }
    if (size > limit) {
      serviceError(res, 413, 'RequestEntityTooLargeException', `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
      return;
    }
    const payload = size === 0 ? '{}' : Buffer.concat(chunks).toString('utf8');
    try {
      JSON.parse(payload);
    } catch {
      serviceError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json: Could not parse payload into json');
      return;
    }
    const headers = { 'x-amzn-requestid': '', 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') {
      res.writeHead(204, { ...headers, 'x-amzn-requestid': newRequestId() });
      res.end();
      return;
    }
    if (type === 'Event') {
      const requestId = this.enqueueEvent(name, payload);
      res.writeHead(202, { ...headers, 'x-amzn-requestid': requestId, 'content-length': 0 });
      res.end();
      return;
    }
    if (type !== 'RequestResponse') {
      serviceError(res, 400, 'InvalidParameterValueException', `Unsupported invocation type '${type}'`);
      return;
    }
    if (!this.#hasCapacity(pool)) {
      // Lambda throttles synchronous calls at once rather than queueing them.
      const body = JSON.stringify({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', Type: 'User', message: 'Rate Exceeded.' });
      res.writeHead(429, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-amzn-errortype': 'TooManyRequestsException',
        'x-amzn-requestid': newRequestId(),
        'retry-after': '1',
      });
      res.end(body);
      return;
    }
    const outcome = await this.#run(pool, payload, newRequestId());
    const out = outcome.ok ? outcome.payload : JSON.stringify(functionErrorPayload(outcome.error));
    res.writeHead(200, {
      ...headers,
      'x-amzn-requestid': outcome.requestId,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(out),
      ...(outcome.ok ? {} : { 'x-amz-function-error': 'Unhandled' }),
      // Not a Lambda header: lets tests and benchmarks see cold starts and durations.
      'x-squall-invoke-meta': JSON.stringify({ coldStart: outcome.coldStart, initMs: round(outcome.initMs), durationMs: round(outcome.durationMs), maxMemoryUsedMb: outcome.maxMemoryUsedMb }),
    });
    res.end(out);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    this.#queue.length = 0;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await Promise.all([...this.#pools.values()].map((p) => p.stop()));
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function functionErrorPayload(e: FunctionErrorBody): FunctionErrorBody {
  return { errorType: e.errorType, errorMessage: e.errorMessage, trace: e.trace };
}
