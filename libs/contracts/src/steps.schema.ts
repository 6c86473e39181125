import type { DBOS } from '@dbos-inc/dbos-sdk';
import { ApiProperty } from '@nestjs/swagger';

export class StepError {
  @ApiProperty() name!: string;
  @ApiProperty() message!: string;
}

/** A recorded DBOS step. stepN is 1-based: stepN = functionId + 1 (what fork's stepN names). */
export class WorkflowStepView {
  @ApiProperty({ description: '1-based: functionId + 1' }) stepN!: number;
  @ApiProperty({ description: "DBOS's 0-based function ID" }) functionId!: number;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['succeeded', 'failed', 'running'] }) status!: 'succeeded' | 'failed' | 'running';
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) startedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) completedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true }) durationMs!: number | null;
  @ApiProperty({ type: StepError, nullable: true }) error!: StepError | null;
  @ApiProperty({ type: String, nullable: true }) childWorkflowID!: string | null;
}

type StepInfo = NonNullable<Awaited<ReturnType<typeof DBOS.listWorkflowSteps>>>[number];

/** One recorded DBOS step as the API shows it: 1-based stepN (= functionId + 1), times and error. */
export function describeStep(step: StepInfo): WorkflowStepView {
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
