import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { WorkflowStepView } from '../steps.schema.js';
import { OPS } from './actions.schema.js';
import { WorkflowSummary } from './list-workflows.schema.js';

export class OpsAuditEntry {
  @ApiProperty() actionId!: string;
  @ApiProperty({ enum: OPS }) op!: string;
  @ApiProperty() actor!: string;
  @ApiProperty() reason!: string;
  @ApiProperty({ description: 'The authenticated principal behind the token' }) principal!: string;
  @ApiProperty() targetWorkflowID!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiPropertyOptional() forkedWorkflowID?: string;
  @ApiPropertyOptional() stepN?: number;
}

export class RunSummary {
  @ApiProperty() runId!: string;
  @ApiProperty() intentId!: string;
  @ApiProperty() status!: string;
  @ApiProperty() nextAction!: string;
  @ApiProperty({ type: String, nullable: true }) lastStep!: string | null;
  @ApiProperty({ type: String, nullable: true }) forkedFrom!: string | null;
}

export class WorkflowDetail extends WorkflowSummary {
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) completedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The error message of an ERROR workflow' }) error!: string | null;
  @ApiProperty({ type: RunSummary, nullable: true, description: 'The app.runs projection, for IntentWorkflows' }) run!: RunSummary | null;
  @ApiProperty({ type: [OpsAuditEntry], description: 'Control actions taken on this workflow, oldest first' }) ops!: OpsAuditEntry[];
}

export class WorkflowSteps {
  @ApiProperty() workflowID!: string;
  @ApiProperty({ type: [WorkflowStepView] }) steps!: WorkflowStepView[];
}
