// Bounded retries with exponential backoff and full jitter for calls to S3: throttling (503 SlowDown, 429),
// server errors (5xx) and network failures are retried; everything else fails at once.

export interface RetryPolicy {
  /** Attempts in all, including the first. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 5_000 };

const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

export function httpStatusOf(e: unknown): number | undefined {
  return (e as ErrorLike | null)?.$metadata?.httpStatusCode;
}

/** Whether a failed S3 call is worth another attempt. */
export function isRetryable(e: unknown): boolean {
  for (let err = e as ErrorLike | undefined, depth = 0; err && depth < 4; err = err.cause as ErrorLike, depth++) {
    if (typeof err !== 'object') return false;
    const status = err.$metadata?.httpStatusCode;
    if (status === 429 || (status !== undefined && status >= 500)) return true;
    if (err.name && RETRYABLE_CODES.has(err.name)) return true;
    if (err.code && (RETRYABLE_CODES.has(err.code) || NETWORK_CODES.has(err.code))) return true;
    if (err.$retryable) return true;
    if (/socket hang up|premature close|aborted/i.test(err.message ?? '')) return true;
  }
  return false;
}

export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

export interface RetryObserver {
  (info: { attempt: number; error: unknown; delayMs: number }): void;
}

/** Runs `fn` until it succeeds, fails with a non-retryable error, or has used `policy.maxAttempts`. */
export async function withRetries<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>, onRetry?: RetryObserver): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.maxAttempts || !isRetryable(error)) throw error;
      const delayMs = backoffDelay(policy, attempt);
      onRetry?.({ attempt, error, delayMs });
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
