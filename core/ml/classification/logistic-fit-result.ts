// A fitted logistic regression as a fit job returns it: one row, one JSON column, so it travels through the
// job's ordinary result (a Parquet part and the API's result pages). JSON numbers print the shortest text that
// reads back as the same double, so coefficients arrive exactly as the coordinator computed them.
import { z } from 'zod';
import { ExecutionError } from '../../types/errors.ts';
import type { LogisticFit } from './logistic-training.ts';

/** The result column of a fit job. */
export const FIT_RESULT_COLUMN = 'model';

const FIT_RESULT_VERSION = 1;

const fitResultSchema = z
  .object({
    version: z.literal(FIT_RESULT_VERSION),
    numClasses: z.number().int().min(2),
    numFeatures: z.number().int().positive(),
    multinomial: z.boolean(),
    coefficients: z.array(z.number()),
    intercepts: z.array(z.number()),
    summary: z.object({
      objectiveHistory: z.array(z.number()),
      totalIterations: z.number().int().nonnegative(),
      converged: z.boolean(),
      numPartitions: z.number().int().positive(),
    }),
  })
  .strict();

export function encodeLogisticFit(fit: LogisticFit): string {
  const { state, summary } = fit;
  return JSON.stringify({
    version: FIT_RESULT_VERSION,
    numClasses: state.numClasses,
    numFeatures: state.numFeatures,
    multinomial: state.multinomial,
    coefficients: Array.from(state.coefficients),
    intercepts: Array.from(state.intercepts),
    summary,
  });
}

/** The fit a job returned; `where` (the job) names it in errors. */
export function decodeLogisticFit(text: string, where: string): LogisticFit {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ExecutionError(`${where}: the fitted model is not JSON: ${(e as Error).message}`);
  }
  const r = fitResultSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ExecutionError(`${where}: the fitted model is invalid at '${issue.path.join('.')}': ${issue.message}`);
  }
  const m = r.data;
  const rows = m.multinomial ? m.numClasses : 1;
  if (m.coefficients.length !== rows * m.numFeatures || m.intercepts.length !== rows) {
    throw new ExecutionError(`${where}: the fitted model has ${m.coefficients.length} coefficients and ${m.intercepts.length} intercepts; expected ${rows * m.numFeatures} and ${rows}`);
  }
  return {
    state: { numClasses: m.numClasses, numFeatures: m.numFeatures, multinomial: m.multinomial, coefficients: Float64Array.from(m.coefficients), intercepts: Float64Array.from(m.intercepts) },
    summary: m.summary,
  };
}
