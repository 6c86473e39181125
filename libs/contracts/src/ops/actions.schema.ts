import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { AUDIT_TEXT } from './workflow-status.js';

/** Every control action names who does it and why; both land in the OPS audit row. */
export class OperatorActionRequest {
  @ApiProperty({ description: 'Who is acting (a person or a tool)', minLength: 1, maxLength: 100, example: 'alice' })
  @IsString()
  @Length(1, 100)
  @Matches(AUDIT_TEXT, { message: 'actor must be printable text on one line (no control, format or separator characters)' })
  actor!: string;

  @ApiProperty({ description: 'Why (lands in the audit row)', minLength: 1, maxLength: 500, example: 'stuck behind a bad deploy' })
  @IsString()
  @Length(1, 500)
  @Matches(AUDIT_TEXT, { message: 'reason must be printable text on one line (no control, format or separator characters)' })
  reason!: string;
}

export class CancelWorkflowRequest extends OperatorActionRequest {}

export class ResumeWorkflowRequest extends OperatorActionRequest {}

export class ForkWorkflowRequest extends OperatorActionRequest {
  @ApiProperty({ description: '1-based step to re-execute from (stepN = functionId + 1); steps before it are reused from checkpoints', minimum: 1, example: 4 })
  @IsInt()
  @Min(1)
  @Max(100_000)
  stepN!: number;

  @ApiPropertyOptional({ description: 'Run the fork on this application version (default: the original’s)', maxLength: 64 })
  @IsOptional()
  @IsString()
  @Matches(/^[\w.+-]{1,64}$/, { message: 'appVersion must be 1..64 of [A-Za-z0-9_.+-]' })
  appVersion?: string;
}

export const OPS = ['cancel', 'resume', 'fork'] as const;
export type OpsOp = (typeof OPS)[number];

export class ActionAccepted {
  @ApiProperty({ example: true }) accepted!: true;
  @ApiProperty() workflowID!: string;
  @ApiProperty({ enum: OPS }) op!: OpsOp;
  @ApiProperty({ description: 'The audit action ID (app.artifacts.action_id)' }) actionId!: string;
}

export class ForkAccepted extends ActionAccepted {
  @ApiProperty() forkedWorkflowID!: string;
  @ApiProperty() stepN!: number;
}
