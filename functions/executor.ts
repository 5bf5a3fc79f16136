// The executor Lambda: runs one task of one stage (core/runtime/task-runner.ts) and answers with an
// ExecutorResponse (core/runtime/protocol.ts). Everything it needs comes with the request or from the
// environment (SQUALL_S3_ENDPOINT, AWS_REGION, credentials…: core/io/object-store/aws-config.ts), so the same
// handler runs on AWS and in the local stack. Clients live at module scope and are reused by warm invocations.
//
// Fault injection (for tests of the coordinator's retries) is honoured only with SQUALL_ALLOW_FAULTS=1:
// 'throw' fails the invocation, 'crash' exits the process (the environment dies, as on an out-of-memory kill),
// 'hang' never answers (the invocation hits its timeout).
import { ObjectStores } from '../core/io/object-store.ts';
import { setS3Store } from '../core/io/s3-file-store.ts';
import type { TaskDescription } from '../core/physical/task.ts';
import { type ExecutorRequest, type ExecutorResponse, type FaultPlan, parseExecutorRequest } from '../core/runtime/protocol.ts';
import { runCombine } from '../core/runtime/combine-task.ts';
import { runLogisticTask } from '../core/runtime/logistic-task.ts';
import { runTask } from '../core/runtime/task-runner.ts';

let stores: ObjectStores | undefined;

/** The stores of this environment, made on the first invocation; s3:// file reads go through the same client. */
function environmentStores(): ObjectStores {
  if (!stores) {
    stores = new ObjectStores();
    setS3Store(stores.s3);
  }
  return stores;
}

/** The first fault of `faults` that applies to this attempt of this task. */
export function matchingFault(faults: readonly FaultPlan[] | undefined, task: TaskDescription): FaultPlan | null {
  for (const f of faults ?? []) {
    if (!f.attempts.includes(task.attempt)) continue;
    if (f.stage !== undefined && f.stage !== task.stage) continue;
    if (f.tasks !== undefined && !f.tasks.includes(task.task)) continue;
    return f;
  }
  return null;
}

/** Applies the request's fault plan to this attempt (tests; only with SQUALL_ALLOW_FAULTS=1). Shared with the inference worker. */
export async function injectFault(request: ExecutorRequest, task: TaskDescription): Promise<void> {
  if (process.env.SQUALL_ALLOW_FAULTS !== '1') return;
  const fault = matchingFault(request.faults, task);
  if (!fault) return;
  const what = `injected fault '${fault.kind}' at job ${task.job} stage ${task.stage} task ${task.task} attempt ${task.attempt}`;
  switch (fault.kind) {
    case 'throw':
      throw new Error(what);
    case 'crash':
      process.stderr.write(`${what}: exiting\n`);
      process.exit(1);
    // falls through (never reached)
    case 'hang':
      process.stderr.write(`${what}: hanging\n`);
      await new Promise<never>(() => {});
  }
}

export async function handler(event: unknown, _context?: unknown): Promise<ExecutorResponse> {
  const request = parseExecutorRequest(event);
  switch (request.mode) {
    case 'combine':
      return runCombine(request, environmentStores());
    case 'logistic':
      // Training tasks of a logistic regression fit (core/runtime/logistic-fit.ts); the decoded partitions stay
      // in this process's cache for the next iterations.
      return runLogisticTask(request, environmentStores());
    case 'run':
    case 'sample':
      return runTask(request, { stores: environmentStores(), onTask: (task) => injectFault(request, task) });
  }
}
