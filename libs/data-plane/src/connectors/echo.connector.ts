import { ApiProperty } from '@nestjs/swagger';
import { IsDefined } from 'class-validator';
import { validateContract } from '#common';
import type { Connector } from './connector.js';

export class EchoArgs {
  @ApiProperty({ description: 'Any JSON value; returned as the task output' })
  @IsDefined()
  value!: unknown;
}

/** `{value}` → `{value}`: the smallest effect, for walkthroughs and tests. */
export class EchoConnector implements Connector<EchoArgs> {
  readonly name = 'echo';

  parseArgs(args: unknown, path: string): EchoArgs {
    return validateContract(EchoArgs, args, path);
  }

  execute(args: EchoArgs): Promise<{ value: unknown }> {
    return Promise.resolve({ value: args.value });
  }
}
