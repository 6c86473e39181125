import { ExecutionSlots } from './execution-slots.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ExecutionSlots', () => {
  it('reserves a free slot for a run, which the run then uses; no reservation beyond the size', async () => {
    const slots = new ExecutionSlots(2);
    expect(slots.tryReserve('a')).toBe(true);
    expect(slots.tryReserve('a')).toBe(false);
    expect(slots.tryReserve('b')).toBe(true);
    expect(slots.tryReserve('c')).toBe(false);
    expect(slots.inUse).toBe(2);
    const a = deferred();
    const running = slots.hold('a', () => a.promise);
    // The run took its reservation: nothing left to cancel, and the count did not grow.
    expect(slots.cancelReservation('a')).toBe(false);
    expect(slots.inUse).toBe(2);
    a.resolve();
    await running;
    expect(slots.inUse).toBe(1);
    expect(slots.cancelReservation('b')).toBe(true);
    expect(slots.inUse).toBe(0);
  });

  it('makes a run without a reservation wait for a slot, in order, and a waiter blocks new reservations', async () => {
    const slots = new ExecutionSlots(1);
    const first = deferred();
    const order: string[] = [];
    const one = slots.hold('one', async () => {
      order.push('one');
      await first.promise;
    });
    const two = slots.hold('two', () => {
      order.push('two');
      return Promise.resolve();
    });
    const three = slots.hold('three', () => {
      order.push('three');
      return Promise.reject(new Error('three failed'));
    });
    await Promise.resolve();
    expect(order).toEqual(['one']);
    // Someone waits: a POST must not overtake the queued runs.
    expect(slots.tryReserve('four')).toBe(false);
    first.resolve();
    await Promise.all([one, two, expect(three).rejects.toThrow('three failed')]);
    expect(order).toEqual(['one', 'two', 'three']);
    // A body that threw still gave its slot back.
    expect(slots.inUse).toBe(0);
    expect(slots.tryReserve('four')).toBe(true);
  });

  it('a run that sets its slot aside (asleep) frees it for a waiter, then waits in order to take one back', async () => {
    const slots = new ExecutionSlots(1);
    const asleep = deferred();
    const other = deferred();
    const order: string[] = [];
    const sleeper = slots.hold('sleeper', async (lease) => {
      order.push('sleeper starts');
      await lease.setAside(() => asleep.promise);
      order.push('sleeper executes again');
    });
    await Promise.resolve();
    // Asleep, it holds nothing: another run takes the only slot at once.
    expect(slots.inUse).toBe(0);
    expect(slots.tryReserve('other')).toBe(true);
    const running = slots.hold('other', async () => {
      order.push('other executes');
      await other.promise;
    });
    await Promise.resolve();
    // Woken while the other run holds the slot: it waits, and blocks new reservations.
    asleep.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['sleeper starts', 'other executes']);
    expect(slots.tryReserve('third')).toBe(false);
    other.resolve();
    await Promise.all([sleeper, running]);
    expect(order).toEqual(['sleeper starts', 'other executes', 'sleeper executes again']);
    expect(slots.inUse).toBe(0);
  });

  it('a sleep that throws (a cancel) takes no slot back, and the slot count stays right', async () => {
    const slots = new ExecutionSlots(1);
    const blocker = deferred();
    const cancelled = deferred();
    const sleeper = slots.hold('sleeper', (lease) =>
      lease.setAside(async () => {
        await cancelled.promise;
        throw new Error('cancelled');
      }),
    );
    await Promise.resolve();
    const busy = slots.hold('busy', () => blocker.promise);
    await Promise.resolve();
    expect(slots.inUse).toBe(1);
    // The cancelled sleeper ends at once, although every slot is taken.
    cancelled.resolve();
    await expect(sleeper).rejects.toThrow('cancelled');
    expect(slots.inUse).toBe(1);
    blocker.resolve();
    await busy;
    expect(slots.inUse).toBe(0);
    expect(slots.tryReserve('next')).toBe(true);
  });
});
