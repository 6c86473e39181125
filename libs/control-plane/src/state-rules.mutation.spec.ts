import { describe, expect, it } from '@jest/globals';
import { decideAction, hintFor } from './state-rules.js';

/**
 * What the accepted decisions say (the ops CLI's --dry-run prints it) and the guards around them:
 * the parts of the state rules the dry-run table (apps/ops-cli/src/decisions.spec.ts) does not read.
 */
const facts = (status: string, lastStepN = 4) => ({ id: 'wf_1', status, name: 'IntentWorkflow', lastStepN });

describe('state rules: accepted actions and guards', () => {
  it('names the action it would take', () => {
    expect(decideAction('cancel', facts('PENDING'))).toEqual({ outcome: 'accept', action: 'cancel' });
    expect(decideAction('resume', facts('CANCELLED'))).toEqual({ outcome: 'accept', action: 'resume' });
    expect(decideAction('resume', facts('MAX_RECOVERY_ATTEMPTS_EXCEEDED'))).toEqual({ outcome: 'accept', action: 'resume' });
    expect(decideAction('resume', facts('ENQUEUED'))).toEqual({ outcome: 'accept', action: 'resume (it stays queued on its queue, in its place)' });
    expect(decideAction('resume', facts('DELAYED'))).toEqual({ outcome: 'accept', action: 'resume (its delay ends: queued now, it starts in turn)' });
    expect(decideAction('fork', facts('SUCCESS'), { stepN: 2 })).toEqual({ outcome: 'accept', action: 'fork at step 2' });
    expect(decideAction('fork', facts('ERROR'), { stepN: 4, appVersion: 'v2' }, ['v1', 'v2'])).toEqual({ outcome: 'accept', action: 'fork at step 4 on v2' });
  });

  it('a conflict carries the status it was decided on', () => {
    expect(decideAction('cancel', facts('SUCCESS'))).toMatchObject({ outcome: 'conflict', status: 'SUCCESS' });
    expect(decideAction('resume', facts('PENDING'))).toMatchObject({ outcome: 'conflict', status: 'PENDING' });
    expect(decideAction('fork', facts('PENDING'), { stepN: 1 })).toMatchObject({ outcome: 'conflict', status: 'PENDING' });
    expect(decideAction('fork', facts('SUCCESS'), { stepN: 5 })).toMatchObject({ outcome: 'conflict', status: 'SUCCESS' });
    expect(decideAction('fork', facts('SUCCESS'), { stepN: 1, appVersion: 'v9' }, ['v1'])).toMatchObject({ outcome: 'conflict', status: 'SUCCESS' });
  });

  it('forks at the last recorded step, not past it; an unknown version with no versions known is refused', () => {
    expect(decideAction('fork', facts('SUCCESS', 3), { stepN: 3 }).outcome).toBe('accept');
    expect(decideAction('fork', facts('SUCCESS', 3), { stepN: 4 }).outcome).toBe('conflict');
    expect(decideAction('fork', facts('SUCCESS'), { stepN: 1, appVersion: 'v1' }).outcome).toBe('conflict');
  });

  it("refuses the service's own workflows with a message naming them and a hint", () => {
    for (const op of ['cancel', 'resume', 'fork'] as const) {
      expect(decideAction(op, { ...facts('PENDING'), name: 'OpsTickWorkflow' }, { stepN: 1 })).toEqual({
        outcome: 'conflict',
        status: 'PENDING',
        message: 'workflow wf_1 is a OpsTickWorkflow workflow, not a run: control actions only target runs (IntentWorkflow and its forks)',
        hint: 'act on the run itself (its ID starts with run_)',
      });
    }
    expect(decideAction('cancel', { ...facts('PENDING'), name: null })).toMatchObject({
      outcome: 'conflict',
      message: 'workflow wf_1 is a unnamed workflow, not a run: control actions only target runs (IntentWorkflow and its forks)',
    });
  });

  it('a fork decision needs its stepN', () => {
    expect(() => decideAction('fork', facts('SUCCESS'))).toThrow('a fork decision needs a stepN');
  });

  it('hints what to do instead, for every status', () => {
    expect(hintFor('SUCCESS')).toBe('it already finished; fork it to run it again');
    expect(hintFor('ERROR')).toBe('fork it at the failed step');
    expect(hintFor('CANCELLED')).toBe('resume it');
    expect(hintFor('MAX_RECOVERY_ATTEMPTS_EXCEEDED')).toBe('resume it, or fork it');
    for (const status of ['PENDING', 'ENQUEUED', 'DELAYED']) expect(hintFor(status)).toBe('cancel it first');
    expect(hintFor('SOMETHING_NEW')).toBe('check its status with GET /api/ops/wf/:id');
  });
});
