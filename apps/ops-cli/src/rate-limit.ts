/* eslint-disable no-restricted-globals -- pacing a CLI batch is not workflow time: the operator's process waits between control actions; nothing durable depends on it */

export type Sleep = (ms: number) => Promise<void>;

/** The one process timer of the CLI (see the file-level comment). */
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
