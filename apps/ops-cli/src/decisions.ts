import { type ControlOp, type ActionVerdict, decideAction, type ForkParams, hintFor, type WorkflowFacts } from '#control-plane';

/**
 * What `--dry-run` predicts, touching nothing (no OPS row, no DBOS call): the control plane's state
 * rules (decideAction, which OpsService itself applies), plus retry-from-step's own guard.
 * decisions.spec.ts runs the real OpsService for every status and op and checks they agree.
 */
export type BatchOp = ControlOp;
export type { ActionVerdict, ForkParams, WorkflowFacts };

/** The dry run's decision is the control plane's own (OpsService applies the same function). */
export const decide = decideAction;

/** The last stepN as OpsService computes it for the fork guard, from the recorded steps. */
export function lastStepN(steps: readonly { readonly stepN: number }[]): number {
  return steps.reduce((max, step) => Math.max(max, step.stepN), 1);
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
export function retryConflict(id: string, status: string, stepN: number, failed: { stepN: number; name: string } | undefined): ActionVerdict | undefined {
  if (!failed) {
    return {
      outcome: 'conflict',
      status,
      message: `workflow ${id} is ${status} and has no failed step; retry-from-step only re-runs failed work`,
      hint: status === 'ERROR' ? 'the workflow failed outside a step: fork it with fork-batch at the step you choose' : hintFor(status),
    };
  }
  if (stepN > failed.stepN) {
    return {
      outcome: 'conflict',
      status,
      message: `step ${stepN} is after the failed step of ${id} (step ${failed.stepN}, ${failed.name}); forking there would skip the failure`,
      hint: `retry from step ${failed.stepN} or earlier`,
    };
  }
  return undefined;
}
