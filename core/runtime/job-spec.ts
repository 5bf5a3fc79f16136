// What a client submits to the coordinator: SQL over named tables (files by URI) or a serialized logical plan,
// plus options. `compileJob` turns it into the stage graph the scheduler runs, with the same session, optimizer
// and planner as `Session.local()`, reading Parquet footers and object sizes from the store for its estimates.
// A job with `fit` trains a model over its plan's output instead of returning it (./logistic-fit.ts): the plan
// is compiled as usual (its output is the training input) and the estimator's parameters are checked here.
import { z } from 'zod';
import type { LogicalPlan } from '../plan/logical-plan.ts';
import { deserializePlan } from '../plan/serialize.ts';
import type { StageGraph } from '../physical/stages.ts';
import { Session } from '../sdk/session.ts';
import { AnalysisError } from '../types/errors.ts';
import { issuePath } from '../types/validate.ts';
import { type JobSchedulerOptions, jobSchedulerOptionsSchema } from './job-scheduler-options.ts';
import { compileRddJob } from '../rdd/remote-stages.ts';
import { LogisticRegression } from '../ml/classification/logistic-regression.ts';
import { type FitSpec, fitSpecSchema } from './fit-spec.ts';

export type { FitSpec };
import { physicalSchema } from '../physical/physical-plan.ts';

export interface TableRef {
  /** One or more files or folders (`s3://…` or local paths). */
  readonly path: string | readonly string[];
  readonly format?: 'parquet' | 'csv' | 'json';
}

export interface JobOptions {
  /** Input bytes per scan task. */
  readonly targetBytesPerTask?: number;
  /** Most partitions of one shuffle. */
  readonly maxPartitions?: number;
  /** Joins whose smaller side is estimated at most this many bytes are broadcast; 0 never broadcasts. */
  readonly broadcastThreshold?: number;
  /** Where the result is written (a folder URI); `<jobRoot>/result` by default. */
  readonly resultUri?: string;
  readonly scheduler?: JobSchedulerOptions;
  /** Model stages: `gpu` runs them on GPU container workers; `partitions` sets their task count; models above `largeModelBytes` go to GPU containers. */
  readonly inference?: { readonly gpu?: boolean; readonly partitions?: number; readonly largeModelBytes?: number };
}

export interface JobSpec {
  readonly sql?: string;
  /** A logical plan from `serializePlan` (the SDK's DataFrames); scans must read files, not in-memory tables. */
  readonly plan?: unknown;
  /** An RDD action: lineage and per-partition steps (core/rdd/remote-stages.ts, JSON form). */
  readonly rdd?: unknown;
  readonly tables?: Readonly<Record<string, TableRef>>;
  readonly options?: JobOptions;
  readonly fit?: FitSpec;
}

const nat = z.number().int().nonnegative();


export const jobSpecSchema = z
  .object({
    sql: z.string().min(1).optional(),
    plan: z.unknown().optional(),
    // Checked by its own schema when compiled (core/rdd/remote-stages.ts), naming the field in the lineage.
    rdd: z.unknown().optional(),
    tables: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'table names are letters, digits and underscores'),
        z.object({ path: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]), format: z.enum(['parquet', 'csv', 'json']).optional() }),
      )
      .optional(),
    options: z
      .object({
        targetBytesPerTask: z.number().int().positive().optional(),
        maxPartitions: z.number().int().positive().optional(),
        broadcastThreshold: nat.optional(),
        resultUri: z.string().min(1).optional(),
        inference: z
          .object({ gpu: z.boolean().optional(), partitions: z.number().int().positive().optional(), largeModelBytes: nat.optional() })
          .strict()
          .optional(),
        scheduler: jobSchedulerOptionsSchema.optional(),
      })
      .strict()
      .optional(),
    fit: fitSpecSchema.optional(),
  })
  .strict()
  .refine((s) => [s.sql, s.plan, s.rdd].filter((x) => x !== undefined).length === 1, { message: 'a job has exactly one of `sql`, `plan` and `rdd`' })
  .refine((s) => s.fit === undefined || s.rdd === undefined, { message: 'a fit job trains over `sql` or `plan`, not `rdd`', path: ['fit'] })
  .refine((s) => s.fit === undefined || s.options?.resultUri === undefined, { message: 'a fit job returns its model; it takes no resultUri', path: ['options', 'resultUri'] });

/** A job spec from untrusted JSON, with an error that names the offending field. */
export function parseJobSpec(input: unknown): JobSpec {
  const r = jobSpecSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issuePath(issue.path);
    throw new AnalysisError(`invalid job${path ? ` at ${path}` : ''}: ${issue.message}`);
  }
  return r.data as JobSpec;
}

/** The job's logical plan, as the session resolves it (tables registered, SQL parsed and analyzed). */
export async function jobPlan(spec: JobSpec, session: Session): Promise<LogicalPlan> {
  for (const [name, table] of Object.entries(spec.tables ?? {})) {
    const paths = typeof table.path === 'string' ? [table.path] : [...table.path];
    const reader = session.read;
    const df = table.format === 'csv' ? await reader.csv(...paths) : table.format === 'json' ? await reader.json(...paths) : await reader.parquet(...paths);
    session.registerTable(name, df);
  }
  if (spec.sql !== undefined) return session.sql(spec.sql).plan;
  return deserializePlan(spec.plan);
}

/** Compiles a job into its stage graph. */
export async function compileJob(spec: JobSpec): Promise<StageGraph> {
  const o = spec.options ?? {};
  if (spec.rdd !== undefined) return compileRddJob(spec.rdd, o.scheduler?.taskTimeoutMs !== undefined ? { taskTimeoutMs: o.scheduler.taskTimeoutMs } : {});
  const session = Session.local({
    planning: 'stages',
    ...(o.broadcastThreshold !== undefined ? { broadcastThreshold: o.broadcastThreshold } : {}),
    // Only the options given: an undefined would override the planner's default.
    stages: {
      ...(o.targetBytesPerTask !== undefined ? { targetBytesPerTask: o.targetBytesPerTask } : {}),
      ...(o.maxPartitions !== undefined ? { maxPartitions: o.maxPartitions } : {}),
    },
    ...(o.inference ? { inference: o.inference } : {}),
  });
  const plan = await jobPlan(spec, session);
  const graph = await session.stageGraph(plan);
  if (spec.fit) fitEstimator(spec.fit).transformSchema(physicalSchema(graph.stages[graph.stages.length - 1]!.plan));
  return graph;
}

/** The estimator a fit job trains (its parameters checked by the estimator). */
export function fitEstimator(fit: FitSpec): LogisticRegression {
  switch (fit.kind) {
    case 'logistic_regression':
      return new LogisticRegression(fit.params, fit.uid);
  }
}
