import { sql } from 'kysely';
import { startRun } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'targets-operator-token-00';
const op = { authorization: `Bearer ${OPERATOR}` };
const why = { actor: 'alice', reason: 'control actions only target runs' };

async function footprint(t: TestApp): Promise<{ workflows: number; ops: number; statuses: string }> {
  const { rows } = await sql<{ workflows: string; ops: string; statuses: string }>`
    SELECT (SELECT count(*) FROM dbos.workflow_status) AS workflows,
           (SELECT count(*) FROM app.artifacts WHERE step_id = 'OPS') AS ops,
           (SELECT string_agg(workflow_uuid || '=' || status || '@' || coalesce(queue_name, '-'), ',' ORDER BY workflow_uuid) FROM dbos.workflow_status) AS statuses`.execute(
    t.db,
  );
  const row = rows[0]!;
  return { workflows: Number(row.workflows), ops: Number(row.ops), statuses: row.statuses };
}

/**
 * Control actions only target runs (IntentWorkflow and its forks): the service's own workflows, an
 * audited action (ops_<actionId>) and the scheduled tick, answer 409 and change nothing.
 */
describe('control actions on the service’s own workflows', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}`, OPS_TICK_SCHEDULE: '* * * * * *' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('cancel, resume and fork of an ops_<actionId> workflow or a tick answer 409 and change nothing', async () => {
    const runId = await startRun(t, [{ connector: 'echo', args: { value: 'target' } }], { delayMs: 20_000 });
    await waitFor('the run to sleep', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.status === 'waiting' ? true : undefined));
    const cancelled = await t.request('POST', `/api/ops/wf/${runId}/cancel`, why, op);
    expect(cancelled.status).toBe(202);
    const action = `ops_${cancelled.body.actionId as string}`;
    const tick = await waitFor('a scheduled tick to finish', async () => {
      const { rows } = await sql<{ id: string }>`
        SELECT workflow_uuid AS id FROM dbos.workflow_status WHERE name = 'OpsTickWorkflow' AND status = 'SUCCESS' LIMIT 1`.execute(t.db);
      return rows[0]?.id;
    });
    // The tick keeps firing: compare the footprint of the targets only, and the OPS rows.
    for (const target of [action, tick]) {
      const before = await footprint(t);
      for (const [verb, body] of [
        ['cancel', why],
        ['resume', why],
        ['fork', { ...why, stepN: 1 }],
      ] as const) {
        const res = await t.request('POST', `/api/ops/wf/${target}/${verb}`, body, op);
        expect([target, verb, res.status]).toEqual([target, verb, 409]);
        expect(res.body).toMatchObject({ error: 'conflict', status: 'SUCCESS' });
        expect(res.body.message).toContain('not a run');
      }
      const after = await footprint(t);
      expect(after.ops).toBe(before.ops);
      const mine = (s: string) =>
        s.split(',').filter((w) => w.startsWith(`${target}=`) || w.startsWith('ops_') || w.startsWith('run_') || w.startsWith('fork_'));
      expect(mine(after.statuses)).toEqual(mine(before.statuses));
    }
    // The run itself is still a target.
    expect((await t.request('POST', `/api/ops/wf/${runId}/resume`, why, op)).status).toBe(202);
  });
});
