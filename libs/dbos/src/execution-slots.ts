/**
 * The runs this process executes at once, however they started: directly by POST /api/runs,
 * dequeued from the `intents` queue, recovered at boot, resumed or forked. DBOS's queue
 * `workerConcurrency` counts only the runs it dequeued itself, so this count is what keeps the
 * per-process limit honest across both paths. No timers: a finishing run hands its slot to the
 * next waiter, in order.
 */
export class ExecutionSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Runs a caller reserved a slot for before starting them (see tryReserve). */
  private readonly reserved = new Set<string>();

  constructor(readonly size: number) {}

  /** Runs executing (or reserved) now. */
  get inUse(): number {
    return this.active;
  }

  /**
   * Takes a slot for `runId` now if one is free and nobody waits for one (a run dequeued earlier
   * goes first). The run's execution then uses it (see hold); cancel it if the run never starts.
   */
  tryReserve(runId: string): boolean {
    if (this.active >= this.size || this.waiting.length > 0 || this.reserved.has(runId)) return false;
    this.active++;
    this.reserved.add(runId);
    return true;
  }

  /** Gives back a reservation its run did not use; false when the run took it (or none was made). */
  cancelReservation(runId: string): boolean {
    if (!this.reserved.delete(runId)) return false;
    this.release();
    return true;
  }

  /** Runs `body` in a slot: the one reserved for `runId`, else the next free one (waiting for it). */
  async hold<T>(runId: string, body: () => Promise<T>): Promise<T> {
    if (!this.reserved.delete(runId)) {
      if (this.active >= this.size) await new Promise<void>((admit) => this.waiting.push(admit));
      else this.active++;
    }
    try {
      return await body();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
