import { DBOS } from '@dbos-inc/dbos-sdk';
import { OPS_TICK_NAME } from './ops-tick.workflow.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

describe('the scheduled ops tick', () => {
  let t: TestApp;

  beforeAll(async () => {
    // A schedule that will not fire during the test on its own: ticks are triggered explicitly.
    t = await startTestApp({ OPS_TICK_SCHEDULE: '0 0 0 1 1 *' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is registered as a database-backed schedule with catch-up on', async () => {
    const schedule = await DBOS.getSchedule(OPS_TICK_NAME);
    expect(schedule).toMatchObject({ scheduleName: OPS_TICK_NAME, workflowName: 'OpsTickWorkflow', automaticBackfill: true, schedule: '0 0 0 1 1 *' });
  });

  it('reconciles a lying projection with DBOS and records one snapshot per tick', async () => {
    const intent = await t.request('POST', '/api/intents', { goal: 'tick', inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] }, constraints: {} });
    const runId = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId as string;
    await waitFor('the run', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus === 'SUCCESS' ? true : undefined));
    // Make the projection lie, as a crash between DBOS and our write could.
    await t.db.updateTable('app.runs').set({ status: 'running', next_action: 'WAIT' }).where('id', '=', runId).execute();

    const handle = await DBOS.triggerSchedule(OPS_TICK_NAME);
    await handle.getResult();
    expect((await t.request('GET', `/api/runs/${runId}`)).body).toMatchObject({ status: 'succeeded', nextAction: 'NONE' });

    const snapshot = await t.db.selectFrom('app.ops_snapshots').selectAll().where('tick_id', '=', handle.workflowID).executeTakeFirstOrThrow();
    expect(snapshot.reconciled).toBe(1);
    expect(snapshot).toMatchObject({ enqueued: expect.any(Number), failures_24h: expect.any(Number) });
    const steps = (await DBOS.listWorkflowSteps(handle.workflowID))?.map((s) => s.name);
    expect(steps).toEqual(['ReconcileST', 'SnapshotST', 'CatchUpST']);

    // Run again under the same ID (a replay): DBOS answers the recorded outcome and runs no step
    // again. A lie planted now shows it: a second ReconcileST would fix it, a second SnapshotST would
    // rewrite the snapshot.
    await t.db.updateTable('app.runs').set({ status: 'running', next_action: 'WAIT' }).where('id', '=', runId).execute();
    const replay = await DBOS.startWorkflow(t.app.get((await import('./ops-tick.workflow.js')).OpsTickWorkflow).workflow, { workflowID: handle.workflowID })(
      new Date(),
      null,
    );
    expect(await replay.getResult()).toEqual(await handle.getResult());
    expect((await t.request('GET', `/api/runs/${runId}`)).body).toMatchObject({ status: 'running', nextAction: 'WAIT' });
    expect(await t.db.selectFrom('app.ops_snapshots').selectAll().where('tick_id', '=', handle.workflowID).execute()).toEqual([snapshot]);
  });
});
