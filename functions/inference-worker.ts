// The inference worker: runs the tasks of model stages (worker kinds 'container' and 'container-gpu') with the
// executor's protocol (core/runtime/protocol.ts), keeping loaded models across tasks and using the GPU where one
// is present (core/runtime/inference-worker.ts). On AWS it runs in the container image of infra/inference/
// (GPU instances); locally it is a second function of the local stack's Lambda-compatible endpoint.
// Fault injection is the executor's (SQUALL_ALLOW_FAULTS=1), so crash tests cover this worker too.
import { ObjectStores } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import { type InferenceWorkerConfig, inferenceConfigFromEnv, runInferenceTask } from '../core/runtime/inference-worker.ts';
import { type ExecutorResponse, parseExecutorRequest } from '../core/runtime/protocol.ts';
import { runCombine } from '../core/runtime/combine-task.ts';
import { injectFault } from './executor.ts';

let stores: ObjectStores | undefined;
let config: InferenceWorkerConfig | undefined;

export async function handler(event: unknown, _context?: unknown): Promise<ExecutorResponse> {
  const request = parseExecutorRequest(event);
  if (!stores) {
    stores = new ObjectStores();
    setS3Store(stores.s3);
  }
  config ??= inferenceConfigFromEnv();
  if (request.mode === 'combine') return runCombine(request, stores);
  return runInferenceTask(request, { stores, onTask: (task) => injectFault(request, task) }, config);
}
