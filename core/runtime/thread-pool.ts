// A process-wide pool of worker threads that run stage tasks (./thread-task.ts) for the parallel local runner:
// Spark's local[*], where every core runs a task. Threads start on first use and are unreferenced while idle,
// so a process that has finished its work exits. When a thread cannot start (a runtime without worker
// threads or without the TypeScript loader) tasks run on the calling thread instead: slower, same results.
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
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

interface Pending {
  resolve(r: ThreadTaskResult): void;
  reject(e: Error): void;
}

type Reply = { ready: true } | { id: number; result?: ThreadTaskResult; error?: ThreadTaskError };

class Slot {
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<boolean>;

  constructor(
    readonly worker: Worker,
    onGone: (slot: Slot) => void,
    onDone: () => void,
  ) {
    let settle!: (ok: boolean) => void;
    this.ready = new Promise((r) => (settle = r));
    worker.on('message', (msg: Reply) => {
      if ('ready' in msg) {
        settle(true);
        if (this.pending.size === 0) worker.unref();
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error) p.reject(rebuildTaskError(msg.error));
      else {
        onDone();
        p.resolve(msg.result!);
      }
    });
    const gone = (e: Error) => {
      settle(false);
      onGone(this);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => gone(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => gone(new ExecutionError(`a task thread exited with code ${code}`)));
  }
}

class WorkerTaskPool implements TaskThreadPool {
  private readonly slots: (Slot | null)[];
  private nextId = 1;
  private unavailable = false;
  tasksOnThreads = 0;

  constructor(readonly threads: number) {
    this.slots = new Array<Slot | null>(threads).fill(null);
  }

  private slot(i: number): Slot {
    const existing = this.slots[i];
    if (existing) return existing;
    const slot = new Slot(
      new Worker(new URL('./thread-task-worker.mjs', import.meta.url)),
      (s) => {
        if (this.slots[i] === s) this.slots[i] = null;
      },
      () => this.tasksOnThreads++,
    );
    this.slots[i] = slot;
    return slot;
  }

  async run(request: ThreadTaskRequest): Promise<ThreadTaskResult> {
    const local = async () => (await runThreadTask(request)).result;
    if (this.unavailable) return local();
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) {
      if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    }
    let slot: Slot;
    try {
      slot = this.slot(best);
    } catch {
      this.unavailable = true;
      return local();
    }
    const id = this.nextId++;
    // Counted as pending before it is sent, so concurrent callers spread over the threads.
    const result = new Promise<ThreadTaskResult>((resolve, reject) => slot.pending.set(id, { resolve, reject }));
    result.catch(() => {}); // a thread that fails to start rejects it, and then nobody awaits it
    if (!(await slot.ready)) {
      slot.pending.delete(id);
      this.unavailable = true;
      return local();
    }
    slot.worker.ref();
    slot.worker.postMessage({ id, request });
    return result;
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
