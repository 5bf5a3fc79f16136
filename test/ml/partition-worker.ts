// A stand-in executor for the training tasks: a child process that receives one partition once and then answers
// each (coefficients, setup) with that partition's { loss, gradient, count }. Used by logistic-workers.test.ts.
import type { LogisticPartition, LogisticSetup } from '../../core/ml/classification/logistic-loss.ts';
import { logisticLossAndGradient } from '../../core/ml/classification/logistic-loss.ts';

let partition: LogisticPartition | null = null;
process.on('message', (m: { partition?: LogisticPartition; id?: number; coefficients?: Float64Array; setup?: LogisticSetup }) => {
  if (m.partition) {
    partition = m.partition;
    process.send!({ ready: true });
    return;
  }
  process.send!({ id: m.id, result: logisticLossAndGradient(partition!, m.coefficients!, m.setup!) });
});
