import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'race-operator-token-00000';
const op = { authorization: `Bearer ${OPERATOR}` };

/**
 * Cancel a run in its durable sleep and resume it at once: if the resume comes before the first
 * execution has seen the cancel, both wake and reach ExecuteST. The effect must happen once (only
 * the live execution's claim succeeds), the run must end SUCCESS in DBOS and succeeded in its
 * projection, with one completed mark.
 */
describe('resume while the cancelled execution still sleeps', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('ends once: one effect, one completed ExecuteST mark, SUCCESS everywhere', async () => {
    const intent = await t.request('POST', '/api/intents', {
      goal: 'race',
      inputs: { tasks: [{ connector: 'fault', args: { mode: 'transient', failTimes: 1 } }] },
      constraints: { delayMs: 2000 },
    });
    const runId = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId as string;
    await waitFor('the sleep', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.status === 'waiting' ? true : undefined));
    expect((await t.request('POST', `/api/ops/wf/${runId}/cancel`, { actor: 'a', reason: 'r' }, op)).status).toBe(202);
    await waitFor('CANCELLED', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus === 'CANCELLED' ? true : undefined));
    expect((await t.request('POST', `/api/ops/wf/${runId}/resume`, { actor: 'a', reason: 'r' }, op)).status).toBe(202);

    await waitFor('SUCCESS', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus === 'SUCCESS' ? true : undefined));
    // Past the first execution's wake-up and its retry backoff.
    await new Promise((resolve) => setTimeout(resolve, 3500));

    const run = (await t.request('GET', `/api/runs/${runId}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', dbosStatus: 'SUCCESS', nextAction: 'NONE' });
    const completed = await t.db.selectFrom('app.run_steps').select('step_id').where('run_id', '=', runId).where('phase', '=', 'completed').execute();
    expect(completed.map((m) => m.step_id).sort()).toEqual(['ApplyPatchST', 'CompileST', 'DecideST', 'ExecuteST']);
    const reports = await t.db.selectFrom('app.artifacts').select('id').where('run_id', '=', runId).where('kind', '=', 'execution_report').execute();
    expect(reports).toHaveLength(1);
    const receipt = await t.db.selectFrom('app.task_receipts').selectAll().where('run_id', '=', runId).executeTakeFirstOrThrow();
    expect(receipt.status).toBe('succeeded');
  });
});
