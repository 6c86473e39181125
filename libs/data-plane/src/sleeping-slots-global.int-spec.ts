import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { startRun } from '../../../test/support/runs.js';
import { allSucceeded, queuesOf, sleepers, sleepersBehindBlockers, sleepersOperator, sleepingRunsApp, workflowStatus } from '../../../test/support/sleepers.js';
import { waitFor } from '../../../test/support/wait.js';

const op = sleepersOperator;

/**
 * Runs sleeping in the process under a global limit (RUN_GLOBAL_CONCURRENCY): the intents queue's
 * global count is its PENDING workflows in Postgres, so a sleeper sets its queue name aside while
 * asleep, and woken goes back on the queue in its place, where it waits for room under the limit.
 */
describe('runs sleeping in the process, under RUN_GLOBAL_CONCURRENCY 2', () => {
  const app = sleepingRunsApp({ RUN_GLOBAL_CONCURRENCY: '2' });
  const { effects, http } = app;

  it('do not count against the global limit: an immediate run is dequeued at once', async () => {
    const { ids } = await sleepers(app.t, op, (i) => [http(`asleep-${i}`)], 2, 10_000);
    const started = Date.now();
    const now = await startRun(app.t, [http('now')]);
    try {
      await waitFor('the queued run to succeed', async () => ((await workflowStatus(app.t, now)) === 'SUCCESS' ? true : undefined), 3000, 20);
    } finally {
      console.log(`global limit: immediate run ${(await workflowStatus(app.t, now)) ?? '?'} after ${Date.now() - started} ms with 2 runs asleep (limit 2)`);
    }
    // Asleep, PENDING without a queue: the global limit does not count them.
    expect(await queuesOf(app.t, ids)).toEqual([null, null]);
    await allSucceeded(app.t, ids);
    expect(effects.total).toBe(3);
  });

  it('woken, a sleeper goes back on the queue and waits there while the global limit is full', async () => {
    // Two runs take both slots and keep them past the sleepers' deadline (their effect is held open).
    const { before, ids, blockers, deadline } = await sleepersBehindBlockers(app);
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, deadline + 2500 - Date.now()));
    expect(effects.total - before).toBe(2);
    expect(await Promise.all(ids.map((id) => workflowStatus(app.t, id)))).toEqual(['ENQUEUED', 'ENQUEUED']);
    expect(await queuesOf(app.t, ids)).toEqual(['intents', 'intents']);
    effects.hold = undefined;
    effects.release();
    await allSucceeded(app.t, [...ids, ...blockers]);
    expect(effects.total - before).toBe(4);
  });

  it('cancelled asleep, a run ends at once; resumed, it makes its effect once', async () => {
    const before = effects.total;
    const { ids, deadline } = await sleepers(app.t, op, () => [http('cancelled-asleep')], 1, 6000);
    const id = ids[0]!;
    const why = { actor: 'alice', reason: 'cancel a sleeper' };
    expect((await app.t.request('POST', `/api/ops/wf/${id}/cancel`, why, op)).status).toBe(202);
    const runningHere = (): boolean => DBOSExecutor.globalInstance?.systemDatabase.checkForRunningWorkflow(id) ?? false;
    await waitFor('the cancelled execution to end', () => Promise.resolve(runningHere() ? undefined : true), 5000);
    expect(Date.now()).toBeLessThan(deadline);
    expect(await workflowStatus(app.t, id)).toBe('CANCELLED');
    expect((await app.t.request('POST', `/api/ops/wf/${id}/resume`, why, op)).status).toBe(202);
    await allSucceeded(app.t, [id]);
    await waitFor('every execution to end', () => Promise.resolve(runningHere() ? undefined : true), 5000);
    expect(effects.total - before).toBe(1);
  });
});
