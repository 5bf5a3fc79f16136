// LogisticRegression.fit in a remote session: one fit job (core/runtime/logistic-fit.ts) over the DataFrame's
// plan, narrowed to the columns training reads. The coordinator drives the training and executors compute over
// the partitions where they live; what comes back here is the model (one JSON row), never the rows.
import { substituteS3Cached } from '../../cache/remote-cache.ts';
import type { DataFrame } from '../../sdk/dataframe.ts';
import type { RemoteRunner } from '../../sdk/remote.ts';
import type { JobSpec } from '../../runtime/job-spec.ts';
import { ExecutionError } from '../../types/errors.ts';
import { FIT_RESULT_COLUMN, decodeLogisticFit } from './logistic-fit-result.ts';
import type { LogisticRegression } from './logistic-regression.ts';
import type { LogisticFit } from './logistic-training.ts';

export async function fitRemotely(estimator: LogisticRegression, df: DataFrame, runner: RemoteRunner): Promise<LogisticFit> {
  const weightCol = estimator.get('weightCol');
  const input = df.select(estimator.get('featuresCol'), estimator.get('labelCol'), ...(weightCol ? [weightCol] : []));
  // Persisted (df.cache()) subtrees are read from their S3 cache entries, as any action of this session does.
  const plan = await substituteS3Cached(df.session, input.plan);
  const spec: JobSpec = {
    ...runner.jobSpec(plan, df.session.sqlSource(plan)),
    fit: { kind: 'logistic_regression', uid: estimator.uid, params: estimator.paramMap() },
  };
  const info = await runner.run(spec);
  const page = await runner.client.resultPage(info.jobId, 0, 1);
  const text = page.rows[0]?.[FIT_RESULT_COLUMN];
  if (typeof text !== 'string') throw new ExecutionError(`job ${info.jobId} succeeded without a model in its result (column '${FIT_RESULT_COLUMN}')`);
  return decodeLogisticFit(text, `job ${info.jobId}`);
}
