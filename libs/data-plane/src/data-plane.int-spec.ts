import { DBOS } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';

const echoIntent = (value: unknown = 'hello', constraints: Record<string, unknown> = {}) => ({
  goal: 'say hello',
  inputs: { tasks: [{ connector: 'echo', args: { value } }] },
  constraints,
});

describe('data plane on real Postgres + DBOS', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function createIntent(body: unknown): Promise<string> {
    const res = await t.request('POST', '/api/intents', body);
    expect([200, 201]).toContain(res.status);
    return res.body.intentId as string;
  }

  async function startRun(intentId: string, extra: Record<string, unknown> = {}) {
    const res = await t.request('POST', '/api/runs', { intentId, ...extra });
    expect(res.status).toBe(202);
    return res.body as { runId: string; workflowID: string };
  }

  async function settled(runId: string, timeoutMs = 30_000) {
    return waitFor(
      `run ${runId} to settle`,
      async () => {
        const res = await t.request('GET', `/api/runs/${runId}`);
        return ['SUCCESS', 'ERROR', 'CANCELLED'].includes(res.body?.dbosStatus) ? res.body : undefined;
      },
      timeoutMs,
    );
  }

  async function countRows(table: 'app.intents' | 'app.runs' | 'app.artifacts' | 'app.run_steps'): Promise<number> {
    const row = await t.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  it('runs an echo intent through the four steps and records plan, patch and decision', async () => {
    const intentId = await createIntent(echoIntent('walkthrough'));
    const again = await t.request('POST', '/api/intents', echoIntent('walkthrough'));
    expect(again.status).toBe(200);
    expect(again.body.intentId).toBe(intentId);

    const run = await startRun(intentId);
    expect(run.runId).toBe(run.workflowID);
    const view = await settled(run.runId);
    expect(view).toMatchObject({ status: 'succeeded', nextAction: 'NONE', dbosStatus: 'SUCCESS', lastStep: 'ExecuteST', error: null });

    const steps = await t.request('GET', `/api/runs/${run.runId}/steps`);
    expect(steps.body.steps.map((s: { name: string }) => s.name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    expect(steps.body.steps.map((s: { stepN: number }) => s.stepN)).toEqual([1, 2, 3, 4]);

    const artifacts = await t.request('GET', `/api/runs/${run.runId}/artifacts`);
    const kinds = artifacts.body.artifacts.map((a: { kind: string }) => a.kind);
    expect(kinds).toEqual(expect.arrayContaining(['plan_card', 'patch_card', 'decision', 'execution_report']));
    const report = artifacts.body.artifacts.find((a: { kind: string }) => a.kind === 'execution_report');
    expect(report.inline.tasks[0].output).toEqual({ value: 'walkthrough' });

    const one = await t.request('GET', `/api/runs/${run.runId}/artifacts/${report.artifactId}`);
    expect(one.status).toBe(200);
    expect(one.body.kind).toBe('execution_report');

    const marks = await t.db.selectFrom('app.run_steps').selectAll().where('run_id', '=', run.runId).where('phase', '=', 'completed').execute();
    expect(marks.map((m) => m.step_id).sort()).toEqual(['ApplyPatchST', 'CompileST', 'DecideST', 'ExecuteST']);
  });

  it('a permanent fault ends the run failed / REPAIR with DBOS status ERROR and the message kept', async () => {
    const intentId = await createIntent({ goal: 'break', inputs: { tasks: [{ connector: 'fault', args: { mode: 'permanent' } }] }, constraints: {} });
    const run = await startRun(intentId);
    const view = await settled(run.runId);
    expect(view).toMatchObject({ status: 'failed', nextAction: 'REPAIR', dbosStatus: 'ERROR', lastStep: 'ExecuteST' });
    expect(view.error.message).toContain('permanent failure');
    const steps = await t.request('GET', `/api/runs/${run.runId}/steps`);
    const execute = steps.body.steps.find((s: { name: string }) => s.name === 'ExecuteST');
    expect(execute.status).toBe('failed');
    expect(execute.error.message).toContain('permanent failure');
    // Permanent errors are not retried: exactly one attempt reached the connector.
    const receipt = await t.db.selectFrom('app.task_receipts').selectAll().where('run_id', '=', run.runId).executeTakeFirstOrThrow();
    expect(receipt).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('a transient fault is retried with backoff and then succeeds', async () => {
    const intentId = await createIntent({
      goal: 'flaky',
      inputs: { tasks: [{ connector: 'fault', args: { mode: 'transient', failTimes: 2 } }] },
      constraints: { maxAttempts: 3 },
    });
    const started = Date.now();
    const run = await startRun(intentId);
    const view = await settled(run.runId);
    expect(view).toMatchObject({ status: 'succeeded', dbosStatus: 'SUCCESS' });
    // Two waits: 0.5 s then 1 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const receipt = await t.db.selectFrom('app.task_receipts').selectAll().where('run_id', '=', run.runId).executeTakeFirstOrThrow();
    expect(receipt).toMatchObject({ status: 'succeeded', attempts: 3 });
    const failedMarks = await t.db
      .selectFrom('app.run_steps')
      .select('attempt')
      .where('run_id', '=', run.runId)
      .where('phase', '=', 'failed')
      .orderBy('attempt')
      .execute();
    expect(failedMarks.map((m) => m.attempt)).toEqual([1, 2]);
  });

  it('a transient fault that outlasts maxAttempts fails the run', async () => {
    const intentId = await createIntent({
      goal: 'too flaky',
      inputs: { tasks: [{ connector: 'fault', args: { mode: 'transient', failTimes: 5 } }] },
      constraints: { maxAttempts: 2 },
    });
    const run = await startRun(intentId);
    const view = await settled(run.runId);
    expect(view).toMatchObject({ status: 'failed', nextAction: 'REPAIR', dbosStatus: 'ERROR' });
    expect(view.error.message).toContain('transient failure 2 of 5');
  });

  it('a delayed run waits DELAYED on the queue (no slot, no sleep step) and runs once its delay, counted from its creation, is over', async () => {
    const intentId = await createIntent(echoIntent('later', { delayMs: 1500 }));
    const run = await startRun(intentId);
    const waiting = await t.request('GET', `/api/runs/${run.runId}`);
    expect(waiting.body).toMatchObject({ status: 'waiting', nextAction: 'WAIT', dbosStatus: 'DELAYED' });
    const view = await settled(run.runId);
    expect(view.status).toBe('succeeded');
    const steps = await t.request('GET', `/api/runs/${run.runId}/steps`);
    // The delay was spent on the queue: DecideST finds it over and does not sleep a second time.
    expect(steps.body.steps.map((s: { name: string }) => s.name)).toEqual(['CompileST', 'ApplyPatchST', 'DecideST', 'ExecuteST']);
    expect(Date.parse(steps.body.steps[0].startedAt) - Date.parse(waiting.body.createdAt)).toBeGreaterThanOrEqual(1500);
    const decision = (await t.request('GET', `/api/runs/${run.runId}/artifacts`)).body.artifacts.find((a: { kind: string }) => a.kind === 'decision');
    expect(decision.inline).toMatchObject({ execute: true, delayMs: 0 });
  });

  it('delayed runs hold no execution slot: with 2,000 runs delayed (20 for a day) an immediate run starts and succeeds as fast as with none; cancelling one is immediate and leaves the others waiting', async () => {
    const now = await createIntent(echoIntent('now'));
    /** POST /api/runs → the run's DBOS status SUCCESS (read every 5 ms), one run at a time: p50 and max, in ms. */
    async function latencies(n: number): Promise<{ p50: number; max: number }> {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        const { runId } = await startRun(now);
        await waitFor(
          `run ${runId} to succeed`,
          async () => {
            const { rows } = await sql<{ status: string }>`SELECT status FROM dbos.workflow_status WHERE workflow_uuid = ${runId}`.execute(t.db);
            return rows[0]?.status === 'SUCCESS' ? true : undefined;
          },
          10_000,
          5,
        );
        ms.push(performance.now() - started);
      }
      ms.sort((a, b) => a - b);
      return { p50: Math.round(ms[Math.floor(n / 2)]!), max: Math.round(ms[n - 1]!) };
    }
    const before = await latencies(20);

    const later = await createIntent(echoIntent('tomorrow', { delayMs: 86_400_000 }));
    const soon = await createIntent(echoIntent('in ten minutes', { delayMs: 600_000 }));
    const delayed: string[] = [];
    for (let i = 0; i < 2000; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => startRun(i + j < 20 ? later : soon)));
      delayed.push(...batch.map((r) => r.runId));
    }
    const { rows: waiting } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM dbos.workflow_status WHERE workflow_uuid IN (${sql.join(delayed)}) AND status = 'DELAYED'`.execute(t.db);
    expect(Number(waiting[0]?.n)).toBe(delayed.length);

    const after = await latencies(20);
    console.log(
      `POST → SUCCESS, 20 immediate runs one at a time: p50/max ${before.p50}/${before.max} ms with no delayed run, ${after.p50}/${after.max} ms with 2,000`,
    );
    // A slot held by a delayed run would make an immediate run wait for the queue (or for a day): the
    // latency target is a p50 of 50 ms; on a loaded machine, hold it to the no-delayed-run figure.
    expect(after.p50).toBeLessThanOrEqual(Math.max(2 * before.p50, before.p50 + 50));
    expect(after.max).toBeLessThan(1000);

    // Cancelling a delayed run is immediate and leaves the others waiting.
    await DBOS.cancelWorkflow(delayed[0]!);
    expect((await t.request('GET', `/api/runs/${delayed[0]}`)).body.dbosStatus).toBe('CANCELLED');
    expect((await t.request('GET', `/api/runs/${delayed[1]}`)).body.dbosStatus).toBe('DELAYED');
  }, 180_000);

  it('idempotencyKey makes POST /api/runs idempotent, and conflicts across intents', async () => {
    const intentId = await createIntent(echoIntent('idem'));
    const first = await t.request('POST', '/api/runs', { intentId, idempotencyKey: 'order-42' });
    const second = await t.request('POST', '/api/runs', { intentId, idempotencyKey: 'order-42' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.runId).toBe(first.body.runId);
    const other = await createIntent(echoIntent('other'));
    const conflict = await t.request('POST', '/api/runs', { intentId: other, idempotencyKey: 'order-42' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('conflict');
    const runs = await t.db.selectFrom('app.runs').select('id').where('idempotency_key', '=', 'order-42').execute();
    expect(runs).toHaveLength(1);
    await settled(first.body.runId);
  });

  it('every invalid intent is a 400 with details and writes nothing', async () => {
    const intentsBefore = await countRows('app.intents');
    const cases: [string, unknown][] = [
      ['extra top-level property', { ...echoIntent(), extra: 1 }],
      ['extra nested property', { goal: 'g', inputs: { tasks: [{ connector: 'echo', args: { value: 1 }, x: 1 }] }, constraints: {} }],
      ['extra constraint', echoIntent('v', { speed: 'fast' })],
      ['missing goal', { inputs: echoIntent().inputs, constraints: {} }],
      ['empty goal', { ...echoIntent(), goal: '' }],
      ['unknown connector', { goal: 'g', inputs: { tasks: [{ connector: 'smtp', args: {} }] }, constraints: {} }],
      ['connector outside connectors', { goal: 'g', inputs: { tasks: [{ connector: 'echo', args: { value: 1 } }] }, constraints: {}, connectors: ['http'] }],
      ['no tasks', { goal: 'g', inputs: { tasks: [] }, constraints: {} }],
      ['bad echo args', { goal: 'g', inputs: { tasks: [{ connector: 'echo', args: { nope: 1 } }] }, constraints: {} }],
      [
        'http outside the allowlist',
        { goal: 'g', inputs: { tasks: [{ connector: 'http', args: { method: 'GET', url: 'http://127.0.0.1:1/x' } }] }, constraints: {} },
      ],
      ['fault without flag', { goal: 'g', inputs: { tasks: [{ connector: 'fault', args: { mode: 'until-fixed' } }] }, constraints: {} }],
      ['delayMs out of range', echoIntent('v', { delayMs: -1 })],
      ['maxAttempts too high', echoIntent('v', { maxAttempts: 11 })],
      ['notBefore not a time', echoIntent('v', { notBefore: 'tomorrow' })],
      ['notBefore more than 24 h ahead', echoIntent('v', { notBefore: '9999-12-31T00:00:00Z' })],
      ['notBefore 25 h ahead', echoIntent('v', { notBefore: new Date(Date.now() + 25 * 3_600_000).toISOString() })],
      ['missing constraints', { goal: 'g', inputs: echoIntent().inputs }],
      ['array body', [echoIntent()]],
      ['NUL in the goal', { ...echoIntent(), goal: 'a\u0000b' }],
      ['NUL deep in open data', { ...echoIntent(), inputs: { ...echoIntent().inputs, data: { note: ['ok', 'bad\u0000'] } } }],
      ['too many tasks', { goal: 'g', inputs: { tasks: Array.from({ length: 101 }, () => ({ connector: 'echo', args: { value: 1 } })) }, constraints: {} }],
    ];
    for (const [name, body] of cases) {
      const res = await t.request('POST', '/api/intents', body);
      expect({ name, status: res.status, error: res.body?.error }).toEqual({ name, status: 400, error: 'validation' });
      expect(Array.isArray(res.body.details) && res.body.details.length > 0).toBe(true);
    }
    // notBefore beyond the 24 h cap (as delayMs is capped) says so, naming the field and the cap.
    for (const notBefore of ['9999-12-31T00:00:00Z', new Date(Date.now() + 25 * 3_600_000).toISOString()]) {
      const far = await t.request('POST', '/api/intents', echoIntent('v', { notBefore }));
      expect([far.status, JSON.stringify(far.body.details)]).toEqual([400, expect.stringContaining('notBefore must be at most 24 h (86400000 ms) from now')]);
    }
    const invalidJson = await t.request('POST', '/api/intents', '{"goal": ');
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body.details[0].message).toContain('not valid JSON');
    expect(await countRows('app.intents')).toBe(intentsBefore);
  });

  it('unknown intents and runs are 404s', async () => {
    const missingIntent = await t.request('POST', '/api/runs', { intentId: `it_${'0'.repeat(32)}` });
    expect(missingIntent.status).toBe(404);
    expect((await t.request('GET', '/api/runs/run_missing')).status).toBe(404);
    expect((await t.request('GET', '/api/runs/run_missing/steps')).status).toBe(404);
    expect((await t.request('GET', '/api/runs/run_missing/artifacts')).status).toBe(404);
    expect((await t.request('GET', `/api/intents/it_${'0'.repeat(32)}`)).status).toBe(404);
  });

  it('lists runs and intents with keyset cursors', async () => {
    const intentId = await createIntent(echoIntent('page'));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await startRun(intentId)).runId);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { runId: string }[]; nextCursor: string | null } } = await t.request(
        'GET',
        `/api/runs?intentId=${intentId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...res.body.items.map((r) => r.runId));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    expect((await t.request('GET', '/api/runs?cursor=garbage')).status).toBe(400);
    expect((await t.request('GET', '/api/runs?limit=0')).status).toBe(400);
    expect((await t.request('GET', '/api/runs?bogus=1')).status).toBe(400);
    const intents = await t.request('GET', '/api/intents?limit=1');
    expect(intents.body.items).toHaveLength(1);
    expect(intents.body.nextCursor).toEqual(expect.any(String));
    for (const id of ids) await settled(id);
  });

  it('serves /healthz and the OpenAPI document with strict schemas', async () => {
    const health = await t.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', dbosLaunched: true, databaseReachable: true, appVersion: expect.any(String) });
    const doc = await t.request('GET', '/api/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.components.schemas.CreateIntentRequest.additionalProperties).toBe(false);
    const ui = await t.request('GET', '/api/docs');
    expect(ui.text).toContain('swagger-ui');
  });
});
