import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ValidationFailed, validateContract } from '#common';
import { PermanentTaskError, TransientTaskError, type Connector, type TaskContext } from './connector.js';

const MODES = ['permanent', 'transient', 'until-fixed'] as const;

export class FaultArgs {
  @ApiProperty({ enum: MODES })
  @IsIn(MODES)
  mode!: (typeof MODES)[number];

  @ApiPropertyOptional({ description: 'transient: fail this many attempts, then succeed', minimum: 1, maximum: 100, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  failTimes?: number;

  @ApiPropertyOptional({ description: "until-fixed: fail while app.settings has no row fault.<flag> = 'fixed'" })
  @IsOptional()
  @IsString()
  @Matches(/^[\w.-]{1,100}$/)
  flag?: string;
}

/** Reads an operator setting; the fault connector's only dependency. */
export type SettingReader = (key: string) => Promise<string | undefined>;

/** Injected failures for drills and tests. */
export class FaultConnector implements Connector<FaultArgs> {
  readonly name = 'fault';

  constructor(private readonly readSetting: SettingReader) {}

  parseArgs(args: unknown, path: string): FaultArgs {
    const parsed = validateContract(FaultArgs, args, path);
    if (parsed.mode === 'until-fixed' && parsed.flag === undefined)
      throw new ValidationFailed([{ path: `${path}.flag`, message: 'flag is required in until-fixed mode' }]);
    if (parsed.mode !== 'until-fixed' && parsed.flag !== undefined)
      throw new ValidationFailed([{ path: `${path}.flag`, message: 'flag is only used in until-fixed mode' }]);
    if (parsed.mode !== 'transient' && parsed.failTimes !== undefined)
      throw new ValidationFailed([{ path: `${path}.failTimes`, message: 'failTimes is only used in transient mode' }]);
    return parsed;
  }

  async execute(args: FaultArgs, context: TaskContext): Promise<{ mode: string; attempt: number }> {
    switch (args.mode) {
      case 'permanent':
        throw new PermanentTaskError('fault: permanent failure (injected)');
      case 'transient': {
        const failTimes = args.failTimes ?? 1;
        if (context.attempt <= failTimes) throw new TransientTaskError(`fault: transient failure ${context.attempt} of ${failTimes} (injected)`);
        return { mode: args.mode, attempt: context.attempt };
      }
      case 'until-fixed': {
        const key = `fault.${args.flag ?? ''}`;
        if ((await this.readSetting(key)) !== 'fixed')
          throw new PermanentTaskError(`fault: ${key} is not fixed (insert app.settings ('${key}', 'fixed'), then fork)`);
        return { mode: args.mode, attempt: context.attempt };
      }
    }
  }
}
