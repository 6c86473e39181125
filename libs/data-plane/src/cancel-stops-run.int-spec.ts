import { DBOSExecutor } from '@dbos-inc/dbos-sdk/internal/dbos-executor';
import { sql } from 'kysely';
import { EffectCounter } from '../../../test/support/effect-counter.js';
import { startRun } from '../../../test/support/runs.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const OPERATOR = 'cancel-operator-token-000';
const op = { authorization: `Bearer ${OPERATOR}` };
const why = { actor: 'alice', reason: 'cancel stops a run' };

/** True while an execution of the workflow is running in this process (DBOS's own registry). */
function runningHere(runId: string): boolean {
  return DBOSExecutor.globalInstance?.systemDatabase.checkForRunningWorkflow(runId) ?? false;
}

/**
 * Cancel stops a run: a cancelled run's execution in this process ends (also in its durable sleep),
 * a cancelled execution mid-ExecuteST makes no further effect, and resume after any number of
 * cancels yields one execution: effects counted at a loopback server that sees every request.
 */
describe('cancel stops a run; resume after cancel is one execution', () => {
  let t: TestApp;
  const effects = new EffectCounter();

  beforeAll(async () => {
    await effects.start();
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR}`, HTTP_CONNECTOR_ALLOWLIST: `${effects.prefix}/` });
  });
  afterAll(async () => {
    await t?.close();
    await effects.close();
  });

  const http = (path: string) => ({ connector: 'http', args: { method: 'POST', url: effects.url(path), body: { path } } });
  const act = async (runId: string, verb: 'cancel' | 'resume'): Promise<void> => {
    const res = await t.request('POST', `/api/ops/wf/${runId}/${verb}`, why, op);
    expect([verb, res.status, res.text]).toEqual([verb, 202, expect.any(String)]);
  };
  const dbosStatus = async (runId: string): Promise<string> => (await t.request('GET', `/api/runs/${runId}`)).body.dbosStatus as string;
  const settledAs = (runId: string, want: string, timeoutMs = 30_000) =>
    waitFor(`${runId} to be ${want}`, async () => ((await dbosStatus(runId)) === want ? true : undefined), timeoutMs);
  const sleeping = (runId: string) =>
    waitFor(`${runId} to sleep`, async () => ((await t.request('GET', `/api/runs/${runId}`)).body.status === 'waiting' ? true : undefined));
  const allEnded = (runId: string) => waitFor(`every execution of ${runId} to end`, () => Promise.resolve(runningHere(runId) ? undefined : true), 20_000);
  const keysOf = async (runId: string): Promise<string[]> =>
    (await t.db.selectFrom('app.task_receipts').select('task_key').where('lineage_root', '=', runId).orderBy('task_index').execute()).map((r) => r.task_key);

  it('a cancelled run in its durable sleep stops executing at once, not at its deadline', async () => {
    const runId = await startRun(t, [http('sleeper')], { delayMs: 20_000 });
    await sleeping(runId);
    // A delayed run first waits DELAYED on the queue, in no process; cancelled and resumed, it runs
    // its first steps and sleeps the rest of its delay (counted from its creation) right here.
    await act(runId, 'cancel');
    await act(runId, 'resume');
    await waitFor('the resumed run to sleep in this process', async () => {
      const steps = (await t.request('GET', `/api/runs/${runId}/steps`)).body.steps as { name: string }[];
      return runningHere(runId) && steps.some((s) => s.name === 'DBOS.sleep') ? true : undefined;
    });
    await act(runId, 'cancel');
    // DBOS's cancellation watch polls once a second; the sleep had about 20 s left.
    await waitFor('the cancelled execution to end', () => Promise.resolve(runningHere(runId) ? undefined : true), 5000);
    expect(await dbosStatus(runId)).toBe('CANCELLED');
    expect(effects.total).toBe(0);
  });

  it('20 cancel+resume rounds of a sleeping http run (maxAttempts 1): one request, one attempt', async () => {
    const before = effects.total;
    const runId = await startRun(t, [http('rounds')], { delayMs: 8000, maxAttempts: 1 });
    await sleeping(runId);
    // Back to back: the rounds hit the run sleeping, queued again after a resume, and in between.
    for (let round = 0; round < 20; round++) {
      await act(runId, 'cancel');
      await act(runId, 'resume');
    }
    await settledAs(runId, 'SUCCESS');
    // Any execution a round left behind wakes at the same deadline: wait until every one has ended.
    await allEnded(runId);
    const [key] = await keysOf(runId);
    expect(effects.total - before).toBe(1);
    expect(effects.count(key!)).toBe(1);
    const receipt = await t.db.selectFrom('app.task_receipts').selectAll().where('task_key', '=', key!).executeTakeFirstOrThrow();
    expect(receipt).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((await t.request('GET', `/api/runs/${runId}`)).body.status).toBe('succeeded');
  });

  it('cancel mid-ExecuteST: the cancelled execution makes no further effect', async () => {
    const before = effects.total;
    effects.hold = (_key, seen) => seen === 1 && effects.total - before === 2;
    const runId = await startRun(t, [http('stop-0'), http('stop-1'), http('stop-2'), http('stop-3')]);
    const held = await effects.nextHeld();
    await act(runId, 'cancel');
    effects.hold = undefined;
    effects.release();
    await settledAs(runId, 'CANCELLED');
    await allEnded(runId);
    const keys = await keysOf(runId);
    expect(keys.indexOf(held)).toBe(1);
    // Tasks 0 and 1 were sent before the cancel; nothing after it.
    expect(keys.map((k) => effects.count(k))).toEqual([1, 1, 0, 0].slice(0, keys.length));
    expect(effects.total - before).toBe(2);
    expect(runningHere(runId)).toBe(false);
  });

  it('a cancel that lands between DecideST and ExecuteST: no send, no attempt counted, the run ends CANCELLED', async () => {
    // The cancel commits with the first three steps (a trigger on DecideST's checkpoint sets the row
    // CANCELLED as DBOS's cancel does): ExecuteST, which reads no state of its own after steps its
    // execution just recorded, must learn it from its claim, and end as cancelled, not as failed.
    await sql`
      CREATE FUNCTION dbos.cancel_after_decide() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.function_name = 'DecideST' THEN
          UPDATE dbos.workflow_status SET status = 'CANCELLED', queue_name = NULL WHERE workflow_uuid = NEW.workflow_uuid;
        END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER cancel_after_decide AFTER INSERT ON dbos.operation_outputs FOR EACH ROW EXECUTE FUNCTION dbos.cancel_after_decide()`.execute(t.db);
    const before = effects.total;
    let runId: string;
    try {
      runId = await startRun(t, [http('between-0')]);
      await settledAs(runId, 'CANCELLED');
      await allEnded(runId);
    } finally {
      await sql`DROP TRIGGER cancel_after_decide ON dbos.operation_outputs`.execute(t.db);
      await sql`DROP FUNCTION dbos.cancel_after_decide()`.execute(t.db);
    }
    expect(effects.total - before).toBe(0);
    const attempts = await t.db.selectFrom('app.task_attempts').select('seq').where('run_id', '=', runId).execute();
    expect(attempts).toEqual([]);
    const steps = await sql<{ function_name: string; failed: boolean }>`
      SELECT function_name, error IS NOT NULL AS failed FROM dbos.operation_outputs WHERE workflow_uuid = ${runId} ORDER BY function_id`.execute(t.db);
    expect(steps.rows).toEqual([
      { function_name: 'CompileST', failed: false },
      { function_name: 'ApplyPatchST', failed: false },
      { function_name: 'DecideST', failed: false },
    ]);
    expect(await dbosStatus(runId)).toBe('CANCELLED');
  });

  it('cancel+resume mid-ExecuteST: every effect once, except the one in flight (at most twice)', async () => {
    const before = effects.total;
    effects.hold = (_key, seen) => seen === 1 && effects.total - before === 2;
    const runId = await startRun(t, [http('mid-0'), http('mid-1'), http('mid-2'), http('mid-3')]);
    const held = await effects.nextHeld();
    effects.hold = undefined;
    await act(runId, 'cancel');
    await act(runId, 'resume');
    // The resumed execution sends its first effect while the cancelled one's is still open; only then
    // does the cancelled one's complete (if its client is still there).
    await waitFor('the resumed execution to send', () => Promise.resolve(effects.total - before >= 3 ? true : undefined));
    effects.release();
    await settledAs(runId, 'SUCCESS');
    await allEnded(runId);
    const keys = await keysOf(runId);
    expect(keys).toHaveLength(4);
    for (const key of keys) {
      if (key === held) expect(effects.count(key)).toBeLessThanOrEqual(2);
      else expect([key, effects.count(key)]).toEqual([key, 1]);
    }
    expect((await t.request('GET', `/api/runs/${runId}`)).body.status).toBe('succeeded');
  });
});
