import { DBOS } from '@dbos-inc/dbos-sdk';

export type Sleep = (ms: number) => Promise<void>;

/**
 * The CLI's pause between control actions: DBOS.sleep, the one time primitive the code base uses.
 * Called outside a workflow (as here) it is a plain wait, not a durable one: pacing a batch is the
 * operator's process waiting, and nothing durable depends on it.
 */
export const sleep: Sleep = (ms) => DBOS.sleep(ms);

/**
 * At most `perSecond` actions per second: `await limiter.next()` before each action returns at once
 * for the first, then no sooner than 1/perSecond s after the previous one started.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private last: number | undefined;

  constructor(
    perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly wait: Sleep = sleep,
  ) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new RangeError(`rate must be a positive number of actions per second (got ${perSecond})`);
    this.intervalMs = 1000 / perSecond;
  }

  async next(): Promise<void> {
    if (this.last !== undefined) {
      const due = this.last + this.intervalMs;
      const ms = due - this.now();
      if (ms > 0) await this.wait(ms);
    }
    this.last = this.now();
  }
}
