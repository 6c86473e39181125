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
});
