import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '#common';
import { OpsAuditRepository } from './ops-audit.repository.js';
import { startTestApp, type TestApp } from '../../../test/support/test-app.js';
import { waitFor } from '../../../test/support/wait.js';
import { opsStatus, startRun as startRunOf } from '../../../test/support/runs.js';

const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789ab';
const op = { authorization: `Bearer ${OPERATOR}` };
const viewer = { authorization: `Bearer ${VIEWER}` };
const why = { actor: 'alice', reason: 'integration test' };

describe('control plane: the exact six routes', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ OPS_API_TOKENS: `alice:operator:${OPERATOR},victor:viewer:${VIEWER}` });
  });
  afterAll(async () => {
    await t?.close();
  });

  const startRun = (tasks: unknown[], constraints: Record<string, unknown> = {}): Promise<string> => startRunOf(t, tasks, constraints, 'ops test');
  const dbosStatus = (id: string, want: string[], timeoutMs = 30_000): Promise<any> => opsStatus(t, id, want, viewer, timeoutMs);

  async function opsRows(): Promise<any[]> {
    return t.db.selectFrom('app.artifacts').selectAll().where('step_id', '=', 'OPS').orderBy('id').execute();
  }

  it('serves exactly the checked-in openapi.json (which the policy checks read: six routes, strict contracts)', () => {
    const checkedIn = JSON.parse(readFileSync(join(projectRoot(), 'openapi.json'), 'utf8'));
    expect(JSON.parse(JSON.stringify(t.document))).toEqual(checkedIn);
  });

  it('answers 401 without a token or with a bad one, and 403 to a viewer on a POST', async () => {
    const runId = await startRun([{ connector: 'echo', args: { value: 1 } }]);
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/ops/wf'],
      ['GET', `/api/ops/wf/${runId}`],
      ['GET', `/api/ops/wf/${runId}/steps`],
      ['POST', `/api/ops/wf/${runId}/cancel`, why],
      ['POST', `/api/ops/wf/${runId}/resume`, why],
      ['POST', `/api/ops/wf/${runId}/fork`, { ...why, stepN: 1 }],
    ];
    for (const [method, path, body] of routes) {
      expect([method, path, (await t.request(method, path, body)).status]).toEqual([method, path, 401]);
      expect([method, path, (await t.request(method, path, body, { authorization: 'Bearer not-a-token' })).status]).toEqual([method, path, 401]);
      expect([method, path, (await t.request(method, path, body, { authorization: OPERATOR })).status]).toEqual([method, path, 401]);
      const asViewer = await t.request(method, path, body, viewer);
      expect([method, path, asViewer.status]).toEqual([method, path, method === 'GET' ? 200 : 403]);
    }
    expect(await opsRows()).toHaveLength(0);
    await dbosStatus(runId, ['SUCCESS']);
  });

  it('cancel: 409 naming the status of a finished run; 202 on a waiting one, with its OPS row; resume brings it back', async () => {
    const done = await startRun([{ connector: 'echo', args: { value: 'done' } }]);
    await dbosStatus(done, ['SUCCESS']);
    const conflict = await t.request('POST', `/api/ops/wf/${done}/cancel`, why, op);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: 'conflict', status: 'SUCCESS' });
    expect(conflict.body.message).toContain('SUCCESS');

    const waiting = await startRun([{ connector: 'echo', args: { value: 'later' } }], { delayMs: 2500 });
    await waitFor('the run to sleep', async () => ((await t.request('GET', `/api/runs/${waiting}`)).body.status === 'waiting' ? true : undefined));
    const before = Date.now();
    const cancel = await t.request('POST', `/api/ops/wf/${waiting}/cancel`, { actor: 'bob', reason: 'customer asked' }, op);
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ accepted: true, workflowID: waiting, op: 'cancel' });
    await dbosStatus(waiting, ['CANCELLED']);
    expect((await t.request('GET', `/api/runs/${waiting}`)).body).toMatchObject({ status: 'canceled', nextAction: 'RESUME' });

    const rows = await opsRows();
    const row = rows.find((r) => r.run_id === waiting);
    expect(row).toMatchObject({ step_id: 'OPS', idx: 0, kind: 'json_diagnostic', action_id: cancel.body.actionId });
    expect(row.inline).toMatchObject({ op: 'cancel', actor: 'bob', reason: 'customer asked', targetWorkflowID: waiting, principal: 'alice' });
    expect(Date.parse(row.inline.at)).toBeGreaterThanOrEqual(before - 1000);

    // Cancelling again is a conflict and adds nothing.
    expect((await t.request('POST', `/api/ops/wf/${waiting}/cancel`, why, op)).status).toBe(409);
    expect(await opsRows()).toHaveLength(rows.length);

    const resume = await t.request('POST', `/api/ops/wf/${waiting}/resume`, { actor: 'bob', reason: 'customer changed their mind' }, op);
    expect(resume.status).toBe(202);
    expect(resume.body.workflowID).toBe(waiting);
    await dbosStatus(waiting, ['SUCCESS']);
    expect((await t.request('GET', `/api/runs/${waiting}`)).body).toMatchObject({ status: 'succeeded', nextAction: 'NONE' });
    const detail = await t.request('GET', `/api/ops/wf/${waiting}`, undefined, viewer);
    expect(detail.body.ops.map((o: { op: string }) => o.op)).toEqual(['cancel', 'resume']);
    expect(detail.body.run).toMatchObject({ runId: waiting, status: 'succeeded' });
  });

  it('resume of an ERROR workflow is a 409 that says to fork', async () => {
    const failed = await startRun([{ connector: 'fault', args: { mode: 'permanent' } }]);
    await dbosStatus(failed, ['ERROR']);
    const res = await t.request('POST', `/api/ops/wf/${failed}/resume`, why, op);
    expect(res.status).toBe(409);
    expect(res.body.status).toBe('ERROR');
    expect(res.body.hint).toContain('fork');
    const detail = await t.request('GET', `/api/ops/wf/${failed}`, undefined, viewer);
    expect(detail.body.error).toContain('permanent failure');
  });

  it('the fork-after-fix loop: fails at ExecuteST, operator fixes the setting, fork at stepN 4 succeeds reusing steps 1-3', async () => {
    const original = await startRun([
      { connector: 'echo', args: { value: 'effect once' } },
      { connector: 'fault', args: { mode: 'until-fixed', flag: 'loop-drill' } },
    ]);
    await dbosStatus(original, ['ERROR']);
    const failedRun = (await t.request('GET', `/api/runs/${original}`)).body;
    expect(failedRun).toMatchObject({ status: 'failed', nextAction: 'REPAIR', lastStep: 'ExecuteST' });
    const steps = (await t.request('GET', `/api/ops/wf/${original}/steps`, undefined, viewer)).body;
    expect(steps.workflowID).toBe(original);
    expect(steps.steps.map((s: { stepN: number; name: string; status: string }) => `${s.stepN}:${s.name}:${s.status}`)).toEqual([
      '1:CompileST:succeeded',
      '2:ApplyPatchST:succeeded',
      '3:DecideST:succeeded',
      '4:ExecuteST:failed',
    ]);

    // Beyond the last step: 409 before DBOS is asked.
    const beyond = await t.request('POST', `/api/ops/wf/${original}/fork`, { ...why, stepN: 5 }, op);
    expect(beyond.status).toBe(409);
    expect(beyond.body.message).toContain('beyond the last recorded step');

    await t.db.insertInto('app.settings').values({ key: 'fault.loop-drill', value: 'fixed' }).execute();
    const fork = await t.request('POST', `/api/ops/wf/${original}/fork`, { actor: 'alice', reason: 'flag fixed', stepN: 4 }, op);
    expect(fork.status).toBe(202);
    const forked = fork.body.forkedWorkflowID as string;
    expect(fork.body).toMatchObject({ accepted: true, workflowID: original, op: 'fork', stepN: 4 });

    // The run row exists at once, with the reused steps marked.
    const immediate = await t.request('GET', `/api/runs/${forked}`);
    expect(immediate.status).toBe(200);
    expect(immediate.body.forkedFrom).toBe(original);
    expect(
      immediate.body.marks
        .filter((m: { phase: string }) => m.phase === 'reused')
        .map((m: { stepId: string }) => m.stepId)
        .sort(),
    ).toEqual(['ApplyPatchST', 'CompileST', 'DecideST']);

    await dbosStatus(forked, ['SUCCESS']);
    const forkedRun = (await t.request('GET', `/api/runs/${forked}`)).body;
    expect(forkedRun).toMatchObject({ status: 'succeeded', nextAction: 'NONE', forkedFrom: original });

    // Steps 1-3 came from checkpoints: same records as the original's, not re-run.
    const forkedSteps = (await t.request('GET', `/api/ops/wf/${forked}/steps`, undefined, viewer)).body.steps;
    expect(forkedSteps.slice(0, 3)).toEqual(steps.steps.slice(0, 3));
    expect(forkedSteps[3]).toMatchObject({ stepN: 4, name: 'ExecuteST', status: 'succeeded' });
    const artifacts = await t.db.selectFrom('app.artifacts').select('step_id').where('run_id', '=', forked).execute();
    expect(artifacts.map((a) => a.step_id)).toEqual(['ExecuteST']);

    // The echo effect is replayed from its receipt; only the fault task is re-attempted.
    const report = (await t.request('GET', `/api/runs/${forked}/artifacts`)).body.artifacts.find((a: { kind: string }) => a.kind === 'execution_report');
    expect(report.inline.tasks.map((task: { connector: string; replayed: boolean }) => [task.connector, task.replayed])).toEqual([
      ['echo', true],
      ['fault', false],
    ]);
    const receipts = await t.db.selectFrom('app.task_receipts').selectAll().where('lineage_root', '=', original).orderBy('task_index').execute();
    expect(receipts.map((r) => [r.connector, r.status, r.attempts])).toEqual([
      ['echo', 'succeeded', 1],
      ['fault', 'succeeded', 2],
    ]);

    const row = (await opsRows()).find((r) => r.inline.op === 'fork');
    expect(row.run_id).toBe(original);
    expect(row.inline).toMatchObject({ op: 'fork', actor: 'alice', reason: 'flag fixed', targetWorkflowID: original, forkedWorkflowID: forked, stepN: 4 });
  });

  it('a fork at stepN 2 reuses CompileST and runs ApplyPatchST and DecideST again, then ExecuteST, which replays its effect', async () => {
    const original = await startRun([{ connector: 'echo', args: { value: 'fork mid-prefix' } }]);
    await dbosStatus(original, ['SUCCESS']);
    const steps = (await t.request('GET', `/api/ops/wf/${original}/steps`, undefined, viewer)).body.steps;
    const fork = await t.request('POST', `/api/ops/wf/${original}/fork`, { ...why, stepN: 2 }, op);
    expect(fork.status).toBe(202);
    const forked = fork.body.forkedWorkflowID as string;
    await dbosStatus(forked, ['SUCCESS']);
    expect((await t.request('GET', `/api/runs/${forked}`)).body).toMatchObject({ status: 'succeeded', nextAction: 'NONE', forkedFrom: original });
    const forkedSteps = (await t.request('GET', `/api/ops/wf/${forked}/steps`, undefined, viewer)).body.steps;
    expect(forkedSteps[0]).toEqual(steps[0]);
    expect(forkedSteps.map((s: { stepN: number; name: string; status: string }) => `${s.stepN}:${s.name}:${s.status}`)).toEqual([
      '1:CompileST:succeeded',
      '2:ApplyPatchST:succeeded',
      '3:DecideST:succeeded',
      '4:ExecuteST:succeeded',
    ]);
    const artifacts = await t.db.selectFrom('app.artifacts').select('step_id').where('run_id', '=', forked).orderBy('id').execute();
    expect(artifacts.map((a) => a.step_id)).toEqual(['ApplyPatchST', 'DecideST', 'ExecuteST']);
    const report = (await t.request('GET', `/api/runs/${forked}/artifacts`)).body.artifacts.find((a: { kind: string }) => a.kind === 'execution_report');
    expect(report.inline.tasks.map((task: { replayed: boolean }) => task.replayed)).toEqual([true]);
  });

  it('fork needs a finished workflow and a known appVersion', async () => {
    const waiting = await startRun([{ connector: 'echo', args: { value: 1 } }], { delayMs: 60_000 });
    await waitFor('the run to sleep', async () => ((await t.request('GET', `/api/runs/${waiting}`)).body.status === 'waiting' ? true : undefined));
    const notDone = await t.request('POST', `/api/ops/wf/${waiting}/fork`, { ...why, stepN: 1 }, op);
    expect(notDone.status).toBe(409);
    expect(notDone.body.status).toBe('DELAYED');
    expect((await t.request('POST', `/api/ops/wf/${waiting}/cancel`, why, op)).status).toBe(202);
    await dbosStatus(waiting, ['CANCELLED']);
    const unknownVersion = await t.request('POST', `/api/ops/wf/${waiting}/fork`, { ...why, stepN: 1, appVersion: 'never-deployed' }, op);
    expect(unknownVersion.status).toBe(409);
    expect(unknownVersion.body.message).toContain('never-deployed');
  });

  it('rejected requests (400/404/409) change nothing', async () => {
    const before = (await opsRows()).length;
    const cases: [string, string, unknown, number][] = [
      ['POST', '/api/ops/wf/run_nope/cancel', why, 404],
      ['POST', '/api/ops/wf/run_nope/fork', { ...why, stepN: 1 }, 404],
      ['POST', '/api/ops/wf/run_nope/cancel', { actor: 'a' }, 400],
      ['POST', '/api/ops/wf/run_nope/cancel', { ...why, extra: true }, 400],
      ['POST', '/api/ops/wf/run_nope/cancel', { actor: '', reason: 'r' }, 400],
      ['POST', '/api/ops/wf/run_nope/fork', { ...why, stepN: 0 }, 400],
      ['POST', '/api/ops/wf/run_nope/fork', { ...why, stepN: 1.5 }, 400],
      ['POST', '/api/ops/wf/run_nope/fork', { ...why, stepN: '4' }, 400],
      ['GET', '/api/ops/wf/run_nope', undefined, 404],
      ['GET', '/api/ops/wf/run_nope/steps', undefined, 404],
      ['GET', '/api/ops/wf?bogus=1', undefined, 400],
      ['GET', '/api/ops/wf?limit=201', undefined, 400],
      ['GET', '/api/ops/wf?status=DONE', undefined, 400],
      ['GET', '/api/ops/wf?cursor=xyz', undefined, 400],
      ['GET', '/api/ops/wf?createdAfter=yesterday', undefined, 400],
      ['GET', `/api/ops/wf/${encodeURIComponent('bad id')}`, undefined, 400],
    ];
    for (const [method, path, body, status] of cases) {
      const res = await t.request(method, path, body, op);
      expect([method, path, res.status]).toEqual([method, path, status]);
      if (status === 400) expect(res.body.error).toBe('validation');
    }
    expect(await opsRows()).toHaveLength(before);
  });

  it('two actions in the same millisecond are two audit rows', async () => {
    const audit = t.app.get(OpsAuditRepository);
    const at = new Date().toISOString();
    const base = { op: 'cancel' as const, targetWorkflowID: 'run_same_ms', actor: 'a', reason: 'r', principal: 'alice', at };
    await audit.record({ ...base, actionId: 'act_same_ms_1' });
    await audit.record({ ...base, actionId: 'act_same_ms_2' });
    await audit.record({ ...base, actionId: 'act_same_ms_2' }); // a replayed step: no third row
    const rows = await t.db.selectFrom('app.artifacts').select(['action_id', 'created_at']).where('run_id', '=', 'run_same_ms').execute();
    expect(rows.map((r) => r.action_id).sort()).toEqual(['act_same_ms_1', 'act_same_ms_2']);
    expect(rows[0]!.created_at.getTime()).toBe(rows[1]!.created_at.getTime());
  });

  it('lists workflows with filters and an opaque keyset cursor', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await startRun([{ connector: 'echo', args: { value: `list-${i}` } }]));
    for (const id of ids) await dbosStatus(id, ['SUCCESS']);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { items: { workflowID: string; name: string; status: string }[]; nextCursor: string | null } } = await t.request(
        'GET',
        `/api/ops/wf?name=IntentWorkflow&status=SUCCESS&status=ERROR&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        viewer,
      );
      expect(res.status).toBe(200);
      for (const item of res.body.items) expect([item.name, ['SUCCESS', 'ERROR'].includes(item.status)]).toEqual(['IntentWorkflow', true]);
      seen.push(...res.body.items.map((i) => i.workflowID));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
    const queue = await t.request('GET', '/api/ops/wf?queue=intents&limit=200', undefined, viewer);
    expect(queue.body.items.every((i: { queue: string }) => i.queue === 'intents')).toBe(true);
    const future = await t.request('GET', `/api/ops/wf?createdAfter=${new Date(Date.now() + 60_000).toISOString()}`, undefined, viewer);
    expect(future.body).toEqual({ items: [], nextCursor: null });
  });
});
