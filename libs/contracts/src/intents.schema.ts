import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsNotEmptyObject,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { IsInstant } from './instant.js';
import { PageQuery } from './page.schema.js';

export const CONNECTOR_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

export class TaskSpec {
  @ApiProperty({ description: 'A registered connector (built in: echo, http, fault)', example: 'echo', pattern: CONNECTOR_NAME.source })
  @IsString()
  @Matches(CONNECTOR_NAME, { message: 'connector must be a connector name such as echo, http or fault' })
  connector!: string;

  @ApiProperty({
    description: "Arguments, checked against the connector's own schema",
    type: 'object',
    additionalProperties: true,
    example: { value: 'hello' },
  })
  @IsDefined()
  @IsObject()
  args!: Record<string, unknown>;
}

export class IntentInputs {
  @ApiProperty({ type: [TaskSpec], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => TaskSpec)
  tasks!: TaskSpec[];

  @ApiPropertyOptional({ description: 'Free-form data for the planner (the one open object of the contract)', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class IntentConstraints {
  @ApiPropertyOptional({ description: 'Durable delay after DecideST, in ms', minimum: 0, maximum: 86_400_000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  delayMs?: number;

  @ApiPropertyOptional({ description: 'Do not execute before this instant (ISO 8601), at most 24 h from now', format: 'date-time' })
  @IsOptional()
  @IsInstant()
  @ValidateBy({
    name: 'notBeforeWithin24h',
    validator: {
      // Like delayMs: a run waits at most a day. An unparsable value is IsInstant's to report.
      validate: (value: unknown) => typeof value !== 'string' || Number.isNaN(Date.parse(value)) || Date.parse(value) - Date.now() <= 86_400_000,
      defaultMessage: () => 'notBefore must be at most 24 h (86400000 ms) from now',
    },
  })
  notBefore?: string;

  @ApiPropertyOptional({ description: 'ExecuteST attempts on transient errors', minimum: 1, maximum: 10, default: 3 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxAttempts?: number;

  @ApiPropertyOptional({ description: 'Per-task timeout in ms', minimum: 1, maximum: 3_600_000, default: 30_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3_600_000)
  taskTimeoutMs?: number;

  @ApiPropertyOptional({ description: 'Plan and decide, but execute nothing' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;
}

export class CreateIntentRequest {
  @ApiProperty({ minLength: 1, maxLength: 2000, example: 'say hello' })
  @IsString()
  @Length(1, 2000)
  goal!: string;

  @ApiProperty({ type: IntentInputs })
  @IsDefined()
  @IsNotEmptyObject()
  @ValidateNested()
  @Type(() => IntentInputs)
  inputs!: IntentInputs;

  @ApiProperty({ type: IntentConstraints, description: 'May be empty: {}' })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => IntentConstraints)
  constraints!: IntentConstraints;

  @ApiPropertyOptional({ description: 'If given, the only connectors its tasks may use', type: [String], example: ['echo'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(CONNECTOR_NAME, { each: true })
  connectors?: string[];
}

export class IntentCreated {
  @ApiProperty({ example: 'it_3f1c…' })
  intentId!: string;
}

export class IntentView {
  @ApiProperty() intentId!: string;
  @ApiProperty() goal!: string;
  @ApiProperty({ type: IntentInputs }) inputs!: IntentInputs;
  @ApiProperty({ type: IntentConstraints }) constraints!: IntentConstraints;
  @ApiPropertyOptional({ type: [String] }) connectors?: string[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class ListIntentsQuery extends PageQuery {}

/** Characters of a goal a list page shows. */
export const GOAL_PREVIEW = 200;

/** What a list page says about an intent: never its payload (read it by GET /api/intents/:id). */
export class IntentSummary {
  @ApiProperty() intentId!: string;
  @ApiProperty({ description: `The goal's first ${GOAL_PREVIEW} characters (… when cut)` }) goal!: string;
  @ApiProperty({ description: 'How many tasks the intent has' }) taskCount!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class IntentPage {
  @ApiProperty({ type: [IntentSummary] }) items!: IntentSummary[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
