import { sql } from 'kysely';
import { startRun } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';

const OPERATOR = 'enqueued-operator-token-0';
const op = { authorization: `Bearer ${OPERATOR}` };
const why = { actor: 'alice', reason: 'resume an enqueued run' };

/**
 * Resume of an ENQUEUED run does what the route says: DBOS re-enqueues it on its own queue, where it
 * keeps its place (priority and creation time unchanged); it is not started ahead of the queue.
 * An api-role process never dequeues runs, so the run stays ENQUEUED for as long as the test looks.
 */
describe('resume of an ENQUEUED run', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}`, APP_ROLE: 'api' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is accepted and audited, and leaves the run queued on its queue in its place', async () => {
    const first = await startRun(t, [{ connector: 'echo', args: { value: 'first' } }]);
    const second = await startRun(t, [{ connector: 'echo', args: { value: 'second' } }]);
    const row = (id: string) =>
      sql<{ status: string; queue_name: string; created_at: string; priority: number; started_at_epoch_ms: string | null }>`
        SELECT status, queue_name, created_at, priority, started_at_epoch_ms FROM dbos.workflow_status WHERE workflow_uuid = ${id}`
        .execute(t.db)
        .then((r) => r.rows[0]!);
    const before = await row(second);
    expect(before.status).toBe('ENQUEUED');

    const res = await t.request('POST', `/api/ops/wf/${second}/resume`, why, op);
    expect(res.status).toBe(202);
    const after = await row(second);
    expect(after).toMatchObject({ status: 'ENQUEUED', queue_name: before.queue_name, created_at: before.created_at, priority: before.priority });
    expect(after.started_at_epoch_ms).toBeNull();
    // Still behind the run enqueued before it.
    expect(Number(after.created_at)).toBeGreaterThanOrEqual(Number((await row(first)).created_at));
    const audit = await t.db.selectFrom('app.artifacts').select('inline').where('step_id', '=', 'OPS').where('run_id', '=', second).execute();
    expect(audit.map((a) => (a.inline as { op: string }).op)).toEqual(['resume']);
    expect((await t.request('GET', `/api/runs/${second}`)).body.status).toBe('queued');
  });

  it('resume after a cancel puts the run back on its own queue, so an api process still does not execute it', async () => {
    const id = await startRun(t, [{ connector: 'echo', args: { value: 'cancelled then resumed' } }]);
    const row = () =>
      sql<{ status: string; queue_name: string | null; executor_id: string | null }>`
        SELECT status, queue_name, executor_id FROM dbos.workflow_status WHERE workflow_uuid = ${id}`
        .execute(t.db)
        .then((r) => r.rows[0]!);
    expect((await t.request('POST', `/api/ops/wf/${id}/cancel`, why, op)).status).toBe(202);
    // DBOS's cancel clears the queue name.
    expect(await row()).toMatchObject({ status: 'CANCELLED', queue_name: null });
    expect((await t.request('POST', `/api/ops/wf/${id}/resume`, why, op)).status).toBe(202);
    // On DBOS's internal queue, which every process dispatches (listenQueues does not apply to it),
    // this api process would run it within a second.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await row()).toMatchObject({ status: 'ENQUEUED', queue_name: 'intents' });
  });
});
