// The `fit` part of a job spec (./job-spec.ts): which estimator to train over the job's input, with which
// parameters. Its own module, with no engine imports, because the job record (./job-store.ts) stores it too.
import { z } from 'zod';
import type { LogisticRegressionParams } from '../ml/classification/logistic-regression.ts';

const nat = z.number().int().nonnegative();

/** Train a model over the job's input (its `plan` or `sql`) on the executors; the result is the fitted model. */
export interface FitSpec {
  readonly kind: 'logistic_regression';
  /** The estimator's uid: the model gets it, and errors name it as an in-process fit would. */
  readonly uid: string;
  readonly params: Partial<LogisticRegressionParams>;
}

const column = z.string().min(1);
// Every LogisticRegression parameter, typed; ranges are checked again by the estimator's own parameter specs.
export const fitSpecSchema = z
  .object({
    kind: z.literal('logistic_regression'),
    uid: z.string().min(1).max(200),
    params: z
      .object({
        featuresCol: column,
        labelCol: column,
        weightCol: z.string(),
        predictionCol: z.string(),
        rawPredictionCol: z.string(),
        probabilityCol: z.string(),
        maxIter: nat,
        regParam: z.number().nonnegative(),
        tol: z.number().nonnegative(),
        fitIntercept: z.boolean(),
        standardization: z.boolean(),
        family: z.enum(['auto', 'binomial', 'multinomial']),
        threshold: z.number().min(0).max(1),
        numPartitions: nat,
      })
      .partial()
      .strict(),
  })
  .strict();
