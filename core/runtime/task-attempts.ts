// The attempts of one task until one succeeds: the first, retries after failures (jittered exponential
// back-off, at most `maxAttempts`), throttled attempts (back-off without using up attempts; the shared limit is
// lowered, multiplicative decrease, and raised again on success, additive increase), and at most one speculative
// duplicate of a straggler. The scheduler (./scheduler.ts) supplies what an attempt is and hears what happened
// through `AttemptHost`; this module only decides when to launch, retry, give up or stop.
import type { JobStatus } from './job-store.ts';
import type { ExecutorRequest, ExecutorResponse } from './protocol.ts';
import { type TaskInvoker, TaskFailure } from './invoker.ts';
import { type Semaphore, sleep } from './semaphore.ts';
import { SquallError, type SquallErrorType, isSquallErrorType } from '../types/errors.ts';

export interface SpeculationOptions {
  readonly enabled: boolean;
  /** Fraction of a stage's tasks that must be done before stragglers are duplicated. */
  readonly quantile: number;
  /** A task is a straggler after this many times the median duration of the finished ones. */
  readonly multiplier: number;
  /** …and never before this many milliseconds. */
  readonly minMs: number;
}

export interface AttemptPolicy {
  /** Task attempts running at once over the whole job (what additive increase returns to). */
  readonly concurrency: number;
  /** Attempts per task before the job fails. */
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Throttled attempts (not counted in maxAttempts) per task before the job fails. */
  readonly maxThrottles: number;
  /** The coordinator stops waiting for an attempt after this long (the executor's own limit should be lower). */
  readonly taskTimeoutMs: number;
  /** Speculation; null for attempts that are never duplicated (sample passes, combiners). */
  readonly speculation: SpeculationOptions | null;
}

/** A job failed; the message names the stage, task and cause. */
export class JobFailedError extends SquallError {
  override readonly name = 'JobFailedError';
  constructor(
    message: string,
    options?: ErrorOptions & {
      /** The class of the error that failed the job (`DataError`, `AnalysisError`, ...), as the executor reported it. */
      readonly errorType?: string;
    },
  ) {
    super(message, options);
    this.errorType = options?.errorType;
  }
  readonly errorType: string | undefined;
}

/** The Squall error class that failed a job (what its status records for clients), if it is one. */
function jobErrorType(e: unknown): SquallErrorType | undefined {
  const type = e instanceof JobFailedError ? e.errorType : e instanceof Error ? e.name : undefined;
  return type !== undefined && isSquallErrorType(type) ? type : undefined;
}

/**
 * Marks `status` failed by `e` (its message, and the error class clients raise) and gives the message and the
 * error the run ends with. Every kind of job run fails this way.
 */
export function recordJobFailure(status: JobStatus, jobId: string, e: unknown): { message: string; error: JobFailedError } {
  const message = e instanceof Error ? e.message : String(e);
  status.state = 'failed';
  status.error = message;
  const errorType = jobErrorType(e);
  if (errorType) status.errorType = errorType;
  return { message, error: e instanceof JobFailedError ? e : new JobFailedError(`job ${jobId} failed: ${message}`, { cause: e }) };
}

export interface AttemptHost {
  /** `stage S task T`, for messages. */
  readonly label: string;
  readonly invoker: TaskInvoker;
  /** Shared by every task of the job. */
  readonly semaphore: Semaphore;
  /** True once the job is stopping (cancelled, failed elsewhere, suspended): no new attempts. */
  stopping(): boolean;
  /** A new attempt number and its request. */
  prepare(): Promise<{ attempt: number; request: ExecutorRequest }>;
  started(attempt: number, speculative: boolean): void;
  /** Every attempt that ran, whatever came of it. */
  ended(attempt: number, elapsedMs: number): void;
  succeeded(attempt: number, response: ExecutorResponse, elapsedMs: number): void;
  /** A second attempt finished after the task was settled: its output is never committed. */
  duplicate(response: ExecutorResponse): void;
  failed(attempt: number, failure: TaskFailure, retryInMs: number | null): void;
  throttled(): void;
  retried(): void;
  speculated(): void;
  /** Before a retry: recompute lost inputs; a positive count retries at once. */
  recoverInputs(): Promise<number>;
  /** Durations of the finished tasks of the stage, and how many tasks it has (for speculation). */
  siblings(): { readonly durations: readonly number[]; readonly tasks: number };
}

function asFailure(e: unknown): TaskFailure {
  if (e instanceof TaskFailure) return e;
  const err = e as Error;
  return new TaskFailure('error', err?.name ?? 'Error', err?.message ?? String(e));
}

export function backoff(policy: Pick<AttemptPolicy, 'retryBaseMs' | 'retryMaxMs'>, n: number): number {
  const cap = Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** (n - 1));
  // Full jitter, as AWS recommends, so retried tasks do not hit a throttled service in lockstep.
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

/** Runs attempts until one succeeds (its response), the job stops (null), or the task fails the job (rejects). */
export function runAttempts(host: AttemptHost, policy: AttemptPolicy): Promise<ExecutorResponse | null> {
  const sem = host.semaphore;
  return new Promise<ExecutorResponse | null>((resolve, reject) => {
    let settled = false;
    let failures = 0;
    let throttles = 0;
    let speculated = false;
    const running = new Map<number, { started: number; abort: AbortController }>();
    let speculationTimer: ReturnType<typeof setInterval> | null = null;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (speculationTimer) clearInterval(speculationTimer);
      for (const r of running.values()) r.abort.abort();
      fn();
    };
    const launch = async (speculative: boolean): Promise<void> => {
      const release = await sem.acquire();
      if (settled || host.stopping()) {
        release();
        if (!settled && running.size === 0) settle(() => resolve(null));
        return;
      }
      let attempt: number;
      let request: ExecutorRequest;
      try {
        ({ attempt, request } = await host.prepare());
      } catch (e) {
        release();
        settle(() => reject(e));
        return;
      }
      const abort = new AbortController();
      const started = Date.now();
      running.set(attempt, { started, abort });
      host.started(attempt, speculative);
      const timer = setTimeout(() => abort.abort(), policy.taskTimeoutMs);
      let outcome: { ok: true; response: ExecutorResponse } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, response: await host.invoker.invoke(request, { signal: abort.signal }) };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        clearTimeout(timer);
        release();
        running.delete(attempt);
        host.ended(attempt, Date.now() - started);
      }
      if (outcome.ok) {
        // Additive increase back towards the configured concurrency after throttling lowered it.
        if (sem.current < policy.concurrency) sem.setLimit(sem.current + 1 / Math.max(1, sem.current));
        if (settled) {
          host.duplicate(outcome.response);
          return;
        }
        host.succeeded(attempt, outcome.response, Date.now() - started);
        const r = outcome.response;
        settle(() => resolve(r));
        return;
      }
      if (settled) return;
      const failure = asFailure(outcome.error);
      if (failure.kind === 'fatal') {
        host.failed(attempt, failure, null);
        settle(() => reject(new JobFailedError(`${host.label} cannot run: ${failure.message}`, { errorType: failure.errorType })));
        return;
      }
      if (running.size > 0) {
        // Another attempt of this task is still running; let it decide.
        host.failed(attempt, failure, null);
        return;
      }
      let delay: number;
      if (failure.kind === 'throttled') {
        throttles++;
        host.throttled();
        // Multiplicative decrease: the account (or function) allows fewer concurrent invocations than we ran.
        sem.setLimit(Math.min(sem.current, (sem.active + 1) * 0.7));
        if (throttles > policy.maxThrottles) {
          settle(() => reject(new JobFailedError(`${host.label} was throttled ${throttles} times: ${failure.message}`)));
          return;
        }
        delay = backoff(policy, throttles);
      } else {
        failures++;
        if (failures >= policy.maxAttempts) {
          host.failed(attempt, failure, null);
          settle(() => reject(new JobFailedError(`${host.label} failed after ${failures} attempt${failures === 1 ? '' : 's'}: ${failure.message}`, { errorType: failure.errorType })));
          return;
        }
        host.retried();
        delay = backoff(policy, failures);
        // A lost input is recomputed before the retry (the retry then reads the new manifest).
        try {
          if ((await host.recoverInputs()) > 0) delay = 0;
        } catch (e) {
          settle(() => reject(e));
          return;
        }
      }
      host.failed(attempt, failure, delay);
      await sleep(delay);
      if (!settled) void launch(false);
    };
    void launch(false);
    const spec = policy.speculation;
    if (spec?.enabled) {
      speculationTimer = setInterval(() => {
        if (settled || speculated || running.size !== 1) return;
        const { durations, tasks } = host.siblings();
        if (durations.length < Math.max(1, Math.ceil(spec.quantile * tasks))) return;
        const median = [...durations].sort((a, b) => a - b)[Math.floor(durations.length / 2)]!;
        const [only] = running.values();
        if (Date.now() - only!.started > Math.max(spec.minMs, spec.multiplier * median)) {
          speculated = true;
          host.speculated();
          void launch(true);
        }
      }, Math.max(50, Math.min(500, spec.minMs / 4)));
      speculationTimer.unref?.();
    }
  });
}
