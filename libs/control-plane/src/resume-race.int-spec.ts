import { sql } from 'kysely';
import { StopWaiting } from '../../../tools/harness/index.js';
import { EffectServer } from '../../../tools/chaos/effect-server.js';
import { Prng } from '../../../tools/chaos/prng.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'race-operator-token-00000';
const op = { authorization: `Bearer ${OPERATOR}` };

/**
 * Cancel a run in its durable sleep and resume it at once: if the resume comes before the first
 * execution has seen the cancel, both wake and reach ExecuteST. The effect must happen once (only
 * the live execution's claim succeeds) — counted at the downstream server, whose first answer is a
 * 503 so the task retries — and the run must end SUCCESS in DBOS and succeeded in its projection,
 * with one completed mark.
 */
describe('resume while the cancelled execution still sleeps', () => {
  let t: TestApp;
  let effects: EffectServer;

  beforeAll(async () => {
    effects = await new EffectServer({
      rng: new Prng('resume-race'),
      minLatencyMs: 0,
      maxLatencyMs: 0,
      faultRate: 1,
      faultablePrefix: '/effects/race/',
    }).start();
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}`, HTTP_CONNECTOR_ALLOWLIST: effects.prefix });
  });
  afterAll(async () => {
    await t?.close();
    await effects?.close();
  });

  it('ends once: one effect, one completed ExecuteST mark, SUCCESS everywhere', async () => {
    const intent = await t.request('POST', '/api/intents', {
      goal: 'race',
      inputs: { tasks: [{ connector: 'http', args: { method: 'POST', url: effects.url('race/one'), body: { race: true } } }] },
      constraints: { delayMs: 2000, maxAttempts: 3 },
    });
    const runId = (await t.request('POST', '/api/runs', { intentId: intent.body.intentId })).body.runId as string;
    await waitFor('the sleep', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.status === 'waiting' ? true : undefined));
    expect((await t.request('POST', `/api/ops/wf/${runId}/cancel`, { actor: 'a', reason: 'r' }, op)).status).toBe(202);
    await waitFor('CANCELLED', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus === 'CANCELLED' ? true : undefined));
    expect((await t.request('POST', `/api/ops/wf/${runId}/resume`, { actor: 'a', reason: 'r' }, op)).status).toBe(202);

    await waitFor('SUCCESS', async () => ((await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus === 'SUCCESS' ? true : undefined));
    // The harm would come from the first execution waking from its sleep: wait (bounded) until its
    // recorded wake-up and a retry backoff have passed, failing at once if a second effect arrives.
    const wake = await sql<{
      wake: string;
    }>`SELECT completed_at_epoch_ms AS wake FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} AND function_name = 'DBOS.sleep'`.execute(t.db);
    const quietUntil = Number(wake.rows[0]!.wake) + 2000;
    const made = (): number => [...effects.keys.values()].reduce((n, r) => n + r.requests - r.faulted, 0);
    await waitFor('the first execution to have woken (or never)', () => {
      if (made() > 1) throw new StopWaiting(`the effect was made ${made()} times (${effects.totalRequests} requests, one answered 503)`);
      return Promise.resolve(Date.now() > quietUntil ? true : undefined);
    });
    expect({ keys: effects.distinctKeys, made: made(), anomalies: effects.anomalies }).toEqual({ keys: 1, made: 1, anomalies: [] });

    const run = (await t.request('GET', `/api/runs/${runId}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', dbosStatus: 'SUCCESS', nextAction: 'NONE' });
    const completed = await t.db.selectFrom('app.run_steps').select('step_id').where('run_id', '=', runId).where('phase', '=', 'completed').execute();
    expect(completed.map((m) => m.step_id).sort()).toEqual(['ApplyPatchST', 'CompileST', 'DecideST', 'ExecuteST']);
    const reports = await t.db.selectFrom('app.artifacts').select('id').where('run_id', '=', runId).where('kind', '=', 'execution_report').execute();
    expect(reports).toHaveLength(1);
    const receipt = await t.db.selectFrom('app.task_receipts').selectAll().where('run_id', '=', runId).executeTakeFirstOrThrow();
    expect(receipt.status).toBe('succeeded');
    expect(receipt.attempts).toBeLessThanOrEqual(3);
  });
});
