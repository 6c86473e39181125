import { DBOS } from '@dbos-inc/dbos-sdk';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const EVERY_MS = 2_000;

describe('the ops tick catches up an interval that never fired', () => {
  let t: TestApp;

  afterAll(async () => {
    await t?.close();
  });

  it('a tick fires the intervals since the latest recorded tick that have no workflow (CatchUpST)', async () => {
    t = await startTestApp({ OPS_TICK_SCHEDULE: '*/2 * * * * *' });
    const bootedAt = Date.now();
    // A tick recorded 20 s before this process started: the intervals between it and the first tick
    // of this process never fired (nothing ran then), as an interval DBOS skips at boot never fires.
    const planted = new Date(Math.floor(bootedAt / EVERY_MS) * EVERY_MS - 20_000);
    await t.db
      .insertInto('app.ops_snapshots')
      .values({
        tick_id: 'planted',
        scheduled_for: planted,
        queue_depth: '[]',
        enqueued: 0,
        pending: 0,
        failures_24h: 0,
        oldest_enqueued_age_ms: null,
        reconciled: 0,
      })
      .execute();
    const before = await waitFor(
      'the intervals before boot to be fired by a later tick',
      async () => {
        const rows = await t.db.selectFrom('app.ops_snapshots').select(['tick_id', 'scheduled_for']).where('tick_id', '<>', 'planted').execute();
        const early = rows.filter((r) => r.scheduled_for.getTime() < bootedAt - EVERY_MS);
        return early.length >= 9 ? early : undefined;
      },
      30_000,
    );
    const times = before.map((r) => r.scheduled_for.getTime()).sort((a, b) => a - b);
    // Each interval after the planted tick, once, on the schedule, under DBOS's own workflow ID.
    expect(times[0]).toBe(planted.getTime() + EVERY_MS);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(EVERY_MS);
    for (const row of before) expect(row.tick_id).toBe(`sched-ops-tick-${row.scheduled_for.toISOString()}`);
    const first = before.find((r) => r.scheduled_for.getTime() === times[0])!;
    expect((await DBOS.listWorkflowSteps(first.tick_id))?.map((s) => s.name)).toEqual(['ReconcileST', 'SnapshotST', 'CatchUpST']);
  });
});
