// The executor's side of the combining step: read a group of a stage's committed map outputs and write them as
// one object in the same layout (core/shuffle/combiner.ts), under this combiner attempt's own key. The
// coordinator commits one attempt per combiner into the stage's 'combined' manifest; reducers then read C
// combined objects instead of M map objects.
import { combineMapOutputs } from '../shuffle/combiner.ts';
import { loadManifestAt } from '../shuffle/manifest.ts';
import { ExecutionError } from '../types/errors.ts';
import { EXECUTOR_PROTOCOL_VERSION, type ExecutorRequest, type ExecutorResponse } from './protocol.ts';
import type { StoreResolver } from './task-runner.ts';

export async function runCombine(request: ExecutorRequest, stores: StoreResolver): Promise<ExecutorResponse> {
  const c = request.combine;
  if (request.mode !== 'combine' || !c) throw new ExecutionError('internal: runCombine needs a combine request');
  const t0 = performance.now();
  const storeFor = typeof stores === 'function' ? stores : (uri: string) => stores.for(uri);
  const where = `job ${c.job} stage ${c.stage} combiner ${c.combiner} attempt ${c.attempt}`;
  try {
    const manifest = await loadManifestAt(storeFor(c.manifest), c.manifest);
    const byTask = new Map(manifest.outputs.map((o) => [o.task, o]));
    const inputs = c.tasks.map((t) => {
      const o = byTask.get(t);
      if (!o) throw new ExecutionError(`map task ${t} is not committed in ${c.manifest}`);
      return o;
    });
    const out = await combineMapOutputs(storeFor(request.shuffleRoot), inputs, {
      shuffleRoot: request.shuffleRoot,
      stage: c.stage,
      combiner: c.combiner,
      attempt: c.attempt,
    });
    const read = inputs.reduce((n, o) => n + o.partitions.reduce((m, s) => m + s.length, 0), 0);
    return {
      version: EXECUTOR_PROTOCOL_VERSION,
      job: c.job,
      stage: c.stage,
      task: c.combiner,
      attempt: c.attempt,
      output: { kind: 'shuffle', mapOutput: out },
      keys: [out.uri],
      metrics: { rows: out.rows, bytesRead: read, bytesWritten: out.bytes, durationMs: performance.now() - t0, peakMemoryBytes: process.memoryUsage().rss },
    };
  } catch (e) {
    throw new ExecutionError(`${where}: ${(e as Error).message}`, { cause: e });
  }
}
