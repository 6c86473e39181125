import { DBOS } from '@dbos-inc/dbos-sdk';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Conflict } from '#common';
import { WORKFLOW_STATUSES } from '#contracts';
import { OpsService } from '#control-plane';
import { type BatchOp, decide, type Decision, failedStep, type ForkParams, lastStepN, retryConflict } from './decisions.js';

/**
 * The dry run's decision function against the real OpsService: for every DBOS status (and one it does
 * not know), every op and the fork guards, the prediction must be exactly what OpsService does —
 * accepted (the action workflow is started) or the same Conflict, message and hint.
 */
const KNOWN_VERSION = '0.1.0';
const STATUSES = [...WORKFLOW_STATUSES, 'SOMETHING_NEW'];

function fakeRepository(status: string, lastFunctionId: number | undefined, name = 'IntentWorkflow') {
  const row = {
    workflow_uuid: 'wf_1',
    status,
    name,
    queue_name: 'intents',
    application_version: KNOWN_VERSION,
    executor_id: 'test',
    created_at: '1700000000000',
    updated_at: '1700000000000',
    recovery_attempts: '0',
    forked_from: null,
    completed_at: null,
  };
  return {
    workflow: () => Promise.resolve(row),
    lastFunctionId: () => Promise.resolve(lastFunctionId),
    run: () => Promise.resolve(undefined),
    stepNamesBefore: () => Promise.resolve([]),
    opsHistory: () => Promise.resolve([]),
  };
}

let started = 0;

beforeAll(() => {
  jest.spyOn(DBOS, 'startWorkflow').mockImplementation((() => () => {
    started++;
    return Promise.resolve({ getResult: () => Promise.resolve('wf_1') });
  }) as never);
  jest.spyOn(DBOS, 'listApplicationVersions').mockResolvedValue([{ versionName: KNOWN_VERSION } as never]);
});
afterAll(() => {
  jest.restoreAllMocks();
});

async function realOutcome(
  status: string,
  lastFunctionId: number | undefined,
  op: BatchOp,
  fork?: ForkParams,
  name?: string,
): Promise<Decision['outcome'] | { message: string; hint: string | undefined }> {
  const ops = new OpsService(fakeRepository(status, lastFunctionId, name) as never, { workflow: () => Promise.resolve('x') } as never);
  const who = { principal: 'cli:test', role: 'operator' as const };
  const input = { actor: 'a', reason: 'r' };
  const before = started;
  try {
    if (op === 'cancel') await ops.cancel('wf_1', input, who);
    else if (op === 'resume') await ops.resume('wf_1', input, who);
    else await ops.fork('wf_1', { ...input, ...fork! }, who);
  } catch (error) {
    if (error instanceof Conflict) {
      expect(started).toBe(before); // a conflict changes nothing
      return { message: error.message, hint: error.hint };
    }
    throw error;
  }
  expect(started).toBe(before + 1);
  return 'accept';
}

function predicted(decision: Decision): Decision['outcome'] | { message: string; hint: string | undefined } {
  return decision.outcome === 'accept' ? 'accept' : { message: decision.message, hint: decision.hint };
}

describe('dry-run decisions agree with OpsService', () => {
  const cases: [BatchOp, ForkParams | undefined][] = [
    ['cancel', undefined],
    ['resume', undefined],
    ['fork', { stepN: 1 }],
    ['fork', { stepN: 4 }],
    ['fork', { stepN: 5 }],
    ['fork', { stepN: 4, appVersion: KNOWN_VERSION }],
    ['fork', { stepN: 4, appVersion: 'never-deployed' }],
  ];

  for (const status of STATUSES) {
    for (const [op, fork] of cases) {
      const label = `${status} ${op}${fork ? ` stepN ${fork.stepN}${fork.appVersion ? ` on ${fork.appVersion}` : ''}` : ''}`;
      it(label, async () => {
        // Steps 1..4 recorded (functionIds 0..3), as an IntentWorkflow that reached ExecuteST.
        const real = await realOutcome(status, 3, op, fork);
        const steps = [1, 2, 3, 4].map((stepN) => ({ stepN }));
        expect(predicted(decide(op, { id: 'wf_1', status, name: 'IntentWorkflow', lastStepN: lastStepN(steps) }, fork, [KNOWN_VERSION]))).toEqual(real);
      });
    }
  }

  for (const name of ['OpsActionWorkflow', 'OpsTickWorkflow']) {
    it(`refuses every action on a ${name} (not a run), whatever its status`, async () => {
      for (const status of STATUSES) {
        for (const [op, fork] of cases) {
          const real = await realOutcome(status, 1, op, fork, name);
          expect(real).not.toBe('accept');
          expect(predicted(decide(op, { id: 'wf_1', status, name, lastStepN: 2 }, fork, [KNOWN_VERSION]))).toEqual(real);
        }
      }
    });
  }

  it('a workflow without any recorded step can only be forked at step 1', async () => {
    for (const stepN of [1, 2]) {
      const real = await realOutcome('ERROR', undefined, 'fork', { stepN });
      expect(predicted(decide('fork', { id: 'wf_1', status: 'ERROR', name: 'IntentWorkflow', lastStepN: lastStepN([]) }, { stepN }, []))).toEqual(real);
    }
  });
});

describe('retry-from-step guard', () => {
  const steps = [
    { stepN: 1, name: 'CompileST', error: null },
    { stepN: 2, name: 'ApplyPatchST', error: null },
    { stepN: 3, name: 'DecideST', error: null },
    { stepN: 4, name: 'ExecuteST', error: { name: 'PermanentTaskError', message: 'boom' } },
  ];

  it('the failed step is the lowest stepN with an error', () => {
    expect(failedStep(steps)?.stepN).toBe(4);
    expect(failedStep([...steps, { stepN: 2, name: 'x', error: { name: 'E', message: 'm' } }])?.stepN).toBe(2);
    expect(failedStep(steps.slice(0, 3))).toBeUndefined();
  });

  it('allows the failed step or earlier, refuses later steps and workflows without a failed step', () => {
    expect(retryConflict('wf_1', 'ERROR', 4, failedStep(steps))).toBeUndefined();
    expect(retryConflict('wf_1', 'ERROR', 1, failedStep(steps))).toBeUndefined();
    expect(retryConflict('wf_1', 'ERROR', 5, failedStep(steps))).toMatchObject({ outcome: 'conflict', hint: 'retry from step 4 or earlier' });
    const none = retryConflict('wf_1', 'SUCCESS', 4, failedStep(steps.slice(0, 3)));
    expect(none).toMatchObject({ outcome: 'conflict' });
    expect(none?.outcome === 'conflict' && none.message).toContain('has no failed step');
  });
});
