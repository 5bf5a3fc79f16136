// A process-wide pool of worker threads that run stage tasks (./thread-task.ts) for the parallel local runner:
// Spark's local[*], where every core runs a task (threads: core/threads/thread-pool.ts). When a thread cannot
// start (a runtime without worker threads or without the TypeScript loader) tasks run on the calling thread
// instead: slower, same results.
import * as os from 'node:os';
import { ThreadPool } from '../threads/thread-pool.ts';
import { AnalysisError, DataError, ExecutionError, UnsupportedError } from '../types/errors.ts';
import { type ThreadTaskError, type ThreadTaskRequest, type ThreadTaskResult, runThreadTask } from './thread-task.ts';

export interface TaskThreadPool {
  /** Worker threads; tasks beyond this many wait. */
  readonly threads: number;
  /** Tasks finished on worker threads (not those that fell back to the calling thread). */
  readonly tasksOnThreads: number;
  run(request: ThreadTaskRequest): Promise<ThreadTaskResult>;
}

const ERRORS: Record<string, new (message: string) => Error> = {
  AnalysisError,
  DataError,
  UnsupportedError,
  ExecutionError,
};

/** The error a task raised on its thread, as the same class when it is one of the engine's. */
export function rebuildTaskError(e: ThreadTaskError): Error {
  const Cls = ERRORS[e.name];
  if (Cls) return new Cls(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

class WorkerTaskPool implements TaskThreadPool {
  private readonly pool: ThreadPool<ThreadTaskResult, ThreadTaskError>;

  constructor(readonly threads: number) {
    this.pool = new ThreadPool({ script: new URL('./thread-task-worker.mjs', import.meta.url), threads, rebuildError: rebuildTaskError, what: 'task' });
  }

  get tasksOnThreads(): number {
    return this.pool.completed;
  }

  run(request: ThreadTaskRequest): Promise<ThreadTaskResult> {
    return this.pool.run(
      () => ({ message: { request }, transfer: [] }),
      async () => (await runThreadTask(request)).result,
    );
  }
}

const pools = new Map<number, TaskThreadPool>();

/** Threads for parallel local runs: SQUALL_THREADS if set, else one per available core. */
export function defaultTaskThreads(): number {
  const env = process.env.SQUALL_THREADS;
  if (env !== undefined && env !== '' && Number.isFinite(Number(env))) return Math.max(1, Math.floor(Number(env)));
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The process-wide pool of `threads` task threads. */
export function taskThreadPool(threads = defaultTaskThreads()): TaskThreadPool {
  let pool = pools.get(threads);
  if (!pool) pools.set(threads, (pool = new WorkerTaskPool(threads)));
  return pool;
}
