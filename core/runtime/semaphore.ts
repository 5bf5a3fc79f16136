// A counting semaphore (FIFO) whose limit can change while permits are out, for bounding how many task attempts
// run at once, and a timer-based sleep. The scheduler lowers the limit when invocations are throttled and
// raises it again as attempts succeed (additive increase, multiplicative decrease, as TCP does), so a job finds
// the concurrency the account allows instead of hammering it with retries.

export class Semaphore {
  private inUse = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private limit: number) {}

  get current(): number {
    return this.limit;
  }

  get active(): number {
    return this.inUse;
  }

  /**
   * Changes the limit (fractions accumulate: additive increase adds 1/limit per success); permits already out
   * stay out, new ones wait until use is below the limit.
   */
  setLimit(n: number): void {
    this.limit = Math.max(1, n);
    this.drain();
  }

  /** Resolves with a release function once a permit is free; call it exactly once. */
  async acquire(): Promise<() => void> {
    if (this.inUse < Math.floor(this.limit) && this.waiters.length === 0) this.inUse++;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      this.drain();
    };
  }

  private drain(): void {
    while (this.inUse < Math.floor(this.limit) && this.waiters.length > 0) {
      this.inUse++;
      this.waiters.shift()!();
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
