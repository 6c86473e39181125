import { describe, expect, it } from '@jest/globals';
import type { WorkflowDetail, WorkflowStepView } from '#contracts';
import { freePort } from '#db';
import { formatTable } from './list.js';
import { checkHealth, healthUrl, renderTriage, type TriageFacts, verdictOf } from './triage.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');

function step(stepN: number, name: string, extra: Partial<WorkflowStepView> = {}): WorkflowStepView {
  return {
    stepN,
    functionId: stepN - 1,
    name,
    status: 'succeeded',
    startedAt: '2026-03-01T11:59:00.000Z',
    completedAt: '2026-03-01T11:59:00.010Z',
    durationMs: 10,
    error: null,
    childWorkflowID: null,
    ...extra,
  };
}

const PIPELINE = [step(1, 'CompileST'), step(2, 'ApplyPatchST'), step(3, 'DecideST')];

function facts(status: string, steps: WorkflowStepView[], extra: Partial<TriageFacts> = {}): TriageFacts {
  const detail: WorkflowDetail = {
    workflowID: 'run_1',
    status,
    name: 'IntentWorkflow',
    queue: 'intents',
    appVersion: '0.1.0',
    executorId: 'host:3000',
    createdAt: '2026-03-01T11:59:00.000Z',
    updatedAt: '2026-03-01T11:59:01.000Z',
    recoveryAttempts: 1,
    forkedFrom: null,
    completedAt: null,
    error: status === 'ERROR' ? 'permanent failure: boom' : null,
    run: null,
    ops: [],
  };
  return {
    id: 'run_1',
    now: NOW,
    healthUrl: 'http://127.0.0.1:3000/healthz',
    health: { up: true, ok: true, httpStatus: 200, body: { executorID: 'host:3000', appVersion: '0.1.0', dbosLaunched: true, databaseReachable: true } },
    detail,
    steps,
    marks: [],
    queue: undefined,
    delayUntil: undefined,
    ...extra,
  };
}

describe('triage verdicts', () => {
  it('ERROR: fork at the failed step', () => {
    const v = verdictOf(facts('ERROR', [...PIPELINE, step(4, 'ExecuteST', { status: 'failed', error: { name: 'PermanentTaskError', message: 'boom' } })]));
    expect(v.verdict).toBe('failed at step 4 (ExecuteST): boom');
    expect(v.next.join('\n')).toContain('fork at step 4');
    expect(v.next).toContain('  echo run_1 | mise run ops:retry-from-step 4');
  });

  it('ERROR after a delay: the failed step is 5 (the sleep is step 4)', () => {
    const sleep = step(4, 'DBOS.sleep', { completedAt: '2026-03-01T11:59:30.000Z', durationMs: 30_000 });
    const v = verdictOf(facts('ERROR', [...PIPELINE, sleep, step(5, 'ExecuteST', { status: 'failed', error: { name: 'E', message: 'x' } })]));
    expect(v.next).toContain('  echo run_1 | mise run ops:retry-from-step 5');
  });

  it('CANCELLED and MAX_RECOVERY_ATTEMPTS_EXCEEDED: resume', () => {
    expect(verdictOf(facts('CANCELLED', PIPELINE)).next.join('\n')).toContain('mise run ops:resume-batch');
    const max = verdictOf(facts('MAX_RECOVERY_ATTEMPTS_EXCEEDED', PIPELINE));
    expect(max.next.join('\n')).toContain('ops:resume-batch');
    expect(max.next.join('\n')).toContain('ops:fork-batch');
  });

  it('PENDING in a durable sleep: wait, saying until when; service down: start it', () => {
    const sleeping = [...PIPELINE, step(4, 'DBOS.sleep', { completedAt: '2026-03-01T12:05:00.000Z', durationMs: 360_000 })];
    const up = verdictOf(facts('PENDING', sleeping));
    expect(up.verdict).toContain('sleeping (durable DBOS.sleep, step 4) until 2026-03-01T12:05:00.000Z (in 5 min)');
    expect(up.next[0]).toContain('wait: it wakes at 2026-03-01T12:05:00.000Z');
    const down = verdictOf(facts('PENDING', sleeping, { health: { up: false, reason: 'ECONNREFUSED 127.0.0.1:3000' } }));
    expect(down.next[0]).toContain('the service is down');
    expect(down.next[0]).toContain('start it');
  });

  it('PENDING on a gone executor says so and that a live worker takes it over; on a live one it does not', () => {
    const goneExecutor = { executorId: 'host:3000', role: 'worker', alive: false, lastSeen: new Date('2026-03-01T11:58:00.000Z'), runsHeld: 3 };
    const v = verdictOf(facts('PENDING', PIPELINE, { executor: goneExecutor }));
    expect(v.next.join('\n')).toContain('its executor host:3000 is gone (last seen 2 min ago): any live worker takes its runs over');
    const text = renderTriage(facts('PENDING', PIPELINE, { executor: goneExecutor })).join('\n');
    expect(text).toContain('liveness      GONE (worker), last seen 2 min ago, 3 run(s) PENDING on it (app.v_ops_executors)');
    const alive = { ...goneExecutor, alive: true };
    expect(verdictOf(facts('PENDING', PIPELINE, { executor: alive })).next.join('\n')).not.toContain('is gone');
    expect(renderTriage(facts('PENDING', PIPELINE, { executor: alive })).join('\n')).toContain(
      'liveness      alive (worker), holds its liveness lock, 3 run(s)',
    );
  });

  it('ENQUEUED and DELAYED: wait (or start now)', () => {
    const enq = verdictOf(facts('ENQUEUED', [], { queue: { name: 'intents', enqueued: 3, enqueuedAhead: 2, pending: 16 } }));
    expect(enq.verdict).toBe('waiting in queue intents (2 enqueued before it, 16 running)');
    expect(enq.next[0]).toContain('wait');
    const delayed = verdictOf(facts('DELAYED', [], { delayUntil: new Date('2026-03-01T13:00:00.000Z') }));
    expect(delayed.verdict).toContain('until 2026-03-01T13:00:00.000Z (in 60 min)');
  });

  it('SUCCESS: nothing to do', () => {
    expect(verdictOf(facts('SUCCESS', [...PIPELINE, step(4, 'ExecuteST')])).next).toEqual(['nothing to do']);
  });

  it('renders every section with headings, the verdict last', () => {
    const text = renderTriage(
      facts('ERROR', [...PIPELINE, step(4, 'ExecuteST', { status: 'failed', error: { name: 'PermanentTaskError', message: 'boom' } })], {
        health: { up: false, reason: 'ECONNREFUSED 127.0.0.1:3000' },
      }),
    ).join('\n');
    for (const heading of ['1. Service health', '2. DBOS status', '3. Steps', '4. Local marks', '5. Control actions', '6. Last error'])
      expect(text).toContain(heading);
    expect(text).toContain('service down (ECONNREFUSED 127.0.0.1:3000)');
    expect(text).toContain('step 4 (ExecuteST): PermanentTaskError: boom');
    expect(text).toMatch(/VERDICT: failed at step 4 \(ExecuteST\): boom\nNEXT ACTION: fix the cause/);
  });
});

describe('health check', () => {
  it('reports a closed port as the service being down, without throwing', async () => {
    const port = await freePort();
    const health = await checkHealth(`http://127.0.0.1:${port}/healthz`);
    expect(health).toEqual({ up: false, reason: `ECONNREFUSED 127.0.0.1:${port}` });
    expect(await checkHealth('http://127.0.0.1:1/healthz')).toEqual({ up: false, reason: 'fetch failed: bad port (127.0.0.1:1)' });
  });

  it('uses OPS_API_URL, else PORT, else the config port', () => {
    expect(healthUrl({ OPS_API_URL: 'http://svc:8080/' }, 3000)).toBe('http://svc:8080/healthz');
    expect(healthUrl({ PORT: '4000' }, 3000)).toBe('http://127.0.0.1:4000/healthz');
    expect(healthUrl({}, 3000)).toBe('http://127.0.0.1:3000/healthz');
  });
});

describe('list table', () => {
  it('aligns the columns', () => {
    const item = {
      workflowID: 'run_abc',
      status: 'ERROR',
      name: 'IntentWorkflow',
      queue: 'intents',
      appVersion: '0.1.0',
      executorId: null,
      createdAt: '2026-03-01T11:59:00.000Z',
      updatedAt: '2026-03-01T11:59:00.000Z',
      recoveryAttempts: 0,
      forkedFrom: null,
    };
    expect(formatTable([item, { ...item, workflowID: 'ops_act_1', status: 'SUCCESS', name: 'OpsActionWorkflow', queue: null, appVersion: null }])).toEqual([
      'workflowID  status   name               queue    createdAt                 appVersion',
      'run_abc     ERROR    IntentWorkflow     intents  2026-03-01T11:59:00.000Z  0.1.0',
      'ops_act_1   SUCCESS  OpsActionWorkflow  -        2026-03-01T11:59:00.000Z  -',
    ]);
  });
});
