// How the coordinator runs one task attempt: a `TaskInvoker` takes an ExecutorRequest and answers with the
// executor's response or a `TaskFailure` that says whether retrying can help and whether the failure was
// throttling (which backs off without using up the task's retries). `LambdaInvoker` calls the executor function
// through @aws-sdk/client-lambda (AWS, LocalStack or the local stack: only the endpoint differs).
import { InvokeCommand, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { type ExecutorRequest, type ExecutorResponse, parseExecutorResponse } from './protocol.ts';
import { SquallError } from '../types/errors.ts';

export type FailureKind =
  /** The handler threw (user or data error, or a transient fault inside the task). */
  | 'error'
  /** The attempt ran past its time limit. */
  | 'timeout'
  /** The execution environment died (crash, out of memory). */
  | 'crash'
  /** Too many requests: Lambda 429, S3 SlowDown. Retried after a back-off, not counted as an attempt. */
  | 'throttled'
  /** The request itself is wrong (invalid request, payload too large): retrying cannot help. */
  | 'fatal';

export class TaskFailure extends SquallError {
  override readonly name = 'TaskFailure';
  constructor(
    readonly kind: FailureKind,
    /** The error type the executor or Lambda reported, e.g. `Sandbox.Timedout`, `ExecutionError`. */
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

export interface InvokeOptions {
  /** Aborts waiting for the attempt (the coordinator gave up on it); the remote attempt may still run. */
  readonly signal?: AbortSignal;
}

export interface TaskInvoker {
  invoke(request: ExecutorRequest, options?: InvokeOptions): Promise<ExecutorResponse>;
  close?(): void;
}

interface LambdaErrorBody {
  readonly errorType?: string;
  readonly errorMessage?: string;
}

/** The failure kind of an error type reported by Lambda or the handler. */
export function classifyErrorType(errorType: string): FailureKind {
  if (errorType === 'Sandbox.Timedout' || /timed? ?out/i.test(errorType)) return 'timeout';
  if (errorType.startsWith('Runtime.')) return errorType === 'Runtime.HandlerNotFound' || errorType === 'Runtime.ImportModuleError' ? 'fatal' : 'crash';
  if (errorType === 'Function.ResponseSizeTooLarge') return 'fatal';
  if (errorType === 'SlowDown' || errorType === 'TooManyRequestsException' || errorType === 'ThrottlingException') return 'throttled';
  // An invalid request, bad data or an unsupported feature fails the same way every time: no retry.
  if (errorType === 'AnalysisError' || errorType === 'DataError' || errorType === 'UnsupportedError') return 'fatal';
  return 'error';
}

function sdkErrorKind(e: unknown, unavailableIsThrottled = false): { kind: FailureKind; type: string; message: string } {
  const err = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const type = err.name ?? 'Error';
  const status = err.$metadata?.httpStatusCode;
  if (status === 429 || type === 'TooManyRequestsException' || type === 'EC2ThrottledException') return { kind: 'throttled', type, message: err.message ?? type };
  // A service scaled to zero answers 502/503/504 until its first worker is up: wait like for throttling.
  if (unavailableIsThrottled && (status === 502 || status === 503 || status === 504)) return { kind: 'throttled', type, message: `${err.message ?? type} (HTTP ${status}: no worker up yet)` };
  if (type === 'RequestEntityTooLargeException' || type === 'InvalidRequestContentException' || type === 'ResourceNotFoundException') {
    return { kind: 'fatal', type, message: err.message ?? type };
  }
  // Connection failures and 5xx from the Lambda service: the attempt may not have run; retry.
  return { kind: 'crash', type, message: err.message ?? String(e) };
}

export interface LambdaInvokerOptions {
  readonly functionName: string;
  /** Treat HTTP 502/503/504 from the endpoint as throttling (backed off, not counted as an attempt): for a worker
   * service that scales to zero behind a load balancer, which answers so while its first task starts. */
  readonly unavailableIsThrottled?: boolean;
  readonly client?: LambdaClient;
  readonly clientConfig?: LambdaClientConfig;
}

export class LambdaInvoker implements TaskInvoker {
  private readonly client: LambdaClient;
  private readonly owned: boolean;

  constructor(private readonly options: LambdaInvokerOptions) {
    this.owned = !options.client;
    // The scheduler owns retries: the SDK must not retry an invocation on its own (that would double-run tasks
    // behind the coordinator's back and hide throttling from its back-off).
    this.client = options.client ?? new LambdaClient({ maxAttempts: 1, ...options.clientConfig });
  }

  async invoke(request: ExecutorRequest, options: InvokeOptions = {}): Promise<ExecutorResponse> {
    let out;
    try {
      out = await this.client.send(
        new InvokeCommand({ FunctionName: this.options.functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(request)) }),
        { abortSignal: options.signal },
      );
    } catch (e) {
      if (options.signal?.aborted) throw new TaskFailure('timeout', 'Coordinator.Abandoned', 'the coordinator stopped waiting for this attempt');
      const { kind, type, message } = sdkErrorKind(e, this.options.unavailableIsThrottled);
      throw new TaskFailure(kind, type, `invoking ${this.options.functionName}: ${message}`);
    }
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
    if (out.FunctionError) {
      let body: LambdaErrorBody = {};
      try {
        body = JSON.parse(text) as LambdaErrorBody;
      } catch {
        body = { errorType: out.FunctionError, errorMessage: text };
      }
      const type = body.errorType ?? out.FunctionError;
      throw new TaskFailure(classifyErrorType(type), type, body.errorMessage ?? type);
    }
    try {
      return parseExecutorResponse(text);
    } catch (e) {
      throw new TaskFailure('fatal', 'InvalidResponse', `executor ${this.options.functionName} answered with ${(e as Error).message}`);
    }
  }

  close(): void {
    if (this.owned) this.client.destroy();
  }
}

/**
 * Runs attempts in this process through an executor function (core/runtime/task-runner.ts `runTask`): the
 * request and response still go through JSON and validation, so what works here works over Lambda.
 */
export class InProcessInvoker implements TaskInvoker {
  constructor(private readonly execute: (request: unknown) => Promise<unknown>) {}

  async invoke(request: ExecutorRequest, options: InvokeOptions = {}): Promise<ExecutorResponse> {
    if (options.signal?.aborted) throw new TaskFailure('timeout', 'Coordinator.Abandoned', 'the coordinator stopped waiting for this attempt');
    let answer: unknown;
    try {
      answer = await this.execute(JSON.parse(JSON.stringify(request)) as unknown);
    } catch (e) {
      const err = e as Error;
      const type = err?.name ?? 'Error';
      throw new TaskFailure(classifyErrorType(type), type, err?.message ?? String(e));
    }
    try {
      return parseExecutorResponse(JSON.stringify(answer));
    } catch (e) {
      throw new TaskFailure('fatal', 'InvalidResponse', `executor answered with ${(e as Error).message}`);
    }
  }
}
