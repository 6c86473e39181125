import { CANCELLABLE_STATUSES, RESUMABLE_STATUSES, TERMINAL_STATUSES, type WorkflowStatusName } from '#contracts';

/**
 * What `--dry-run` predicts: OpsService's state rules, mirrored as a pure function so that a dry run
 * touches nothing (no OPS row, no DBOS call). The status lists are the contract's own constants; the
 * messages and hints are OpsService's words. decisions.spec.ts runs the real OpsService for every
 * status and op and fails if this function ever disagrees with it.
 */
export type BatchOp = 'cancel' | 'resume' | 'fork';

export interface WorkflowFacts {
  readonly id: string;
  readonly status: string;
  /** The highest recorded stepN (functionId + 1); 1 when the workflow has recorded no step. */
  readonly lastStepN: number;
}

export interface ForkParams {
  readonly stepN: number;
  readonly appVersion?: string | undefined;
}

export type Decision =
  { readonly outcome: 'accept'; readonly action: string } | { readonly outcome: 'conflict'; readonly message: string; readonly hint: string };

/** The last stepN as OpsService computes it for the fork guard, from the recorded steps. */
export function lastStepN(steps: readonly { readonly stepN: number }[]): number {
  return steps.reduce((max, step) => Math.max(max, step.stepN), 1);
}

/** OpsService's hint for a status-conflict. */
export function hintFor(status: string): string {
  switch (status) {
    case 'SUCCESS':
      return 'it already finished; fork it to run it again';
    case 'ERROR':
      return 'fork it at the failed step';
    case 'CANCELLED':
      return 'resume it';
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      return 'resume it, or fork it';
    case 'PENDING':
    case 'ENQUEUED':
    case 'DELAYED':
      return 'cancel it first';
    default:
      return 'check its status with GET /api/ops/wf/:id';
  }
}

function is(list: readonly WorkflowStatusName[], status: string): boolean {
  return list.includes(status as WorkflowStatusName);
}

/**
 * The outcome OpsService would give `op` on a workflow in this state. For a fork with an appVersion,
 * `knownAppVersions` are the versions launched on the system database (DBOS.listApplicationVersions).
 */
export function decide(op: BatchOp, facts: WorkflowFacts, fork?: ForkParams, knownAppVersions?: readonly string[]): Decision {
  const { id, status } = facts;
  switch (op) {
    case 'cancel':
      if (!is(CANCELLABLE_STATUSES, status)) {
        return {
          outcome: 'conflict',
          message: `workflow ${id} is ${status}; only ${CANCELLABLE_STATUSES.join(', ')} workflows can be cancelled`,
          hint: hintFor(status),
        };
      }
      return { outcome: 'accept', action: 'cancel' };
    case 'resume':
      if (!is(RESUMABLE_STATUSES, status)) {
        return {
          outcome: 'conflict',
          message: `workflow ${id} is ${status}; only ${RESUMABLE_STATUSES.join(', ')} workflows can be resumed`,
          hint: status === 'ERROR' ? `resume does not redo failed work: fork it (POST /api/ops/wf/${id}/fork with the failed step's stepN)` : hintFor(status),
        };
      }
      return { outcome: 'accept', action: status === 'ENQUEUED' || status === 'DELAYED' ? 'resume (start now, bypassing the queue)' : 'resume' };
    case 'fork': {
      if (!fork) throw new Error('a fork decision needs a stepN');
      if (!is(TERMINAL_STATUSES, status)) {
        return {
          outcome: 'conflict',
          message: `workflow ${id} is ${status}; only finished workflows (${TERMINAL_STATUSES.join(', ')}) can be forked`,
          hint: 'cancel it first, or wait for it to finish',
        };
      }
      if (fork.stepN > facts.lastStepN) {
        return {
          outcome: 'conflict',
          message: `stepN ${fork.stepN} is beyond the last recorded step of ${id} (stepN ${facts.lastStepN})`,
          hint: `fork at a stepN between 1 and ${facts.lastStepN}`,
        };
      }
      if (fork.appVersion !== undefined && !(knownAppVersions ?? []).includes(fork.appVersion)) {
        return {
          outcome: 'conflict',
          message: `application version ${fork.appVersion} has never been launched on this system database; the fork would never run`,
          hint: 'deploy that version first, or omit appVersion',
        };
      }
      return { outcome: 'accept', action: `fork at step ${fork.stepN}${fork.appVersion !== undefined ? ` on ${fork.appVersion}` : ''}` };
    }
  }
}

/** The failed step of a workflow: the lowest stepN whose recorded step has an error; undefined if none. */
export function failedStep<S extends { readonly stepN: number; readonly error: unknown }>(steps: readonly S[]): S | undefined {
  let found: S | undefined;
  for (const step of steps) if (step.error && (found === undefined || step.stepN < found.stepN)) found = step;
  return found;
}

/**
 * retry-from-step's own guard, before the fork: N must be the failed step or earlier. Returns the
 * conflict, or undefined when the fork may go ahead (OpsService.fork then applies its own rules).
 */
export function retryConflict(id: string, status: string, stepN: number, failed: { stepN: number; name: string } | undefined): Decision | undefined {
  if (!failed) {
    return {
      outcome: 'conflict',
      message: `workflow ${id} is ${status} and has no failed step; retry-from-step only re-runs failed work`,
      hint: status === 'ERROR' ? 'the workflow failed outside a step: fork it with fork-batch at the step you choose' : hintFor(status),
    };
  }
  if (stepN > failed.stepN) {
    return {
      outcome: 'conflict',
      message: `step ${stepN} is after the failed step of ${id} (step ${failed.stepN}, ${failed.name}); forking there would skip the failure`,
      hint: `retry from step ${failed.stepN} or earlier`,
    };
  }
  return undefined;
}
