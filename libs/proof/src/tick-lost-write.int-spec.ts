import { DBOS } from '@dbos-inc/dbos-sdk';
import { Injectable } from '@nestjs/common';
import { RunsRepository } from '#runs';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';
import { OPS_TICK_NAME } from './ops-tick.workflow.js';

const OPERATOR = 'tick-operator-token-0123456';

/**
 * The run record, losing the failed run's projection write as a database blip at that moment
 * would: IntentWorkflow's markFailed is not a step, so DBOS has the run ERROR and the projection
 * still says running. The scheduled tick exists for this.
 */
@Injectable()
class LosingRunsRepository extends RunsRepository {
  lost: string[] = [];

  override markFailed(runId: string): Promise<void> {
    this.lost.push(runId);
    return Promise.reject(new Error('connection terminated unexpectedly'));
  }
}

describe('the ops tick repairs a lost projection write: RunsRepository swapped with overrideProvider (@nestjs/testing)', () => {
  let t: TestApp;
  let runs: LosingRunsRepository;

  beforeAll(async () => {
    // The schedule does not fire during the test: the tick is triggered explicitly.
    t = await startTestApp(
      { OPS_TICK_SCHEDULE: '0 0 0 1 1 *', API_TOKENS: `olga:operator:${OPERATOR}` },
      { override: (b) => b.overrideProvider(RunsRepository).useClass(LosingRunsRepository) },
    );
    runs = t.app.get(RunsRepository);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a failed run whose projection write was lost reads failed / REPAIR, with DBOS’s error, after one tick', async () => {
    expect(runs).toBeInstanceOf(LosingRunsRepository);
    const intent = await t.request('POST', '/api/intents', {
      goal: 'lost write',
      inputs: { tasks: [{ connector: 'fault', args: { mode: 'permanent' } }] },
      constraints: {},
    });
    const runId = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId as string;
    const operator = { authorization: `Bearer ${OPERATOR}` };
    await waitFor('DBOS to fail the run', async () =>
      (await t.request('GET', `/api/ops/wf/${runId}`, undefined, operator)).body.status === 'ERROR' ? true : undefined,
    );
    expect(runs.lost).toEqual([runId]);
    // The projection lies: the write that would have said failed never landed.
    expect((await t.request('GET', `/api/runs/${runId}`)).body).toMatchObject({ status: 'running', nextAction: 'WAIT' });

    const handle = await DBOS.triggerSchedule(OPS_TICK_NAME);
    await handle.getResult();
    const repaired = (await t.request('GET', `/api/runs/${runId}`)).body;
    expect(repaired).toMatchObject({ status: 'failed', nextAction: 'REPAIR', dbosStatus: 'ERROR' });
    expect(JSON.stringify(repaired.error)).toMatch(/permanent/i);
    const snapshot = await t.db.selectFrom('app.ops_snapshots').select('reconciled').where('tick_id', '=', handle.workflowID).executeTakeFirstOrThrow();
    expect(snapshot.reconciled).toBe(1);
  });
});
