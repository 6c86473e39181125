/**
 * The runs this process executes at once, however they started: directly by POST /api/runs,
 * dequeued from the `intents` queue, recovered at boot, resumed or forked. DBOS's queue
 * `workerConcurrency` counts only the runs it dequeued itself, so this count is what keeps the
 * per-process limit honest across both paths. A run asleep (DBOS.sleep) sets its slot aside and
 * takes one back before it executes again (SlotLease.setAside). No timers: a finishing or sleeping
 * run hands its slot to the next waiter, in order.
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

  /**
   * Runs `body` in a slot: the one reserved for `runId`, else the next free one (waiting for it).
   * The body may give the slot up for a while (a run asleep, see SlotLease.setAside).
   */
  async hold<T>(runId: string, body: (lease: SlotLease) => Promise<T>): Promise<T> {
    if (!this.reserved.delete(runId)) await this.acquire();
    const lease = new SlotLease(this);
    try {
      return await body(lease);
    } finally {
      lease.end();
    }
  }

  /** Takes the next free slot, waiting in order behind every run that already waits. */
  acquire(): Promise<void> {
    if (this.active < this.size && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((admit) => this.waiting.push(admit));
  }

  /** Gives a slot back: to the first waiter, else to the pool. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** The slot one execution holds (see ExecutionSlots.hold). */
export class SlotLease {
  private held = true;
  private ended = false;

  constructor(private readonly slots: ExecutionSlots) {}

  /**
   * Runs `body` without the slot: a run that sleeps holds no slot. The slot is given to the next
   * waiter at once; once `body` resolves, the run takes a slot again, waiting in order behind every
   * run that waits already, so it never executes beyond the size. When `body` throws (a cancelled
   * sleep) the run takes none: it is ending.
   */
  async setAside<T>(body: () => Promise<T>): Promise<T> {
    if (!this.held || this.ended) return body();
    this.held = false;
    this.slots.release();
    const result = await body();
    await this.slots.acquire();
    if (this.ended) this.slots.release();
    else this.held = true;
    return result;
  }

  /** The execution is over: its slot, if it holds one, goes back. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.held) {
      this.held = false;
      this.slots.release();
    }
  }
}
