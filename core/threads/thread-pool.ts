// A pool of worker threads that each run one script and answer requests by id, shared by the Parquet decoder
// (core/io/parquet/decode-pool.ts) and the parallel local runner (core/runtime/thread-pool.ts). Threads start on
// first use and are unreferenced while idle, so a process that has finished its work exits. A request goes to
// the least busy thread; when a thread cannot start (no worker threads, no TypeScript loader) every request
// from then on runs on the calling thread instead, through the caller's fallback.
//
// The script's side of the protocol: post `{ ready: true }` once loaded, then answer each `{ id, ...request }`
// with `{ id, result }` or `{ id, error }`.
import { Worker } from 'node:worker_threads';

type Reply<R, E> = { ready: true } | { id: number; result?: R; error?: E };

interface Pending<R> {
  resolve(r: R): void;
  reject(e: Error): void;
}

class Slot<R, E> {
  readonly pending = new Map<number, Pending<R>>();
  /** Resolves true once the script has loaded, false if the thread failed to start. */
  readonly ready: Promise<boolean>;

  constructor(
    readonly worker: Worker,
    rebuildError: (e: E) => Error,
    onGone: (slot: Slot<R, E>) => void,
    onDone: () => void,
    what: string,
  ) {
    let settle!: (ok: boolean) => void;
    this.ready = new Promise((r) => (settle = r));
    // Referenced while it starts or has work, so a process awaiting a request does not exit under it.
    worker.on('message', (msg: Reply<R, E>) => {
      if ('ready' in msg) {
        settle(true);
        if (this.pending.size === 0) worker.unref();
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error !== undefined) p.reject(rebuildError(msg.error));
      else {
        onDone();
        p.resolve(msg.result as R);
      }
    });
    const gone = (e: Error) => {
      settle(false);
      onGone(this);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => gone(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => gone(new Error(`a ${what} thread exited with code ${code}`)));
  }
}

export interface ThreadPoolOptions<E> {
  /** The worker script (a .mjs that loads the TypeScript module, see decode-worker.mjs). */
  readonly script: URL;
  readonly threads: number;
  /** The error a thread reported, as an Error of the right class. */
  readonly rebuildError: (e: E) => Error;
  /** What the threads do, for error messages ("Parquet decoder"). */
  readonly what: string;
}

export class ThreadPool<R, E> {
  readonly threads: number;
  private readonly slots: (Slot<R, E> | null)[];
  private nextId = 1;
  /** Set when a thread could not start: requests run on the calling thread from then on. */
  private unavailable = false;
  /** Requests answered by a thread (not those that ran on the calling thread). */
  completed = 0;

  constructor(private readonly options: ThreadPoolOptions<E>) {
    this.threads = options.threads;
    this.slots = new Array<Slot<R, E> | null>(options.threads).fill(null);
  }

  private slot(i: number): Slot<R, E> {
    const existing = this.slots[i];
    if (existing) return existing;
    const slot: Slot<R, E> = new Slot<R, E>(
      new Worker(this.options.script),
      this.options.rebuildError,
      (s) => {
        if (this.slots[i] === s) this.slots[i] = null;
      },
      () => this.completed++,
      this.options.what,
    );
    this.slots[i] = slot;
    return slot;
  }

  /**
   * Sends `request()` (a message and the buffers to transfer with it) to the least busy thread; `local` runs it
   * on this thread when no thread can. `request` is called only once a thread is ready, so it may transfer
   * buffers away.
   */
  async run(request: () => { message: object; transfer: ArrayBuffer[] }, local: () => R | Promise<R>): Promise<R> {
    if (this.unavailable) return local();
    let best = 0;
    for (let i = 1; i < this.slots.length; i++) {
      if ((this.slots[i]?.pending.size ?? 0) < (this.slots[best]?.pending.size ?? 0)) best = i;
    }
    let slot: Slot<R, E>;
    try {
      slot = this.slot(best);
    } catch {
      this.unavailable = true;
      return local();
    }
    const id = this.nextId++;
    // Counted as pending before it is sent, so concurrent callers spread over the threads.
    const result = new Promise<R>((resolve, reject) => slot.pending.set(id, { resolve, reject }));
    result.catch(() => {}); // a thread that fails to start rejects it, and then nobody awaits it
    if (!(await slot.ready)) {
      slot.pending.delete(id);
      this.unavailable = true;
      return local();
    }
    const { message, transfer } = request();
    slot.worker.ref();
    slot.worker.postMessage({ id, ...message }, transfer);
    return result;
  }
}
