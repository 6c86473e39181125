import { describe, expect, it } from '@jest/globals';
import { WORKFLOW_STATUSES } from '#contracts';
import { type BatchOp, decide, type ActionVerdict, failedStep, type ForkParams, lastStepN, retryConflict } from './decisions.js';

/**
 * The dry run's decision for every DBOS status (and one it does not know), every op and the fork
 * guards, against the rules written out here as the README states them (not derived from the code's
 * own lists, so changing a rule breaks this table). That OpsService applies the same decisions, with
 * the same answers and effects, is the state-matrix integration test's job (real DBOS, API and CLI).
 */
const KNOWN_VERSION = '0.1.0';
const STATUSES = [...WORKFLOW_STATUSES, 'SOMETHING_NEW'];
const CANCELLABLE = ['PENDING', 'ENQUEUED', 'DELAYED'];
const RESUMABLE = ['CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', 'ENQUEUED', 'DELAYED'];
const FORKABLE = ['SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'];

function expected(status: string, op: BatchOp, fork?: ForkParams): ActionVerdict['outcome'] | { message: string; hint: string } {
  const id = 'wf_1';
  const hints: Record<string, string> = {
    SUCCESS: 'it already finished; fork it to run it again',
    ERROR: 'fork it at the failed step',
    CANCELLED: 'resume it',
    MAX_RECOVERY_ATTEMPTS_EXCEEDED: 'resume it, or fork it',
    PENDING: 'cancel it first',
    ENQUEUED: 'cancel it first',
    DELAYED: 'cancel it first',
  };
  const hint = hints[status] ?? 'check its status with GET /api/ops/wf/:id';
  if (op === 'cancel')
    return CANCELLABLE.includes(status)
      ? 'accept'
      : { message: `workflow ${id} is ${status}; only PENDING, ENQUEUED, DELAYED workflows can be cancelled`, hint };
  if (op === 'resume')
    return RESUMABLE.includes(status)
      ? 'accept'
      : {
          message: `workflow ${id} is ${status}; only CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED, ENQUEUED, DELAYED workflows can be resumed`,
          hint: status === 'ERROR' ? `resume does not redo failed work: fork it (POST /api/ops/wf/${id}/fork with the failed step's stepN)` : hint,
        };
  if (!FORKABLE.includes(status))
    return {
      message: `workflow ${id} is ${status}; only finished workflows (SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED) can be forked`,
      hint: 'cancel it first, or wait for it to finish',
    };
  if (fork!.stepN > 4) return { message: `stepN ${fork!.stepN} is beyond the last recorded step of ${id} (stepN 4)`, hint: 'fork at a stepN between 1 and 4' };
  if (fork!.appVersion !== undefined && fork!.appVersion !== KNOWN_VERSION)
    return {
      message: `application version ${fork!.appVersion} has never been launched on this system database; the fork would never run`,
      hint: 'deploy that version first, or omit appVersion',
    };
  return 'accept';
}

function predicted(decision: ActionVerdict): ActionVerdict['outcome'] | { message: string; hint: string | undefined } {
  return decision.outcome === 'accept' ? 'accept' : { message: decision.message, hint: decision.hint };
}

describe('dry-run decisions follow the documented state rules', () => {
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
      it(label, () => {
        // Steps 1..4 recorded (functionIds 0..3), as an IntentWorkflow that reached ExecuteST.
        const steps = [1, 2, 3, 4].map((stepN) => ({ stepN }));
        expect(predicted(decide(op, { id: 'wf_1', status, name: 'IntentWorkflow', lastStepN: lastStepN(steps) }, fork, [KNOWN_VERSION]))).toEqual(
          expected(status, op, fork),
        );
      });
    }
  }

  for (const name of ['OpsActionWorkflow', 'OpsTickWorkflow', 'ExecutorSweepWorkflow']) {
    it(`refuses every action on a ${name} (not a run), whatever its status`, () => {
      for (const status of STATUSES) {
        for (const [op, fork] of cases) {
          const outcome = predicted(decide(op, { id: 'wf_1', status, name, lastStepN: 2 }, fork, [KNOWN_VERSION]));
          expect(outcome).toEqual({ message: expect.stringContaining('not a run'), hint: expect.any(String) });
        }
      }
    });
  }
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
