import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { WorkflowStepView } from './steps.schema.js';
import { PageQuery } from './page.schema.js';

export const RUN_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'canceled'] as const;
export const NEXT_ACTIONS = ['NONE', 'WAIT', 'RESUME', 'REPAIR'] as const;

export class StartRunRequest {
  @ApiProperty({ example: 'it_…' })
  @IsString()
  @Matches(/^it_[0-9a-f]{32}$/, { message: 'intentId must be an intent id (it_ followed by 32 hex characters)' })
  intentId!: string;

  @ApiPropertyOptional({ description: 'The same key returns the same run (200) instead of starting another', minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  idempotencyKey?: string;

  @ApiPropertyOptional({ description: 'Queue priority: lower runs first', minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  priority?: number;

  @ApiPropertyOptional({ description: 'Workflow timeout in ms; the run is cancelled when it passes', minimum: 1000, maximum: 604_800_000 })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(604_800_000)
  timeoutMS?: number;

  @ApiPropertyOptional({ description: 'Partition key on the queue', minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  queuePartitionKey?: string;
}

export class RunError {
  @ApiProperty() name!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional() step?: string;
}

export class RunHeader {
  @ApiProperty({ example: 'run_…' }) runId!: string;
  @ApiProperty({ description: 'The DBOS workflow ID; always equal to runId' }) workflowID!: string;
  @ApiProperty() intentId!: string;
  @ApiProperty({ enum: RUN_STATUSES }) status!: (typeof RUN_STATUSES)[number];
  @ApiProperty({ enum: NEXT_ACTIONS }) nextAction!: (typeof NEXT_ACTIONS)[number];
  @ApiProperty({ type: String, nullable: true }) lastStep!: string | null;
  @ApiProperty({ type: RunError, nullable: true }) error!: RunError | null;
  @ApiProperty() queue!: string;
  @ApiProperty({ type: String, nullable: true }) forkedFrom!: string | null;
  @ApiProperty({ type: String, nullable: true }) traceId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class StepMark {
  @ApiProperty() stepId!: string;
  @ApiProperty() attempt!: number;
  @ApiProperty({ enum: ['completed', 'failed', 'reused'] }) phase!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) startedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) finishedAt!: string;
}

export class ArtifactRef {
  @ApiProperty() artifactId!: string;
  @ApiProperty() stepId!: string;
  @ApiProperty() idx!: number;
  @ApiProperty() kind!: string;
  @ApiProperty() mime!: string;
  @ApiProperty() sha256!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ArtifactView extends ArtifactRef {
  @ApiProperty({ description: 'The artifact body', nullable: true }) inline!: unknown;
  @ApiProperty({ type: String, nullable: true }) uri!: string | null;
  @ApiPropertyOptional({
    description:
      'true when the body is too large for this response (inline is null): read the artifact by its own route; one too large for any response (about 1 MB) is never served inline',
  })
  inlineOmitted?: boolean;
}

export class RunView extends RunHeader {
  @ApiProperty({ description: 'The DBOS workflow status (the truth the projection follows)', type: String, nullable: true }) dbosStatus!: string | null;
  @ApiProperty({ type: [StepMark] }) marks!: StepMark[];
  @ApiProperty({ type: [ArtifactRef] }) artifacts!: ArtifactRef[];
}

export class RunSteps {
  @ApiProperty() runId!: string;
  @ApiProperty({ type: [WorkflowStepView] }) steps!: WorkflowStepView[];
}

export class RunArtifacts {
  @ApiProperty() runId!: string;
  @ApiProperty({ type: [ArtifactView] }) artifacts!: ArtifactView[];
}

export class ListRunsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: RUN_STATUSES })
  @IsOptional()
  @IsIn(RUN_STATUSES)
  status?: (typeof RUN_STATUSES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @Matches(/^it_[0-9a-f]{32}$/, { message: 'intentId must be an intent id' })
  intentId?: string;
}

export class RunPage {
  @ApiProperty({ type: [RunHeader] }) items!: RunHeader[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
