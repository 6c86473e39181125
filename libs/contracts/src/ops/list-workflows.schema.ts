import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { PRINTABLE, WORKFLOW_STATUSES, type WorkflowStatusName } from './workflow-status.js';
import { IsInstant } from '../instant.js';
import { PageQuery } from '../page.schema.js';

/** GET /api/ops/wf query. Unknown keys are a 400 (the global pipe forbids them). */
export class ListWorkflowsQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Repeatable: ?status=ERROR&status=CANCELLED', enum: WORKFLOW_STATUSES, isArray: true })
  @IsOptional()
  @Transform(({ value }: { value: unknown }): unknown[] => (Array.isArray(value) ? (value as unknown[]) : [value]))
  @IsArray()
  @ArrayMaxSize(WORKFLOW_STATUSES.length)
  @IsIn(WORKFLOW_STATUSES, { each: true })
  status?: WorkflowStatusName[];

  @ApiPropertyOptional({ description: 'Workflow name, e.g. IntentWorkflow', maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @Matches(PRINTABLE, { message: 'name must be printable text' })
  name?: string;

  @ApiPropertyOptional({ description: 'Queue name, e.g. intents', maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @Matches(PRINTABLE, { message: 'queue must be printable text' })
  queue?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsInstant()
  createdAfter?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsInstant()
  createdBefore?: string;
}

export class WorkflowSummary {
  @ApiProperty() workflowID!: string;
  @ApiProperty({ enum: WORKFLOW_STATUSES }) status!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: String, nullable: true }) queue!: string | null;
  @ApiProperty({ type: String, nullable: true }) appVersion!: string | null;
  @ApiProperty({ type: String, nullable: true }) executorId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty() recoveryAttempts!: number;
  @ApiProperty({ type: String, nullable: true }) forkedFrom!: string | null;
}

export class WorkflowPage {
  @ApiProperty({ type: [WorkflowSummary] }) items!: WorkflowSummary[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
