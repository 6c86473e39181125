import type { DBOS } from '@dbos-inc/dbos-sdk';

type StepInfo = NonNullable<Awaited<ReturnType<typeof DBOS.listWorkflowSteps>>>[number];

/** One recorded DBOS step as operators read it: 1-based stepN (= functionId + 1), times and error. */
export interface StepDescription {
  stepN: number;
  functionId: number;
  name: string;
  status: 'succeeded' | 'failed' | 'running';
  startedAt: string | null;
  completedAt: string | null;
  durationMs: number | null;
  error: { name: string; message: string } | null;
  childWorkflowID: string | null;
}

export function describeStep(step: StepInfo): StepDescription {
  const started = step.startedAtEpochMs ?? null;
  const completed = step.completedAtEpochMs ?? null;
  return {
    stepN: step.functionID + 1,
    functionId: step.functionID,
    name: step.name,
    status: step.error ? 'failed' : completed !== null ? 'succeeded' : 'running',
    startedAt: started !== null ? new Date(started).toISOString() : null,
    completedAt: completed !== null ? new Date(completed).toISOString() : null,
    durationMs: started !== null && completed !== null ? completed - started : null,
    error: step.error ? { name: step.error.name, message: step.error.message } : null,
    childWorkflowID: step.childWorkflowID,
  };
}
