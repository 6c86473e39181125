import { CANCELLABLE_STATUSES, RESUMABLE_STATUSES, TERMINAL_STATUSES, type WorkflowStatusName } from '#contracts';

/**
 * The control plane's state rules, as one pure function: OpsService applies it before every action
 * (a conflict is a 409 and changes nothing), and the ops CLI's --dry-run prints the same decision
 * without touching anything.
 */
export type ControlOp = 'cancel' | 'resume' | 'fork';

/** The workflow name of a run (DBOS names a fork like its original): the only target of control actions. */
export const RUN_WORKFLOW_NAME = 'IntentWorkflow';

export interface WorkflowFacts {
  readonly id: string;
  readonly status: string;
  /** The DBOS workflow name: only runs (RUN_WORKFLOW_NAME) may be acted on. */
  readonly name: string | null;
  /** The highest recorded stepN (functionId + 1); 1 when the workflow has recorded no step. */
  readonly lastStepN: number;
}

export interface ForkParams {
  readonly stepN: number;
  readonly appVersion?: string | undefined;
}

export type ActionVerdict =
  | { readonly outcome: 'accept'; readonly action: string }
  | { readonly outcome: 'conflict'; readonly message: string; readonly hint: string; readonly status: string };

/** What to do instead, for a status conflict. */
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
 * The outcome of `op` on a workflow in this state. For a fork with an appVersion,
 * `knownAppVersions` are the versions launched on the system database (DBOS.listApplicationVersions).
 */
export function decideAction(op: ControlOp, facts: WorkflowFacts, fork?: ForkParams, knownAppVersions?: readonly string[]): ActionVerdict {
  const { id, status } = facts;
  // The service's own workflows (control actions, the scheduled tick) are not runs: re-running,
  // cancelling or forking them would repeat or undo an audited action or a tick.
  if (facts.name !== RUN_WORKFLOW_NAME) {
    return {
      outcome: 'conflict',
      status,
      message: `workflow ${id} is a ${facts.name ?? 'unnamed'} workflow, not a run: control actions only target runs (${RUN_WORKFLOW_NAME} and its forks)`,
      hint: 'act on the run itself (its ID starts with run_)',
    };
  }
  switch (op) {
    case 'cancel':
      if (!is(CANCELLABLE_STATUSES, status)) {
        return {
          outcome: 'conflict',
          status,
          message: `workflow ${id} is ${status}; only ${CANCELLABLE_STATUSES.join(', ')} workflows can be cancelled`,
          hint: hintFor(status),
        };
      }
      return { outcome: 'accept', action: 'cancel' };
    case 'resume':
      if (!is(RESUMABLE_STATUSES, status)) {
        return {
          outcome: 'conflict',
          status,
          message: `workflow ${id} is ${status}; only ${RESUMABLE_STATUSES.join(', ')} workflows can be resumed`,
          hint: status === 'ERROR' ? `resume does not redo failed work: fork it (POST /api/ops/wf/${id}/fork with the failed step's stepN)` : hintFor(status),
        };
      }
      // DBOS re-enqueues the workflow on its own queue: an ENQUEUED run keeps its place (priority and
      // creation time are unchanged); a DELAYED one skips the rest of its delay and waits its turn.
      return {
        outcome: 'accept',
        action:
          status === 'ENQUEUED'
            ? 'resume (it stays queued on its queue, in its place)'
            : status === 'DELAYED'
              ? 'resume (its delay ends: queued now, it starts in turn)'
              : 'resume',
      };
    case 'fork': {
      if (!fork) throw new Error('a fork decision needs a stepN');
      if (!is(TERMINAL_STATUSES, status)) {
        return {
          outcome: 'conflict',
          status,
          message: `workflow ${id} is ${status}; only finished workflows (${TERMINAL_STATUSES.join(', ')}) can be forked`,
          hint: 'cancel it first, or wait for it to finish',
        };
      }
      if (fork.stepN > facts.lastStepN) {
        return {
          outcome: 'conflict',
          status,
          message: `stepN ${fork.stepN} is beyond the last recorded step of ${id} (stepN ${facts.lastStepN})`,
          hint: `fork at a stepN between 1 and ${facts.lastStepN}`,
        };
      }
      if (fork.appVersion !== undefined && !(knownAppVersions ?? []).includes(fork.appVersion)) {
        return {
          outcome: 'conflict',
          status,
          message: `application version ${fork.appVersion} has never been launched on this system database; the fork would never run`,
          hint: 'deploy that version first, or omit appVersion',
        };
      }
      return { outcome: 'accept', action: `fork at step ${fork.stepN}${fork.appVersion !== undefined ? ` on ${fork.appVersion}` : ''}` };
    }
  }
}
