// A job's own scheduler options (retries, concurrency, timeouts, speculation), as a client submits them. They
// are kept in the job record, so a coordinator that resumes the job (after the API started it, after a crash or
// at its time limit) runs it with them rather than with its defaults.
import { z } from 'zod';
import type { SchedulerOverrides } from './scheduler.ts';

export type JobSchedulerOptions = Omit<SchedulerOverrides, 'faults'>;

const nat = z.number().int().nonnegative();

export const jobSchedulerOptionsSchema = z
  .object({
    concurrency: z.number().int().positive().optional(),
    maxAttempts: z.number().int().positive().optional(),
    retryBaseMs: nat.optional(),
    retryMaxMs: nat.optional(),
    maxThrottles: nat.optional(),
    taskTimeoutMs: z.number().int().positive().optional(),
    speculation: z
      .object({ enabled: z.boolean(), quantile: z.number().min(0).max(1), multiplier: z.number().min(1), minMs: nat })
      .partial()
      .optional(),
    inlineResultBytes: nat.optional(),
    samplePerPartition: z.number().int().positive().optional(),
    cleanupShuffle: z.boolean().optional(),
  })
  .strict();

/** The coordinator's own overrides (tests' fault injection, operators) under the job's options, which win. */
export function withJobOptions(base: SchedulerOverrides | undefined, job: JobSchedulerOptions | undefined): SchedulerOverrides | undefined {
  if (!job) return base;
  return { ...base, ...job, speculation: { ...base?.speculation, ...job.speculation } };
}
