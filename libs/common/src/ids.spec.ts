import { newActionId, newRunId } from './ids.js';

describe('run and action IDs', () => {
  it('are time-ordered hex with 80 (run) or 64 (action) random bits, none repeated across refills of the entropy buffer', () => {
    // 4 KiB of entropy serves 409 run IDs: 5,000 of them refill it a dozen times, mid-ID included.
    const runs = Array.from({ length: 5000 }, () => newRunId());
    for (const id of runs) expect(id).toMatch(/^run_[0-9a-f]{32}$/);
    expect(new Set(runs).size).toBe(runs.length);
    expect(new Set(runs.map((id) => id.slice(16))).size).toBe(runs.length);
    const actions = Array.from({ length: 1000 }, () => newActionId());
    for (const id of actions) expect(id).toMatch(/^act_[0-9a-f]{28}$/);
    expect(new Set(actions).size).toBe(actions.length);
    const stamp = Number.parseInt(newRunId().slice(4, 16), 16);
    expect(Math.abs(stamp - Date.now())).toBeLessThan(5000);
  });

  it('an idempotency key always maps to the same run ID, and different keys to different ones', () => {
    expect(newRunId('order-42')).toBe(newRunId('order-42'));
    expect(newRunId('order-42')).not.toBe(newRunId('order-43'));
    expect(newRunId('order-42')).toMatch(/^run_[0-9a-f]{32}$/);
  });
});
