// The distributed shape for real: each partition lives in its own process (sent there once), every
// L-BFGS evaluation sends only the coefficients and gets back { loss, gradient, count } per partition — and the
// model equals the one trained in-process.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { Session } from '../../core/sdk/index.ts';
import { LogisticRegression, type PartitionGradient, type PartitionTaskRunner, VectorAssembler } from '../../core/ml/index.ts';
import { threeClassRows } from './helpers.ts';

const workers: ChildProcess[] = [];
afterAll(() => {
  for (const w of workers) w.kill();
});

test('training with partitions held by other processes equals in-process training', async () => {
  const session = Session.local();
  const df = await new VectorAssembler({ inputCols: ['x1', 'x2'] }).transform(session.createDataFrame(threeClassRows(240, 4)));
  const lr = new LogisticRegression({ regParam: 0.01, maxIter: 200, tol: 1e-10, numPartitions: 3 });
  const partitions = await lr.partitions(df);
  expect(partitions).toHaveLength(3);
  const script = fileURLToPath(new URL('./partition-worker.ts', import.meta.url));
  await Promise.all(
    partitions.map((p) => {
      // 'advanced' serialization (structured clone) carries the typed arrays as they are.
      const w = fork(script, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      workers.push(w);
      return new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
        w.send({ partition: p });
      });
    }),
  );
  let next = 0;
  let messages = 0;
  const ask = (w: ChildProcess, coefficients: Float64Array, setup: unknown) =>
    new Promise<PartitionGradient>((resolve, reject) => {
      const id = next++;
      const onMessage = (m: { id: number; result: PartitionGradient }) => {
        if (m.id !== id) return;
        w.off('message', onMessage as never);
        w.off('error', reject);
        resolve(m.result);
      };
      w.on('message', onMessage as never);
      w.once('error', reject);
      messages++;
      w.send({ id, coefficients, setup });
    });
  // The runner ignores the partitions it is handed: the workers already hold them.
  const remote: PartitionTaskRunner = (_parts, coefficients, setup) => Promise.all(workers.map((w) => ask(w, coefficients, setup)));
  const distributed = await lr.fitPartitions(partitions, remote);
  const local = await lr.fitPartitions(partitions);
  // One message per partition per evaluation (L-BFGS evaluates at least once per iteration).
  expect(messages % 3).toBe(0);
  expect(messages / 3).toBeGreaterThanOrEqual(distributed.summary!.totalIterations);
  expect([...distributed.interceptVector]).toEqual([...local.interceptVector]);
  distributed.coefficientMatrix.forEach((row, k) => expect([...row]).toEqual([...local.coefficientMatrix[k]!]));
}, 120_000);
