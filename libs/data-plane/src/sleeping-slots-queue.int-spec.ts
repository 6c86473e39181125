import { DbosService } from '#dbos';
import { startRun } from '../../../test/support/runs.js';
import {
  allSucceeded,
  intentsQueueCount,
  queuesOf,
  sleepers,
  sleepersBehindBlockers,
  sleepersOperator,
  sleepingRunsApp,
  workflowStatus,
} from '../../../test/support/sleepers.js';
import { waitFor } from '../../../test/support/wait.js';

const op = sleepersOperator;

/**
 * Runs sleeping in the process, with every run going through the intents queue: a sleeper does not
 * count against the queue's workerConcurrency (DBOS counts every execution it dequeued, a sleeping
 * one too), and once awake it takes a slot again before ExecuteST, waiting for one like any run, so
 * RUN_CONCURRENCY still bounds what executes. Effects are counted at a loopback server.
 */
describe('runs sleeping in the process, every run through the queue (RUN_DIRECT_START off, RUN_CONCURRENCY 2)', () => {
  const app = sleepingRunsApp({ RUN_DIRECT_START: 'off' });
  const { effects, http } = app;
  const slotsInUse = (): number => app.t.app.get(DbosService).slots.inUse;

  it("do not count against the queue's workerConcurrency: an immediate run is dequeued at once", async () => {
    const { ids } = await sleepers(app.t, op, (i) => [http(`asleep-${i}`)], 2, 10_000);
    // Dequeued from the intents queue, which DBOS counts them against unless they are set aside.
    expect(await queuesOf(app.t, ids)).toEqual(['intents', 'intents']);
    const started = Date.now();
    const now = await startRun(app.t, [http('now')]);
    try {
      await waitFor('the queued run to succeed', async () => ((await workflowStatus(app.t, now)) === 'SUCCESS' ? true : undefined), 3000, 20);
    } finally {
      console.log(
        `through the queue: immediate run ${(await workflowStatus(app.t, now)) ?? '?'} after ${Date.now() - started} ms with RUN_CONCURRENCY (2) runs asleep in the process`,
      );
    }
    // Asleep, they count nowhere.
    expect(intentsQueueCount()).toBe(0);
    expect(slotsInUse()).toBe(0);
    await allSucceeded(app.t, ids);
    expect(effects.total).toBe(3);
  });

  it('woken, a sleeper waits for a slot: no effect of it while RUN_CONCURRENCY other runs execute', async () => {
    // Two runs take both slots and keep them past the sleepers' deadline (their effect is held open).
    const { before, ids, blockers, deadline } = await sleepersBehindBlockers(app);
    expect(Date.now()).toBeLessThan(deadline);
    expect(slotsInUse()).toBe(2);
    expect(intentsQueueCount()).toBe(2);
    // Past the deadline: the sleepers are awake and wait for a slot, counted by the queue again.
    await new Promise((resolve) => setTimeout(resolve, deadline + 2000 - Date.now()));
    expect(effects.total - before).toBe(2);
    expect(await Promise.all(ids.map((id) => workflowStatus(app.t, id)))).toEqual(['PENDING', 'PENDING']);
    expect(slotsInUse()).toBe(2);
    expect(intentsQueueCount()).toBe(4);
    effects.hold = undefined;
    effects.release();
    await allSucceeded(app.t, [...ids, ...blockers]);
    expect(effects.total - before).toBe(4);
    expect(slotsInUse()).toBe(0);
  });
});
