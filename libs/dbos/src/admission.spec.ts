import { Admission } from './admission.js';

describe('Admission', () => {
  it('admits at most `size` bodies at once, the rest in arrival order, and frees a slot when a body throws', async () => {
    const gate = new Admission(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const body =
      (i: number, fail = false) =>
      () => {
        started.push(i);
        active++;
        peak = Math.max(peak, active);
        return new Promise<number>((resolve, reject) => {
          releases[i] = () => {
            active--;
            if (fail) reject(new Error(`body ${i} failed`));
            else resolve(i);
          };
        });
      };
    const runs = [gate.run(body(0, true)), gate.run(body(1)), gate.run(body(2)), gate.run(body(3))];
    await Promise.resolve();
    expect(started).toEqual([0, 1]);

    releases[0]!();
    await expect(runs[0]).rejects.toThrow('body 0 failed');
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2]);

    releases[1]!();
    releases[2]!();
    await expect(runs[1]).resolves.toBe(1);
    await expect(runs[2]).resolves.toBe(2);
    await Promise.resolve();
    expect(started).toEqual([0, 1, 2, 3]);
    releases[3]!();
    await expect(runs[3]).resolves.toBe(3);
    expect(peak).toBe(2);

    // Idle again: the next body starts at once.
    const again = gate.run(() => Promise.resolve('now'));
    await expect(again).resolves.toBe('now');
  });
});
