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
