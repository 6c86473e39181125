/**
 * At most `size` bodies of this process run at once; the rest wait their turn, in order. No timers:
 * a finishing body hands its place to the next waiter.
 */
export class Admission {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((admit) => this.waiting.push(admit));
    else this.active++;
    try {
      return await body();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
